/**
 * A five-screen app needs no router package: the path is a signal, links push history, and
 * the api serves index.html for every path that is not a file, so a reload lands on the screen.
 */
import { createSignal } from 'solid-js';

export type Route = 'signin' | 'signup' | 'wardrobe' | 'mirror' | 'results' | 'ops';

const paths: Record<string, Route> = {
  '/signin': 'signin',
  '/signup': 'signup',
  '/wardrobe': 'wardrobe',
  '/mirror': 'mirror',
  '/results': 'results',
  '/ops': 'ops',
};

export function routeOf(pathname: string): Route | undefined {
  return paths[pathname.replace(/\/+$/, '') || '/'];
}

const [path, setPath] = createSignal(typeof window === 'undefined' ? '/' : window.location.pathname);
if (typeof window !== 'undefined') window.addEventListener('popstate', () => setPath(window.location.pathname));

export const currentPath = path;

export function navigate(to: string, { replace = false } = {}): void {
  if (to === window.location.pathname + window.location.search) return;
  if (replace) window.history.replaceState(null, '', to);
  else window.history.pushState(null, '', to);
  setPath(window.location.pathname);
  window.scrollTo(0, 0);
}

/** An anchor's click, handled in-app unless the shopper asked for a new tab or window. */
export function linkClick(event: MouseEvent, to: string): void {
  if (event.defaultPrevented || event.button !== 0 || event.metaKey || event.ctrlKey || event.shiftKey || event.altKey) return;
  event.preventDefault();
  navigate(to);
}

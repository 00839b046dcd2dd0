/** An in-app link: a real anchor (keyboard, middle-click, copy link) that navigates without a reload. */
import type { JSX } from 'solid-js';
import { currentPath, linkClick } from '../router.ts';

export function Link(props: { href: string; class?: string; children: JSX.Element; 'aria-label'?: string }) {
  return (
    <a
      href={props.href}
      class={props.class}
      aria-label={props['aria-label']}
      aria-current={currentPath() === props.href ? 'page' : undefined}
      onClick={(e) => linkClick(e, props.href)}
    >
      {props.children}
    </a>
  );
}

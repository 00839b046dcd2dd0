/**
 * The frame around every signed-in screen: the brand, the navigation (a bottom tab bar on a
 * phone), the live-updates indicator, the account, and a banner when the server cannot be
 * reached. A skip link leads keyboard users past the navigation.
 */
import { createEffect, createSignal, type JSX, onCleanup, Show } from 'solid-js';
import { navigate } from '../router.ts';
import { useApp } from '../stores/context.ts';
import { Icon } from './Icon.tsx';
import { Link } from './Link.tsx';

const connectionText = { live: 'Live', connecting: 'Connecting…', reconnecting: 'Reconnecting…', closed: 'Offline' } as const;

export function Layout(props: { children: JSX.Element }) {
  const { session, jobs } = useApp();
  const [online, setOnline] = createSignal(navigator.onLine);
  const goOnline = () => setOnline(true);
  const goOffline = () => setOnline(false);
  window.addEventListener('online', goOnline);
  window.addEventListener('offline', goOffline);
  onCleanup(() => {
    window.removeEventListener('online', goOnline);
    window.removeEventListener('offline', goOffline);
  });
  const unreachable = () => !online() || !session.reachable();
  // while the server is away, ask it now and then; the first answer clears the banner
  createEffect(() => {
    if (session.reachable()) return;
    const probe = setInterval(() => void session.api.request('GET', '/api/health', { auth: false }).catch(() => {}), 4000);
    onCleanup(() => clearInterval(probe));
  });

  return (
    <div class="shell">
      <a class="skip" href="#main">
        Skip to content
      </a>
      <header class="topbar">
        <Link href="/wardrobe" class="brand" aria-label="Proteus home">
          <span class="brand-mark" aria-hidden="true">
            ◐
          </span>{' '}
          Proteus
        </Link>
        <nav aria-label="Main" class="nav">
          <Link href="/wardrobe">
            <Icon name="wardrobe" />
            Wardrobe
          </Link>
          <Link href="/mirror">
            <Icon name="mirror" />
            Mirror
          </Link>
          <Link href="/results">
            <Icon name="results" />
            Results
          </Link>
          <Show when={session.user()?.role === 'admin'}>
            <Link href="/ops">
              <Icon name="ops" />
              Operators
            </Link>
          </Show>
        </nav>
        <div class="account">
          <span class={`live-dot live-${jobs.connection()}`} title={`Live updates: ${connectionText[jobs.connection()]}`} data-testid="connection">
            <span class="sr-only">Live updates: </span>
            {connectionText[jobs.connection()]}
          </span>
          <span class="account-name">{session.user()?.displayName ?? session.user()?.email}</span>
          <button
            type="button"
            class="button ghost small"
            onClick={async () => {
              await session.signOut();
              navigate('/signin');
            }}
          >
            Sign out
          </button>
        </div>
      </header>
      <Show when={unreachable()}>
        <div class="banner" role="alert" data-testid="unreachable">
          <span>{online() ? "Can't reach Proteus right now." : 'You are offline.'} Your work is safe; we keep retrying.</span>
          <button
            type="button"
            class="button small"
            onClick={() => {
              jobs.reconnect();
              void session.api.request('GET', '/api/health', { auth: false }).catch(() => {});
            }}
          >
            Retry now
          </button>
        </div>
      </Show>
      <main id="main" tabIndex={-1}>
        {props.children}
      </main>
    </div>
  );
}

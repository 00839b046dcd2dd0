/**
 * The signed-in shopper: tokens kept in localStorage (so a reload stays signed in), the api
 * client that uses and refreshes them, and whether the server answers at all (any request that
 * gets no answer flips `reachable` until one does).
 */
import { createSignal } from 'solid-js';
import { type ApiClient, createApiClient, type Fetch, type TokenStore } from '../api/client.ts';
import { ApiError } from '../api/problem.ts';
import type { SignedIn, Tokens, User } from '../api/types.ts';

const STORAGE_KEY = 'proteus.session';

interface Saved extends Tokens {
  user: User;
}

function load(storage: Storage | undefined): Saved | undefined {
  try {
    const raw = storage?.getItem(STORAGE_KEY);
    if (!raw) return undefined;
    const saved = JSON.parse(raw) as Saved;
    return typeof saved.accessToken === 'string' && typeof saved.refreshToken === 'string' && saved.user ? saved : undefined;
  } catch {
    return undefined;
  }
}

export interface Session {
  api: ApiClient;
  user: () => User | undefined;
  reachable: () => boolean;
  signUp(email: string, password: string, displayName?: string): Promise<void>;
  signIn(email: string, password: string): Promise<void>;
  signOut(): Promise<void>;
  /** a fresh access token now (after the socket was refused); false: signed out */
  renew(): Promise<boolean>;
}

export function createSession({ fetch: baseFetch = globalThis.fetch.bind(globalThis), storage = globalThis.localStorage } = {}): Session {
  const saved = load(storage);
  const [user, setUser] = createSignal<User | undefined>(saved?.user);
  const [reachable, setReachable] = createSignal(true);
  let current: Saved | undefined = saved;

  const persist = (next: Saved | undefined) => {
    current = next;
    setUser(next?.user);
    try {
      if (next) storage?.setItem(STORAGE_KEY, JSON.stringify(next));
      else storage?.removeItem(STORAGE_KEY);
    } catch {
      // private mode: the session lasts as long as the page
    }
  };

  const tokens: TokenStore = {
    get: () => current,
    set: (next) => persist(next && current ? { ...current, ...next } : undefined),
  };

  // every answer proves the server is there; no answer at all means it is not
  const watched: Fetch = async (input, init) => {
    try {
      const response = await baseFetch(input, init);
      setReachable(true);
      return response;
    } catch (error) {
      if (!(error instanceof DOMException && error.name === 'AbortError')) setReachable(false);
      throw error;
    }
  };

  const api = createApiClient({ fetch: watched, tokens, onSignedOut: () => persist(undefined) });

  return {
    api,
    user,
    reachable,
    async signUp(email, password, displayName) {
      const body = { email, password, ...(displayName ? { displayName } : {}) };
      const answer = await api.request<SignedIn>('POST', '/api/auth/signup', { body, auth: false });
      persist({ ...answer });
    },
    async signIn(email, password) {
      const answer = await api.request<SignedIn>('POST', '/api/auth/login', { body: { email, password }, auth: false });
      persist({ ...answer });
    },
    async signOut() {
      const refreshToken = current?.refreshToken;
      persist(undefined);
      if (refreshToken) await api.request('POST', '/api/auth/logout', { body: { refreshToken }, auth: false }).catch(() => {});
    },
    async renew() {
      try {
        // any authenticated request refreshes an expired token on its way
        const me = await api.request<User>('GET', '/api/users/me');
        if (current) persist({ ...current, user: me });
        return current !== undefined;
      } catch (error) {
        if (error instanceof ApiError && error.kind === 'unauthorized') return false;
        throw error;
      }
    },
  };
}

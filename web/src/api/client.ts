/**
 * The api over fetch: bearer tokens, JSON bodies, problem+json turned into ApiError. An expired
 * access token (401) is refreshed once, by one request however many were waiting, and the
 * request repeated; a refused refresh signs the shopper out.
 */
import { ApiError, errorFromNetwork, errorFromResponse } from './problem.ts';
import type { Tokens } from './types.ts';

export type Fetch = (input: string, init?: RequestInit) => Promise<Response>;

export interface TokenStore {
  get(): Tokens | undefined;
  set(tokens: Tokens | undefined): void;
}

export interface RequestOptions {
  body?: unknown;
  query?: Record<string, string | number | undefined>;
  /** send the bearer token (default true) */
  auth?: boolean;
  headers?: Record<string, string>;
  signal?: AbortSignal;
}

export interface ApiClient {
  request<T>(method: string, path: string, options?: RequestOptions): Promise<T>;
  tokens: TokenStore;
}

export function withQuery(path: string, query: RequestOptions['query']): string {
  const params = new URLSearchParams();
  for (const [k, v] of Object.entries(query ?? {})) if (v !== undefined) params.set(k, String(v));
  const s = params.toString();
  return s ? `${path}?${s}` : path;
}

export function createApiClient({ fetch: doFetch, tokens, onSignedOut }: { fetch: Fetch; tokens: TokenStore; onSignedOut?: () => void }): ApiClient {
  let refreshing: Promise<boolean> | undefined;

  async function send(method: string, path: string, options: RequestOptions, token: string | undefined): Promise<Response> {
    const headers: Record<string, string> = { accept: 'application/json, application/problem+json', ...options.headers };
    if (options.body !== undefined) headers['content-type'] = 'application/json';
    if (token) headers.authorization = `Bearer ${token}`;
    try {
      return await doFetch(withQuery(path, options.query), {
        method,
        headers,
        ...(options.body !== undefined ? { body: JSON.stringify(options.body) } : {}),
        ...(options.signal ? { signal: options.signal } : {}),
      });
    } catch (error) {
      throw errorFromNetwork(error);
    }
  }

  /** One refresh for every request that met a 401 meanwhile; false when the session is over. */
  function refresh(): Promise<boolean> {
    refreshing ??= (async () => {
      const current = tokens.get();
      if (!current) return false;
      const response = await send('POST', '/api/auth/refresh', { body: { refreshToken: current.refreshToken }, auth: false }, undefined);
      if (!response.ok) {
        // only a refusal ends the session; a server that is down keeps the tokens for later
        if (response.status === 401 || response.status === 400) {
          tokens.set(undefined);
          onSignedOut?.();
          return false;
        }
        throw errorFromResponse(response.status, response.headers, await response.text());
      }
      tokens.set((await response.json()) as Tokens);
      return true;
    })().finally(() => {
      refreshing = undefined;
    });
    return refreshing;
  }

  async function request<T>(method: string, path: string, options: RequestOptions = {}): Promise<T> {
    const auth = options.auth ?? true;
    let response = await send(method, path, options, auth ? tokens.get()?.accessToken : undefined);
    if (response.status === 401 && auth && tokens.get()) {
      if (await refresh()) response = await send(method, path, options, tokens.get()?.accessToken);
    }
    if (!response.ok) throw errorFromResponse(response.status, response.headers, await response.text());
    if (response.status === 204) return undefined as T;
    const text = await response.text();
    try {
      return (text ? JSON.parse(text) : undefined) as T;
    } catch {
      throw new ApiError('server', 'The server sent an answer we cannot read.', response.status);
    }
  }

  return { request, tokens };
}

import { describe, expect, it } from 'vitest';
import { createApiClient, type Fetch, type TokenStore } from './client.ts';
import { ApiError, errorFromResponse, errorFromStorage } from './problem.ts';
import type { Tokens } from './types.ts';

const problem = (status: number, slug: string, extra: Record<string, unknown> = {}, headers: Record<string, string> = {}) =>
  new Response(JSON.stringify({ type: `https://proteus.dev/problems/${slug}`, title: 'Title', status, ...extra }), {
    status,
    headers: { 'content-type': 'application/problem+json', ...headers },
  });

function memoryTokens(initial?: Tokens): TokenStore & { current?: Tokens } {
  const store: TokenStore & { current?: Tokens } = {
    current: initial,
    get: () => store.current,
    set: (t) => {
      store.current = t;
    },
  };
  return store;
}

describe('error mapping', () => {
  it.each([
    [401, 'invalid-credentials', 'unauthorized'],
    [409, 'email-taken', 'conflict'],
    [413, 'image-too-large', 'too-large'],
    [422, 'not-an-image', 'not-an-image'],
    [422, 'image-truncated', 'not-an-image'],
    [404, 'image-not-found', 'not-found'],
    [400, 'invalid-request', 'invalid'],
    [403, 'forbidden', 'forbidden'],
    [503, 'queue-unavailable', 'server'],
  ])('%i %s is %s', (status, slug, kind) => {
    const error = errorFromResponse(
      status,
      new Headers({ 'content-type': 'application/problem+json' }),
      JSON.stringify({ type: `https://proteus.dev/problems/${slug}`, title: 'T', status }),
    );
    expect(error.kind).toBe(kind);
    expect(error.slug).toBe(slug);
    expect(error.status).toBe(status);
  });

  it('keeps the field errors of an invalid request and words it from title and detail', () => {
    const body = {
      type: 'https://proteus.dev/problems/invalid-request',
      title: 'Invalid request',
      status: 400,
      detail: 'invalid: password',
      errors: [{ path: 'password', message: 'Too small' }, { bogus: 1 }],
    };
    const error = errorFromResponse(400, new Headers({ 'content-type': 'application/problem+json' }), JSON.stringify(body));
    expect(error.message).toBe('Invalid request: invalid: password');
    expect(error.fields).toEqual([{ path: 'password', message: 'Too small' }]);
  });

  it('reads Retry-After (seconds) on a 429 and says it plainly', () => {
    const error = errorFromResponse(
      429,
      new Headers({ 'content-type': 'application/problem+json', 'retry-after': '12' }),
      '{"type":"https://proteus.dev/problems/rate-limited","status":429}',
    );
    expect(error.kind).toBe('rate-limited');
    expect(error.retryAfterS).toBe(12);
    expect(error.message).toMatch(/Too many attempts/);
  });

  it('maps by status when the answer is no problem+json (a proxy’s HTML 502, a broken body)', () => {
    expect(errorFromResponse(502, new Headers({ 'content-type': 'text/html' }), '<h1>Bad gateway</h1>')).toMatchObject({ kind: 'server', slug: '' });
    expect(errorFromResponse(404, new Headers({ 'content-type': 'application/json' }), '{not json')).toMatchObject({
      kind: 'not-found',
      message: 'The server answered 404.',
    });
  });

  it('words object storage’s refusals of a presigned POST', () => {
    expect(errorFromStorage(400, '<Error><Code>EntityTooLarge</Code></Error>', 15 * 1024 * 1024)).toMatchObject({
      kind: 'too-large',
      message: 'The file is larger than 15 MB.',
    });
    expect(errorFromStorage(403, '<Error><Code>AccessDenied</Code></Error>', 1)).toMatchObject({ kind: 'forbidden' });
    expect(errorFromStorage(0, '', 1)).toMatchObject({ kind: 'unreachable' });
    expect(errorFromStorage(500, 'oops', 1)).toMatchObject({ kind: 'server' });
  });
});

describe('api client', () => {
  it('sends JSON with the bearer token and answers the parsed body', async () => {
    const calls: { input: string; init?: RequestInit }[] = [];
    const fetch: Fetch = async (input, init) => {
      calls.push({ input, init });
      return Response.json({ ok: true });
    };
    const api = createApiClient({ fetch, tokens: memoryTokens({ accessToken: 'A', refreshToken: 'R', expiresIn: 900 }) });
    expect(await api.request('POST', '/api/x', { body: { a: 1 }, query: { kind: 'garment', none: undefined } })).toEqual({ ok: true });
    expect(calls[0]?.input).toBe('/api/x?kind=garment');
    const headers = calls[0]?.init?.headers as Record<string, string>;
    expect(headers.authorization).toBe('Bearer A');
    expect(headers['content-type']).toBe('application/json');
    expect(calls[0]?.init?.body).toBe('{"a":1}');
  });

  it('turns a network failure into an unreachable ApiError', async () => {
    const api = createApiClient({
      fetch: async () => {
        throw new TypeError('Failed to fetch');
      },
      tokens: memoryTokens(),
    });
    await expect(api.request('GET', '/api/health', { auth: false })).rejects.toMatchObject({ name: 'ApiError', kind: 'unreachable' });
  });

  it('refreshes an expired token once for many waiting requests, then repeats them', async () => {
    let refreshes = 0;
    const fetch: Fetch = async (input, init) => {
      if (input === '/api/auth/refresh') {
        refreshes++;
        await new Promise((r) => setTimeout(r, 5));
        return Response.json({ accessToken: 'A2', refreshToken: 'R2', expiresIn: 900 });
      }
      const auth = ((init?.headers ?? {}) as Record<string, string>).authorization;
      return auth === 'Bearer A2' ? Response.json({ who: 'me' }) : problem(401, 'unauthorized');
    };
    const tokens = memoryTokens({ accessToken: 'A1', refreshToken: 'R1', expiresIn: 900 });
    const api = createApiClient({ fetch, tokens });
    const answers = await Promise.all([api.request('GET', '/api/a'), api.request('GET', '/api/b'), api.request('GET', '/api/c')]);
    expect(answers).toEqual([{ who: 'me' }, { who: 'me' }, { who: 'me' }]);
    expect(refreshes).toBe(1);
    expect(tokens.current?.refreshToken).toBe('R2');
  });

  it('signs out when the refresh token is refused', async () => {
    let signedOut = 0;
    const fetch: Fetch = async (input) => (input === '/api/auth/refresh' ? problem(401, 'invalid-refresh-token') : problem(401, 'unauthorized'));
    const tokens = memoryTokens({ accessToken: 'A1', refreshToken: 'R1', expiresIn: 900 });
    const api = createApiClient({ fetch, tokens, onSignedOut: () => signedOut++ });
    const error = await api.request('GET', '/api/users/me').catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ApiError);
    expect((error as ApiError).kind).toBe('unauthorized');
    expect(signedOut).toBe(1);
    expect(tokens.current).toBeUndefined();
  });

  it('keeps the session when the refresh meets a server that is down', async () => {
    const fetch: Fetch = async (input) => (input === '/api/auth/refresh' ? new Response('down', { status: 503 }) : problem(401, 'unauthorized'));
    const tokens = memoryTokens({ accessToken: 'A1', refreshToken: 'R1', expiresIn: 900 });
    const api = createApiClient({ fetch, tokens });
    await expect(api.request('GET', '/api/users/me')).rejects.toMatchObject({ kind: 'server' });
    expect(tokens.current?.refreshToken).toBe('R1');
  });

  it('refuses an answer that is not JSON as a server error', async () => {
    const api = createApiClient({ fetch: async () => new Response('<html>', { status: 200 }), tokens: memoryTokens() });
    await expect(api.request('GET', '/api/x', { auth: false })).rejects.toMatchObject({ kind: 'server' });
  });
});

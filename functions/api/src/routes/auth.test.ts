import type { DatabaseHandle } from '@proteus/common/db';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { jsonInit, PASSWORD, signUp } from '../../test/accounts.ts';
import { apiWorld, cleanupStack, expectProblem } from '../../test/deps.ts';
import { createApp } from '../app.ts';
import { sha256Hex } from '../auth/secrets.ts';
import type { AuthSettings } from '../auth/settings.ts';
import type { ApiDeps } from '../env.ts';

type App = ReturnType<typeof createApp>;
/** what @hono/node-server passes as the request's env: the socket tells the peer's address */
const peer = (remoteAddress: string) => ({ incoming: { socket: { remoteAddress } } });

describe.each(['postgres', 'pglite'] as const)('/api/auth on %s', (kind) => {
  const cleanups = cleanupStack();
  let database: DatabaseHandle;
  let deps: ApiDeps;
  let app: App;
  let lines: Record<string, unknown>[];

  let reset: () => Promise<void>;
  beforeAll(async () => {
    ({ database, deps, app, lines, reset } = await apiWorld(kind, cleanups));
  }, 60_000);
  afterAll(() => cleanups.run());
  beforeEach(async () => {
    await reset();
  });

  const withAuth = (auth: Partial<AuthSettings>) => createApp({ ...deps, auth: { ...deps.auth, ...auth } });
  const post = (path: string, body: unknown, target: App = app, env?: object) => target.request(`/api/auth${path}`, jsonInit('POST', body), env);
  const userCount = async () =>
    Number(
      (
        await database.db
          .selectFrom('users')
          .select((eb) => eb.fn.countAll<string | number>().as('n'))
          .executeTakeFirstOrThrow()
      ).n,
    );

  describe('POST /signup', () => {
    it('creates the account (e-mail lower-cased), answers 201 with tokens, stores only hashes', async () => {
      const response = await post('/signup', { email: ' Ann@Example.COM ', password: PASSWORD, displayName: 'Ann' });
      expect(response.status).toBe(201);
      const body = (await response.json()) as {
        user: Record<string, unknown>;
        accessToken: string;
        refreshToken: string;
        expiresIn: number;
        tokenType: string;
      };
      expect(body.user).toMatchObject({ email: 'ann@example.com', role: 'user', displayName: 'Ann' });
      expect(body.user.id).toMatch(/^[0-9a-f-]{36}$/);
      expect(Object.keys(body.user).sort()).toEqual(['createdAt', 'displayName', 'email', 'id', 'role', 'updatedAt']);
      expect(body).toMatchObject({ expiresIn: 900, tokenType: 'Bearer' });
      expect(body.refreshToken).toMatch(/^[A-Za-z0-9_-]{43}$/);
      const row = await database.db.selectFrom('users').selectAll().executeTakeFirstOrThrow();
      expect(row.password_hash).toMatch(/^\$argon2id\$v=19\$m=19456,t=2,p=1\$/);
      const tokens = await database.db.selectFrom('refresh_tokens').selectAll().execute();
      expect(tokens).toHaveLength(1);
      expect(tokens[0]?.token_hash).toBe(sha256Hex(body.refreshToken));
      const me = await app.request('/api/users/me', jsonInit('GET', undefined, body.accessToken));
      expect(me.status).toBe(200);
    });

    it('makes the ADMIN_EMAILS accounts admins, whatever the case', async () => {
      const { user } = await signUp(app, 'Admin@Proteus.Test');
      expect(user.role).toBe('admin');
    });

    it('answers 409 email-taken for an e-mail in use (in any case), writing nothing', async () => {
      await signUp(app, 'bob@example.com');
      await expectProblem(await post('/signup', { email: 'BOB@example.com', password: `${PASSWORD}!` }), 409, 'email-taken');
      expect(await userCount()).toBe(1);
    });

    it.each([
      ['a short password', { email: 'c@example.com', password: 'x'.repeat(11) }, ['password']],
      ['a long password', { email: 'c@example.com', password: 'x'.repeat(129) }, ['password']],
      ['a bad e-mail', { email: 'not-an-email', password: PASSWORD }, ['email']],
      ['wrong types', { email: 42, password: ['x'] }, ['email', 'password']],
      ['missing fields', {}, ['email', 'password']],
      ['a read-only field (role)', { email: 'c@example.com', password: PASSWORD, role: 'admin' }, ['role']],
      ['unknown fields', { email: 'c@example.com', password: PASSWORD, id: 'x', isAdmin: true }, ['id', 'isAdmin']],
      ['a long displayName', { email: 'c@example.com', password: PASSWORD, displayName: 'x'.repeat(101) }, ['displayName']],
      ['a JSON array', [1, 2], ['(body)']],
    ])('rejects %s: 400 invalid-request naming the fields, nothing written', async (_what, body, fields) => {
      const problem = await expectProblem(await post('/signup', body), 400, 'invalid-request');
      expect(problem.errors?.map((e) => e.path).sort()).toEqual([...fields].sort());
      expect(problem.detail).toContain(fields[0]);
      expect(await userCount()).toBe(0);
    });

    it('accepts passwords of exactly 12 and 128 characters', async () => {
      expect((await post('/signup', { email: 'a12@example.com', password: 'x'.repeat(12) })).status).toBe(201);
      expect((await post('/signup', { email: 'a128@example.com', password: 'x'.repeat(128) })).status).toBe(201);
    });
  });

  describe('bodies', () => {
    it('answers malformed JSON with 400 invalid-request', async () => {
      const problem = await expectProblem(await post('/signup', '{"email": '), 400, 'invalid-request');
      expect(problem.detail).toMatch(/not valid JSON/);
    });

    it('answers a body that is not JSON with 415', async () => {
      const response = await app.request('/api/auth/login', { method: 'POST', headers: { 'content-type': 'text/plain' }, body: 'email=a' });
      await expectProblem(response, 415, 'unsupported-media-type');
    });

    it('answers a body over 64 KiB with 413 (content-length)', async () => {
      const body = JSON.stringify({ email: 'big@example.com', password: PASSWORD, displayName: 'x'.repeat(64 * 1024) });
      const response = await app.request('/api/auth/signup', {
        method: 'POST',
        headers: { 'content-type': 'application/json', 'content-length': String(Buffer.byteLength(body)) },
        body,
      });
      const problem = await expectProblem(response, 413, 'body-too-large');
      expect(problem.detail).toBe('at most 65536 bytes');
      expect(await userCount()).toBe(0);
    });

    it('counts bytes of a streamed body without content-length (multi-byte text)', async () => {
      // 30 Ki euro signs: 90 KiB of UTF-8 in 30 Ki characters
      const text = JSON.stringify({ email: 'big@example.com', password: PASSWORD, displayName: '€'.repeat(30 * 1024) });
      const stream = new ReadableStream({
        start(controller) {
          controller.enqueue(new TextEncoder().encode(text));
          controller.close();
        },
      });
      const response = await app.request('/api/auth/signup', {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: stream,
        duplex: 'half',
      } as RequestInit);
      await expectProblem(response, 413, 'body-too-large');
    });
  });

  describe('POST /login', () => {
    it('answers 200 with tokens for the right password (e-mail in any case)', async () => {
      const { user } = await signUp(app, 'dan@example.com');
      const response = await post('/login', { email: 'DAN@example.com', password: PASSWORD });
      expect(response.status).toBe(200);
      const body = (await response.json()) as { user: { id: string }; accessToken: string; refreshToken: string };
      expect(body.user.id).toBe(user.id);
      expect(typeof body.accessToken).toBe('string');
    });

    it('answers the same 401 for a wrong password and an unknown e-mail', async () => {
      await signUp(app, 'eve@example.com');
      const wrong = await expectProblem(await post('/login', { email: 'eve@example.com', password: `${PASSWORD}x` }), 401, 'invalid-credentials');
      const unknown = await expectProblem(await post('/login', { email: 'nobody@example.com', password: PASSWORD }), 401, 'invalid-credentials');
      expect(unknown).toEqual(wrong);
    });

    it('rejects extra fields', async () => {
      await expectProblem(await post('/login', { email: 'a@example.com', password: PASSWORD, remember: true }), 400, 'invalid-request');
    });
  });

  describe('login rate limits', () => {
    it('per account: the attempt after LOGIN_RATE_LIMIT is 429 with Retry-After, even with the right password', async () => {
      const limited = withAuth({ loginLimit: 3, loginWindowS: 120 });
      await signUp(limited, 'fay@example.com');
      // each attempt from its own IP: only the account counter can trip
      for (let i = 0; i < 3; i++)
        expect((await post('/login', { email: 'fay@example.com', password: 'wrong-password!' }, limited, peer(`198.51.100.${i}`))).status).toBe(401);
      const response = await post('/login', { email: 'fay@example.com', password: PASSWORD }, limited, peer('198.51.100.9'));
      const problem = await expectProblem(response, 429, 'rate-limited');
      const retryAfter = Number(response.headers.get('retry-after'));
      expect(retryAfter).toBeGreaterThan(0);
      expect(retryAfter).toBeLessThanOrEqual(120);
      expect(problem).toMatchObject({ retryAfter });
      // another account is not affected
      await signUp(limited, 'gus@example.com');
      expect((await post('/login', { email: 'gus@example.com', password: PASSWORD }, limited, peer('198.51.100.10'))).status).toBe(200);
    });

    it('per account: a successful login clears the account’s count', async () => {
      const limited = withAuth({ loginLimit: 3 });
      await signUp(limited, 'hal@example.com');
      for (let round = 0; round < 3; round++) {
        for (let i = 0; i < 2; i++)
          expect((await post('/login', { email: 'hal@example.com', password: 'wrong-password!' }, limited, peer(`203.0.113.${round * 10 + i}`))).status).toBe(
            401,
          );
        expect((await post('/login', { email: 'hal@example.com', password: PASSWORD }, limited, peer(`203.0.113.${round * 10 + 5}`))).status).toBe(200);
      }
    });

    it('per client IP: many accounts from one socket address are limited; another address is not', async () => {
      const limited = withAuth({ loginLimit: 3, loginWindowS: 60 });
      for (let i = 0; i < 3; i++)
        expect((await post('/login', { email: `u${i}@example.com`, password: PASSWORD }, limited, peer('192.0.2.7'))).status).toBe(401);
      const response = await post('/login', { email: 'u9@example.com', password: PASSWORD }, limited, peer('192.0.2.7'));
      await expectProblem(response, 429, 'rate-limited');
      expect(Number(response.headers.get('retry-after'))).toBeGreaterThan(0);
      expect((await post('/login', { email: 'u9@example.com', password: PASSWORD }, limited, peer('192.0.2.8'))).status).toBe(401);
    });

    it('ignores X-Forwarded-For from an untrusted peer: a forged header does not reset the count', async () => {
      const limited = withAuth({ loginLimit: 2 });
      const forged = (n: number) => ({
        ...jsonInit('POST', { email: `v${n}@example.com`, password: PASSWORD }),
        headers: { 'content-type': 'application/json', 'x-forwarded-for': `10.9.9.${n}` },
      });
      for (let i = 0; i < 2; i++) expect((await limited.request('/api/auth/login', forged(i), peer('192.0.2.20'))).status).toBe(401);
      expect((await limited.request('/api/auth/login', forged(3), peer('192.0.2.20'))).status).toBe(429);
    });

    it('reads the client from X-Forwarded-For behind the trusted gateway (loopback peer)', async () => {
      const limited = withAuth({ loginLimit: 2 });
      const via = (client: string, n: number) => ({
        headers: { 'content-type': 'application/json', 'x-forwarded-for': client },
        method: 'POST',
        body: JSON.stringify({ email: `w${n}@example.com`, password: PASSWORD }),
      });
      for (let i = 0; i < 2; i++) expect((await limited.request('/api/auth/login', via('198.51.100.1', i), peer('::ffff:127.0.0.1'))).status).toBe(401);
      expect((await limited.request('/api/auth/login', via('198.51.100.1', 5), peer('127.0.0.1'))).status).toBe(429);
      // a different client behind the same gateway has its own count
      expect((await limited.request('/api/auth/login', via('198.51.100.2', 6), peer('127.0.0.1'))).status).toBe(401);
    });
  });

  describe('POST /refresh and /logout', () => {
    it('rotates: a new pair, and the old refresh token is revoked', async () => {
      const first = await signUp(app, 'ida@example.com');
      const response = await post('/refresh', { refreshToken: first.refreshToken });
      expect(response.status).toBe(200);
      const second = (await response.json()) as { accessToken: string; refreshToken: string; expiresIn: number };
      expect(second.refreshToken).not.toBe(first.refreshToken);
      expect(second.expiresIn).toBe(900);
      expect((await app.request('/api/users/me', jsonInit('GET', undefined, second.accessToken))).status).toBe(200);
      const rows = await database.db.selectFrom('refresh_tokens').select(['token_hash', 'revoked_at']).execute();
      expect(rows.find((r) => r.token_hash === sha256Hex(first.refreshToken))?.revoked_at).not.toBeNull();
      expect(rows.find((r) => r.token_hash === sha256Hex(second.refreshToken))?.revoked_at).toBeNull();
    });

    it('detects reuse: a rotated token presented again revokes every refresh token of its user', async () => {
      const first = await signUp(app, 'jon@example.com');
      const other = (await (await post('/login', { email: 'jon@example.com', password: PASSWORD })).json()) as { refreshToken: string };
      const second = (await (await post('/refresh', { refreshToken: first.refreshToken })).json()) as { refreshToken: string };
      await expectProblem(await post('/refresh', { refreshToken: first.refreshToken }), 401, 'invalid-refresh-token');
      await expectProblem(await post('/refresh', { refreshToken: second.refreshToken }), 401, 'invalid-refresh-token');
      await expectProblem(await post('/refresh', { refreshToken: other.refreshToken }), 401, 'invalid-refresh-token');
      expect(lines.some((l) => l.level === 'warn' && String(l.msg).startsWith('refresh token reused'))).toBe(true);
    });

    it('refuses an expired refresh token and an unknown one', async () => {
      const account = await signUp(app, 'kim@example.com');
      await database.db
        .updateTable('refresh_tokens')
        .set({ expires_at: new Date(Date.now() - 1000) } as never)
        .execute();
      await expectProblem(await post('/refresh', { refreshToken: account.refreshToken }), 401, 'invalid-refresh-token');
      await expectProblem(await post('/refresh', { refreshToken: 'A'.repeat(43) }), 401, 'invalid-refresh-token');
    });

    it('refuses an access token as a refresh token', async () => {
      const account = await signUp(app, 'lea@example.com');
      await expectProblem(await post('/refresh', { refreshToken: account.accessToken }), 401, 'invalid-refresh-token');
    });

    it('logout revokes the refresh token (204), and answers 204 for an unknown one too', async () => {
      const account = await signUp(app, 'max@example.com');
      const response = await post('/logout', { refreshToken: account.refreshToken });
      expect(response.status).toBe(204);
      await expectProblem(await post('/refresh', { refreshToken: account.refreshToken }), 401, 'invalid-refresh-token');
      expect((await post('/logout', { refreshToken: 'unknown' })).status).toBe(204);
      await expectProblem(await post('/logout', {}), 400, 'invalid-request');
    });
  });

  it('never writes a password, token or key into a log line', async () => {
    const account = await signUp(app, 'ned@example.com', PASSWORD, { displayName: 'Ned' });
    await post('/login', { email: 'ned@example.com', password: `${PASSWORD}-wrong` });
    const login = (await (await post('/login', { email: 'ned@example.com', password: PASSWORD })).json()) as { accessToken: string; refreshToken: string };
    const rotated = (await (await post('/refresh', { refreshToken: login.refreshToken })).json()) as { refreshToken: string };
    await post('/refresh', { refreshToken: login.refreshToken });
    const created = (await (await app.request('/api/api-keys', jsonInit('POST', { name: 'k' }, account.accessToken))).json()) as { key?: string };
    expect(lines.length).toBeGreaterThan(3);
    const text = JSON.stringify(lines);
    const secrets = [PASSWORD, account.accessToken, account.refreshToken, login.accessToken, login.refreshToken, rotated.refreshToken];
    if (created.key) secrets.push(created.key, created.key.slice(-43));
    for (const secret of secrets) expect(text).not.toContain(secret);
    expect(text).not.toContain('ned@example.com');
  });
});

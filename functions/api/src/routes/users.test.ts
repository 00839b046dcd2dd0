import type { DatabaseHandle } from '@proteus/common/db';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { createKey, jsonInit, PASSWORD, signUp, type TestAccount } from '../../test/accounts.ts';
import { apiWorld, cleanupStack, expectProblem } from '../../test/deps.ts';
import { createApp } from '../app.ts';
import type { ApiDeps } from '../env.ts';

type App = ReturnType<typeof createApp>;
interface User {
  id: string;
  email: string;
  role: string;
  displayName: string | null;
  createdAt: string;
  updatedAt: string;
}

describe.each(['postgres', 'pglite'] as const)('/api/users on %s', (kind) => {
  const cleanups = cleanupStack();
  let database: DatabaseHandle;
  let deps: ApiDeps;
  let app: App;
  let lines: Record<string, unknown>[];
  let ann: TestAccount;

  let reset: () => Promise<void>;
  beforeAll(async () => {
    ({ database, deps, app, lines, reset } = await apiWorld(kind, cleanups));
  }, 60_000);
  afterAll(() => cleanups.run());
  beforeEach(async () => {
    await reset();
    ann = await signUp(app, 'ann@example.com', PASSWORD, { displayName: 'Ann' });
  });

  const patch = (body: unknown, token = ann.accessToken) => app.request('/api/users/me', jsonInit('PATCH', body, token));
  const login = (email: string, password: string) => app.request('/api/auth/login', jsonInit('POST', { email, password }));

  describe('GET /me', () => {
    it('answers the caller’s account, without any secret', async () => {
      const response = await app.request('/api/users/me', jsonInit('GET', undefined, ann.accessToken));
      expect(response.status).toBe(200);
      const me = (await response.json()) as User;
      expect(me).toEqual({ ...ann.user, createdAt: expect.any(String), updatedAt: expect.any(String) });
      expect(JSON.stringify(me)).not.toMatch(/argon2|password/i);
    });
  });

  describe('PATCH /me', () => {
    it('changes displayName (and clears it with null), moving updatedAt', async () => {
      const response = await patch({ displayName: '  Ann B.  ' });
      expect(response.status).toBe(200);
      const changed = (await response.json()) as User;
      expect(changed.displayName).toBe('Ann B.');
      expect(Date.parse(changed.updatedAt)).toBeGreaterThanOrEqual(Date.parse(changed.createdAt));
      expect(((await (await patch({ displayName: null })).json()) as User).displayName).toBeNull();
    });

    it.each([
      ['role', { role: 'admin' }, ['role']],
      ['email', { email: 'mallory@example.com' }, ['email']],
      ['id', { id: 'someone-else', displayName: 'x' }, ['id']],
      ['createdAt and password_hash', { createdAt: '2000-01-01', password_hash: 'x' }, ['createdAt', 'password_hash']],
      ['nothing at all', {}, ['(body)']],
      ['a password without currentPassword', { password: `${PASSWORD}-new` }, ['currentPassword']],
      ['a short new password', { password: 'short', currentPassword: PASSWORD }, ['password']],
      ['a displayName of the wrong type', { displayName: 42 }, ['displayName']],
      ['an empty displayName', { displayName: '   ' }, ['displayName']],
    ])('rejects %s: 400 naming the fields, nothing changed', async (_what, body, fields) => {
      const problem = await expectProblem(await patch(body), 400, 'invalid-request');
      expect(problem.errors?.map((e) => e.path).sort()).toEqual([...fields].sort());
      const row = await database.db.selectFrom('users').select(['role', 'email', 'display_name']).executeTakeFirstOrThrow();
      expect(row).toEqual({ role: 'user', email: 'ann@example.com', display_name: 'Ann' });
    });

    it('rejects malformed JSON (400) and a body over 64 KiB (413)', async () => {
      await expectProblem(await patch('{"displayName":'), 400, 'invalid-request');
      await expectProblem(await patch({ displayName: 'x'.repeat(70_000) }), 413, 'body-too-large');
    });

    it('authenticates before reading the body: an anonymous malformed body is 401', async () => {
      const response = await app.request('/api/users/me', { method: 'PATCH', headers: { 'content-type': 'application/json' }, body: '{' });
      expect(response.status).toBe(401);
    });

    it('changes the password with the current one, and ends every refresh token', async () => {
      const newPassword = `${PASSWORD}-new`;
      const response = await patch({ password: newPassword, currentPassword: PASSWORD });
      expect(response.status).toBe(200);
      expect((await login('ann@example.com', PASSWORD)).status).toBe(401);
      expect((await login('ann@example.com', newPassword)).status).toBe(200);
      await expectProblem(await app.request('/api/auth/refresh', jsonInit('POST', { refreshToken: ann.refreshToken })), 401, 'invalid-refresh-token');
      expect(JSON.stringify(lines)).not.toContain(newPassword);
    });

    it('refuses a wrong currentPassword with 403, and rate-limits the guesses', async () => {
      const limited = createApp({ ...deps, auth: { ...deps.auth, loginLimit: 2 } });
      const attempt = () =>
        limited.request('/api/users/me', jsonInit('PATCH', { password: `${PASSWORD}-new`, currentPassword: 'a wrong guess' }, ann.accessToken));
      await expectProblem(await attempt(), 403, 'invalid-credentials');
      await expectProblem(await attempt(), 403, 'invalid-credentials');
      const response = await attempt();
      await expectProblem(response, 429, 'rate-limited');
      expect(Number(response.headers.get('retry-after'))).toBeGreaterThan(0);
      // the same counter as logins to the account
      expect((await limited.request('/api/auth/login', jsonInit('POST', { email: 'ann@example.com', password: PASSWORD }))).status).toBe(429);
    });
  });

  describe('DELETE /me', () => {
    it('removes the account with its refresh tokens and API keys; nothing of it works afterwards', async () => {
      const key = await createKey(app, ann.accessToken);
      const bob = await signUp(app, 'bob@example.com');
      const response = await app.request('/api/users/me', jsonInit('DELETE', undefined, ann.accessToken));
      expect(response.status).toBe(204);
      expect(await response.text()).toBe('');
      const count = async (table: 'users' | 'refresh_tokens' | 'api_keys') =>
        Number(
          (
            await database.db
              .selectFrom(table)
              .select((eb) => eb.fn.countAll<string | number>().as('n'))
              .executeTakeFirstOrThrow()
          ).n,
        );
      expect(await count('users')).toBe(1);
      expect(await count('refresh_tokens')).toBe(1);
      expect(await count('api_keys')).toBe(0);
      expect((await app.request('/api/users/me', jsonInit('GET', undefined, ann.accessToken))).status).toBe(401);
      expect((await app.request('/api/users/me', jsonInit('DELETE', undefined, ann.accessToken))).status).toBe(401);
      expect((await app.request('/api/auth/refresh', jsonInit('POST', { refreshToken: ann.refreshToken }))).status).toBe(401);
      expect((await login('ann@example.com', PASSWORD)).status).toBe(401);
      expect(key.key).toMatch(/^prk_/);
      expect((await app.request('/api/users/me', jsonInit('GET', undefined, bob.accessToken))).status).toBe(200);
      // the address is free again
      expect((await app.request('/api/auth/signup', jsonInit('POST', { email: 'ann@example.com', password: PASSWORD }))).status).toBe(201);
    });
  });

  describe('GET / (admin listing)', () => {
    let admin: TestAccount;
    beforeEach(async () => {
      admin = await signUp(app, 'admin@proteus.test');
      for (const name of ['carl', 'dora', 'emil', 'finn']) await signUp(app, `${name}@example.com`);
    });
    const list = (query = '') => app.request(`/api/users${query}`, jsonInit('GET', undefined, admin.accessToken));

    it('pages through every account by cursor, ordered by e-mail', async () => {
      const seen: string[] = [];
      let cursor: string | null = null;
      let pages = 0;
      do {
        const response = await list(`?limit=2${cursor ? `&cursor=${cursor}` : ''}`);
        expect(response.status).toBe(200);
        const page = (await response.json()) as { items: User[]; nextCursor: string | null };
        expect(page.items.length).toBeLessThanOrEqual(2);
        seen.push(...page.items.map((u) => u.email));
        cursor = page.nextCursor;
        pages++;
      } while (cursor && pages < 10);
      expect(seen).toEqual(['admin@proteus.test', 'ann@example.com', 'carl@example.com', 'dora@example.com', 'emil@example.com', 'finn@example.com']);
      expect(pages).toBe(3);
    });

    it('defaults to 50 a page with no next cursor, and shows no password hash', async () => {
      const page = (await (await list()).json()) as { items: Record<string, unknown>[]; nextCursor: string | null };
      expect(page.items).toHaveLength(6);
      expect(page.nextCursor).toBeNull();
      expect(JSON.stringify(page)).not.toMatch(/argon2|password/i);
    });

    it.each(['?limit=0', '?limit=101', '?limit=abc', '?cursor=***', '?cursor=', '?role=admin'])('rejects %s with 400', async (query) => {
      await expectProblem(await list(query), 400, 'invalid-request');
    });
  });
});

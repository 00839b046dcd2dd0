import type { DatabaseHandle } from '@proteus/common/db';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { createKey, jsonInit, signUp, type TestAccount } from '../../test/accounts.ts';
import { apiWorld, cleanupStack, PROBLEMS, problemOf } from '../../test/deps.ts';
import type { createApp } from '../app.ts';
import { sha256Hex } from '../auth/secrets.ts';
import { MAX_API_KEYS } from './api-keys.ts';

type App = ReturnType<typeof createApp>;

describe.each(['postgres', 'pglite'] as const)('/api/api-keys on %s', (kind) => {
  const cleanups = cleanupStack();
  let database: DatabaseHandle;
  let app: App;
  let lines: Record<string, unknown>[];
  let ann: TestAccount;
  let bob: TestAccount;

  let reset: () => Promise<void>;
  beforeAll(async () => {
    ({ database, app, lines, reset } = await apiWorld(kind, cleanups));
  }, 60_000);
  afterAll(() => cleanups.run());
  beforeEach(async () => {
    await reset();
    ann = await signUp(app, 'ann@example.com');
    bob = await signUp(app, 'bob@example.com');
  });

  const list = async (token: string) =>
    ((await (await app.request('/api/api-keys', jsonInit('GET', undefined, token))).json()) as { items: Record<string, unknown>[] }).items;

  it('creates a key shown once (201), stored only as the hash of its secret', async () => {
    const response = await app.request('/api/api-keys', jsonInit('POST', { name: ' shop ' }, ann.accessToken));
    expect(response.status).toBe(201);
    const created = (await response.json()) as { id: string; name: string; key: string; createdAt: string; lastUsedAt: null };
    expect(created).toEqual({
      id: expect.stringMatching(/^[0-9a-f-]{36}$/),
      name: 'shop',
      key: expect.any(String),
      createdAt: expect.any(String),
      lastUsedAt: null,
    });
    expect(created.key).toMatch(new RegExp(`^prk_${created.id}_[A-Za-z0-9_-]{43}$`));
    const row = await database.db.selectFrom('api_keys').selectAll().executeTakeFirstOrThrow();
    expect(row.key_hash).toBe(sha256Hex(created.key.slice(-43)));
    expect(JSON.stringify(row)).not.toContain(created.key.slice(-43));
    expect(JSON.stringify(lines)).not.toContain(created.key.slice(-43));
  });

  it('lists only the caller’s live keys, never a key or a hash', async () => {
    const a1 = await createKey(app, ann.accessToken, 'a1');
    await createKey(app, ann.accessToken, 'a2');
    await createKey(app, bob.accessToken, 'b1');
    const items = await list(ann.accessToken);
    expect(items.map((k) => k.name)).toEqual(['a1', 'a2']);
    for (const item of items) expect(Object.keys(item).sort()).toEqual(['createdAt', 'id', 'lastUsedAt', 'name']);
    expect(JSON.stringify(items)).not.toContain(a1.key.slice(-43));
    expect((await app.request(`/api/api-keys/${a1.id}`, jsonInit('DELETE', undefined, ann.accessToken))).status).toBe(204);
    expect((await list(ann.accessToken)).map((k) => k.name)).toEqual(['a2']);
  });

  it('revokes (204); the key then fails, and a second DELETE is 404', async () => {
    const key = await createKey(app, ann.accessToken);
    expect((await app.request(`/api/api-keys/${key.id}`, jsonInit('DELETE', undefined, ann.accessToken))).status).toBe(204);
    const again = await app.request(`/api/api-keys/${key.id}`, jsonInit('DELETE', undefined, ann.accessToken));
    expect(again.status).toBe(404);
    expect((await problemOf(again)).type).toBe(`${PROBLEMS}not-found`);
    const row = await database.db.selectFrom('api_keys').select('revoked_at').executeTakeFirstOrThrow();
    expect(row.revoked_at).toBeInstanceOf(Date);
  });

  it("answers 404 for another user's key, an unknown id and a malformed one, and revokes nothing", async () => {
    const bobs = await createKey(app, bob.accessToken);
    for (const id of [bobs.id, '00000000-0000-4000-8000-000000000000', 'not-an-id', '..%2f..']) {
      const response = await app.request(`/api/api-keys/${id}`, jsonInit('DELETE', undefined, ann.accessToken));
      expect(response.status).toBe(404);
    }
    expect(await list(bob.accessToken)).toHaveLength(1);
  });

  it.each([
    ['no name', {}, ['name']],
    ['an empty name', { name: '  ' }, ['name']],
    ['a long name', { name: 'x'.repeat(101) }, ['name']],
    ['a name of the wrong type', { name: ['x'] }, ['name']],
    ['an owner field', { name: 'x', userId: 'someone' }, ['userId']],
  ])('rejects %s: 400 naming the fields, nothing created', async (_what, body, fields) => {
    const response = await app.request('/api/api-keys', jsonInit('POST', body, ann.accessToken));
    expect(response.status).toBe(400);
    const problem = (await problemOf(response)) as { type: string; errors?: { path: string }[] };
    expect(problem.type).toBe(`${PROBLEMS}invalid-request`);
    expect(problem.errors?.map((e) => e.path)).toEqual(fields);
    expect(await list(ann.accessToken)).toEqual([]);
  });

  it(`allows at most ${MAX_API_KEYS} live keys (409), counting the same on both databases`, async () => {
    await database.db
      .insertInto('api_keys')
      .values(
        Array.from({ length: MAX_API_KEYS }, (_, i) => ({
          id: `00000000-0000-4000-8000-${String(i).padStart(12, '0')}`,
          user_id: ann.user.id,
          name: `k${i}`,
          key_hash: sha256Hex(String(i)),
        })),
      )
      .execute();
    const response = await app.request('/api/api-keys', jsonInit('POST', { name: 'one more' }, ann.accessToken));
    expect(response.status).toBe(409);
    expect((await problemOf(response)).type).toBe(`${PROBLEMS}too-many-api-keys`);
    expect((await app.request('/api/api-keys/00000000-0000-4000-8000-000000000000', jsonInit('DELETE', undefined, ann.accessToken))).status).toBe(204);
    expect((await app.request('/api/api-keys', jsonInit('POST', { name: 'one more' }, ann.accessToken))).status).toBe(201);
  });
});

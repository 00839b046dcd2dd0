import { randomUUID } from 'node:crypto';
import { keys } from '@proteus/eventing';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { jsonInit, signUp, type TestAccount } from '../../test/accounts.ts';
import { type ApiWorld, apiWorld, cleanupStack, expectProblem } from '../../test/deps.ts';
import { storeImage } from '../../test/jobs.ts';

interface Vton {
  id: string;
  garmentKey: string | null;
  clothCleanKey: string | null;
  personKey: string | null;
  maskKey: string | null;
  resultKey: string | null;
  status: string;
  createdAt: string;
  updatedAt: string;
}

describe.each(['postgres', 'pglite'] as const)('/api/vtons on %s', (kind) => {
  const cleanups = cleanupStack();
  let w: ApiWorld;
  let ann: TestAccount;
  let bob: TestAccount;

  beforeAll(async () => {
    w = await apiWorld(kind, cleanups);
  }, 60_000);
  afterAll(() => cleanups.run());
  beforeEach(async () => {
    await w.reset();
    ann = await signUp(w.app, 'ann@example.com');
    bob = await signUp(w.app, 'bob@example.com');
  });

  const call = (method: string, path: string, body?: unknown, token = ann.accessToken) => w.app.request(`/api/vtons${path}`, jsonInit(method, body, token));
  const create = async (body: unknown = {}, token = ann.accessToken): Promise<Vton> => {
    const response = await call('POST', '', body, token);
    expect(response.status, await response.clone().text()).toBe(201);
    return (await response.json()) as Vton;
  };
  const annKey = (kind: keys.ObjectKind = 'garment') => keys.objectKey(ann.user.id, kind, randomUUID(), 'jpg');

  it('creates a draft VTON with the caller’s keys (201) and reads it back', async () => {
    const garmentKey = annKey('garment');
    const personKey = annKey('person');
    const vton = await create({ garmentKey, personKey });
    expect(vton).toEqual({
      id: expect.stringMatching(/^[0-9a-f-]{36}$/),
      garmentKey,
      clothCleanKey: null,
      personKey,
      maskKey: null,
      resultKey: null,
      status: 'draft',
      createdAt: expect.any(String),
      updatedAt: expect.any(String),
    });
    const read = await call('GET', `/${vton.id}`);
    expect(read.status).toBe(200);
    expect(await read.json()).toEqual(vton);
    expect(await create()).toMatchObject({ garmentKey: null, personKey: null, status: 'draft' });
  });

  it('refuses keys of another user (404 image-not-found), malformed keys and read-only fields (400)', async () => {
    const foreign = keys.objectKey(bob.user.id, 'garment', randomUUID(), 'jpg');
    await expectProblem(await call('POST', '', { garmentKey: foreign }), 404, 'image-not-found');
    const dotted = await expectProblem(await call('POST', '', { garmentKey: `users/${ann.user.id}/garment/../x.jpg` }), 400, 'invalid-request');
    expect(dotted.errors?.map((e) => e.path)).toEqual(['garmentKey']);
    const readOnly = await expectProblem(
      await call('POST', '', { status: 'completed', resultKey: annKey('results'), userId: bob.user.id }),
      400,
      'invalid-request',
    );
    expect(readOnly.errors?.map((e) => e.path).sort()).toEqual(['resultKey', 'status', 'userId']);
    await expectProblem(await call('POST', '', { garmentKey: 7 }), 400, 'invalid-request');
    await expectProblem(await call('POST', '', '{"garmentKey":'), 400, 'invalid-request');
    expect(await w.database.db.selectFrom('vtons').selectAll().execute()).toEqual([]);
  });

  it('lists the caller’s VTONs newest first, with a cursor', async () => {
    const made: Vton[] = [];
    for (let i = 0; i < 5; i++) made.push(await create());
    await create({}, bob.accessToken);
    const page = async (q: string) => {
      const response = await call('GET', q);
      expect(response.status, await response.clone().text()).toBe(200);
      return (await response.json()) as { items: Vton[]; nextCursor: string | null };
    };
    const newestFirst = made.map((v) => v.id).reverse();
    expect((await page('')).items.map((v) => v.id)).toEqual(newestFirst);
    const first = await page('?limit=2');
    expect(first.items.map((v) => v.id)).toEqual(newestFirst.slice(0, 2));
    const second = await page(`?limit=2&cursor=${first.nextCursor}`);
    expect(second.items.map((v) => v.id)).toEqual(newestFirst.slice(2, 4));
    const third = await page(`?limit=2&cursor=${second.nextCursor}`);
    expect(third).toEqual({ items: [expect.objectContaining({ id: newestFirst[4] })], nextCursor: null });
    await expectProblem(await call('GET', '?cursor=abc'), 400, 'invalid-request');
    await expectProblem(await call('GET', '?limit=500'), 400, 'invalid-request');
  });

  it('patches the input keys; null clears one; status and results stay read-only', async () => {
    const vton = await create({ garmentKey: annKey() });
    const personKey = annKey('person');
    const maskKey = keys.objectKey(ann.user.id, 'mask', randomUUID(), 'png');
    const patched = await call('PATCH', `/${vton.id}`, { personKey, maskKey, garmentKey: null });
    expect(patched.status).toBe(200);
    expect(await patched.json()).toMatchObject({ id: vton.id, personKey, maskKey, garmentKey: null, status: 'draft' });

    for (const field of ['status', 'resultKey', 'clothCleanKey', 'id', 'userId', 'createdAt']) {
      const problem = await expectProblem(await call('PATCH', `/${vton.id}`, { [field]: 'x' }), 400, 'invalid-request');
      expect(problem.errors?.map((e) => e.path)).toEqual([field]);
    }
    const empty = await expectProblem(await call('PATCH', `/${vton.id}`, {}), 400, 'invalid-request');
    expect(empty.errors?.[0]?.message).toContain('nothing to change');
    const foreign = keys.objectKey(bob.user.id, 'person', randomUUID(), 'jpg');
    await expectProblem(await call('PATCH', `/${vton.id}`, { personKey: foreign }), 404, 'image-not-found');
    expect((await w.database.db.selectFrom('vtons').select('person_key').executeTakeFirstOrThrow()).person_key).toBe(personKey);
  });

  it('another user’s VTON is 404 on read, patch and delete, and is left as it was', async () => {
    const bobs = await create({}, bob.accessToken);
    await expectProblem(await call('GET', `/${bobs.id}`), 404, 'not-found');
    await expectProblem(await call('PATCH', `/${bobs.id}`, { personKey: annKey('person') }), 404, 'not-found');
    await expectProblem(await call('DELETE', `/${bobs.id}`), 404, 'not-found');
    const missing = await expectProblem(await call('GET', `/${randomUUID()}`), 404, 'not-found');
    expect(missing.title).toBe('Not found');
    await expectProblem(await call('GET', '/..%2Fx'), 404, 'not-found');
    expect((await call('GET', '')).status).toBe(200);
    expect(await (await call('GET', `/${bobs.id}`, undefined, bob.accessToken)).json()).toEqual(bobs);
  });

  it('deletes (204) with its jobs; then it is gone', async () => {
    const key = await storeImage(w.storage, ann.user.id, 'garment');
    const job = (await (await w.app.request('/api/upload/cloth', jsonInit('POST', { key }, ann.accessToken))).json()) as { job_id: string; vton_id: string };
    const deleted = await call('DELETE', `/${job.vton_id}`);
    expect(deleted.status).toBe(204);
    await expectProblem(await call('GET', `/${job.vton_id}`), 404, 'not-found');
    await expectProblem(await call('DELETE', `/${job.vton_id}`), 404, 'not-found');
    expect(await w.database.db.selectFrom('jobs').selectAll().execute()).toEqual([]);
    await expectProblem(await w.app.request(`/api/status/${job.job_id}`, jsonInit('GET', undefined, ann.accessToken)), 404, 'not-found');
  });
});

/**
 * Concurrent submissions share statements (../batcher.ts): the rows of each are still its own,
 * and a submission that breaks a constraint fails alone while its batch-mates are written.
 */
import { randomUUID } from 'node:crypto';
import { keys } from '@proteus/eventing';
import { sql } from 'kysely';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { jsonInit, signUp, type TestAccount } from '../../test/accounts.ts';
import { type ApiWorld, apiWorld, cleanupStack } from '../../test/deps.ts';
import { accepted, eventsOf, storeImage } from '../../test/jobs.ts';
import { type JobsWrite, type NewJob, writeJobs } from './submit.ts';

describe.each(['postgres', 'pglite'] as const)('batched job writes on %s', (kind) => {
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

  const snap = (who: TestAccount, body: unknown, headers: Record<string, string> = {}) => {
    const init = jsonInit('POST', body, who.accessToken);
    return w.app.request('/api/snap', { ...init, headers: { ...(init.headers as Record<string, string>), ...headers } });
  };
  /** A person photo and a garment, verified by a first snap, so later snaps run side by side without storage calls. */
  const imagesOf = async (who: TestAccount) => {
    const images = { personKey: await storeImage(w.storage, who.user.id, 'person'), garmentKey: await storeImage(w.storage, who.user.id, 'garment') };
    const first = await accepted(await snap(who, images));
    return { images, vtonId: first.vton_id };
  };

  it('each snap of a burst gets its own try-on on its owner’s VTON, waiting for the mask job of its owner’s photo, and the burst shares statements', async () => {
    const a = await imagesOf(ann);
    const b = await imagesOf(bob);
    const maskOf = async (vtonId: string) =>
      (await w.database.db.selectFrom('jobs').select('id').where('vton_id', '=', vtonId).where('purpose', '=', 'person-mask').executeTakeFirstOrThrow()).id;
    const masks = new Map([
      [a, await maskOf(a.vtonId)],
      [b, await maskOf(b.vtonId)],
    ]);
    const before = new Set((await w.database.db.selectFrom('jobs').select('id').execute()).map((r) => r.id));

    const burst = [...Array.from({ length: 8 }, () => [ann, a] as const), ...Array.from({ length: 8 }, () => [bob, b] as const)];
    const answers = await Promise.all(burst.map(async ([who, mine], seed) => accepted(await snap(who, { ...mine.images, seed }))));

    expect(new Set(answers.map((j) => j.job_id)).size).toBe(16);
    for (const [i, [, mine]] of burst.entries()) expect(answers[i]?.vton_id).toBe(mine.vtonId);
    const rows = await w.database.db
      .selectFrom('jobs')
      .select(['id', 'user_id', 'vton_id', 'kind', 'waiting_for', sql<string>`xmin::text`.as('xid')])
      .execute();
    const fresh = rows.filter((r) => !before.has(r.id));
    expect(fresh).toHaveLength(16);
    for (const [i, [who, mine]] of burst.entries()) {
      const tryon = fresh.find((r) => r.id === answers[i]?.job_id);
      expect(tryon).toMatchObject({ user_id: who.user.id, vton_id: mine.vtonId, kind: 'tryon', waiting_for: masks.get(mine) });
    }
    // rows written by one statement share its transaction id
    expect(new Set(fresh.map((r) => r.xid)).size).toBeLessThan(16);
    // one VTON per shopper still, holding their photo
    const vtons = await w.database.db.selectFrom('vtons').select(['id', 'user_id', 'person_key']).orderBy('user_id').execute();
    expect(vtons).toHaveLength(2);
    expect(vtons.find((v) => v.id === a.vtonId)?.person_key).toBe(keys.verifiedObjectKey(a.images.personKey));
    expect(vtons.find((v) => v.id === b.vtonId)?.person_key).toBe(keys.verifiedObjectKey(b.images.personKey));
    // the first snap's mask request, nothing since
    expect(await eventsOf(w.redis, keys.streams.segment, ann.user.id)).toHaveLength(1);
    expect(await eventsOf(w.redis, keys.streams.segment, bob.user.id)).toHaveLength(1);
  });

  it('a retry racing its original in one burst gets the original’s job; the rest of the burst is written', async () => {
    const a = await imagesOf(ann);
    const b = await imagesOf(bob);
    // a photo of its own, so both ask for its mask (neither finds the other's before writing)
    const retried = { ...a.images, personKey: await storeImage(w.storage, ann.user.id, 'person'), seed: 7 };
    const burst = [
      snap(ann, retried, { 'idempotency-key': 'twice' }),
      ...Array.from({ length: 6 }, (_, seed) => snap(bob, { ...b.images, seed })),
      snap(ann, retried, { 'idempotency-key': 'twice' }),
    ];
    const responses = await Promise.all(burst);
    const answers = await Promise.all(responses.map((r) => accepted(r.clone())));

    const [first, last] = [answers[0], answers.at(-1)];
    expect(last?.job_id).toBe(first?.job_id);
    expect([responses[0], responses.at(-1)].filter((r) => r?.headers.get('idempotent-replayed') === 'true')).toHaveLength(1);
    const keyed = await w.database.db.selectFrom('jobs').select('id').where('idempotency_key', '=', 'twice').execute();
    expect(keyed.map((r) => r.id)).toEqual([first?.job_id]);
    // the loser's queue entry was withdrawn: ann's first snap and the winner queued one mask request each
    expect(await eventsOf(w.redis, keys.streams.segment, ann.user.id)).toHaveLength(2);
    // bob's six were written
    const bobs = await w.database.db.selectFrom('jobs').select('id').where('user_id', '=', bob.user.id).where('kind', '=', 'tryon').execute();
    expect(bobs).toHaveLength(7);
    for (const answer of answers.slice(1, 7)) expect(bobs.map((r) => r.id)).toContain(answer.job_id);
  });

  describe('one statement for many submissions (writeJobs)', () => {
    const at = new Date('2026-11-29T06:00:00.000Z');
    const vton = async (userId: string, fields: Record<string, string | null>) => {
      const id = randomUUID();
      await w.database.db
        .insertInto('vtons')
        .values({ id, user_id: userId, status: 'ready', ...fields })
        .execute();
      return id;
    };
    const tryon = (id = randomUUID()): [NewJob] => [{ id, kind: 'tryon' }];

    it('answers per submission: a new VTON, updates that keep or clear the mask, and a gone VTON, which writes nothing of its own', async () => {
      const samePhoto = await vton(bob.user.id, { person_key: 'p1', mask_key: 'm1', garment_key: 'g1' });
      const newPhoto = await vton(bob.user.id, { person_key: 'p1', mask_key: 'm1', garment_key: 'g2' });
      const annNew = randomUUID();
      const gone = randomUUID();
      const writes: JobsWrite[] = [
        {
          userId: ann.user.id,
          vtonId: undefined,
          targetVton: annNew,
          change: { status: 'segmenting', keys: { garment_key: 'ga', cloth_clean_key: null } },
          jobs: tryon(),
          at,
        },
        {
          userId: bob.user.id,
          vtonId: samePhoto,
          targetVton: samePhoto,
          change: { status: 'queued', keys: { person_key: 'p1', result_key: null }, keepMaskOf: 'p1' },
          jobs: tryon(),
          at,
        },
        {
          userId: bob.user.id,
          vtonId: newPhoto,
          targetVton: newPhoto,
          change: { status: 'queued', keys: { person_key: 'p2', result_key: null }, keepMaskOf: 'p2' },
          jobs: tryon(),
          at,
        },
        { userId: bob.user.id, vtonId: gone, targetVton: gone, change: { status: 'queued', keys: {} }, jobs: tryon(), at },
        // ann's id on bob's VTON: not hers, so not written
        { userId: ann.user.id, vtonId: samePhoto, targetVton: samePhoto, change: { status: 'failed', keys: { person_key: 'x' } }, jobs: tryon(), at },
      ];
      expect(await writeJobs(w.database.db, writes)).toEqual([true, true, true, false, false]);

      const rows = await w.database.db.selectFrom('vtons').selectAll().execute();
      expect(rows.find((r) => r.id === annNew)).toMatchObject({
        user_id: ann.user.id,
        garment_key: 'ga',
        cloth_clean_key: null,
        person_key: null,
        status: 'segmenting',
      });
      expect(rows.find((r) => r.id === samePhoto)).toMatchObject({ person_key: 'p1', mask_key: 'm1', garment_key: 'g1', result_key: null, status: 'queued' });
      expect(rows.find((r) => r.id === newPhoto)).toMatchObject({ person_key: 'p2', mask_key: null, garment_key: 'g2', status: 'queued' });
      expect(rows.find((r) => r.id === annNew)?.updated_at.toISOString()).toBe(at.toISOString());
      const jobs = await w.database.db.selectFrom('jobs').select(['id', 'vton_id', 'user_id', 'status']).execute();
      expect(jobs.map((j) => j.id).sort()).toEqual(
        writes
          .slice(0, 3)
          .map((x) => x.jobs[0].id)
          .sort(),
      );
      expect(jobs.every((j) => j.status === 'queued')).toBe(true);
    });

    it('writes two submissions to one VTON in one statement; the VTON takes one of their changes whole', async () => {
      const shared = await vton(bob.user.id, { person_key: 'p0' });
      const change = (person: string) => ({ status: 'queued' as const, keys: { person_key: person, result_key: null } });
      const writes: JobsWrite[] = [
        { userId: bob.user.id, vtonId: shared, targetVton: shared, change: change('p1'), jobs: tryon(), at },
        { userId: bob.user.id, vtonId: shared, targetVton: shared, change: change('p2'), jobs: tryon(), at },
      ];
      expect(await writeJobs(w.database.db, writes)).toEqual([true, true]);
      expect(await w.database.db.selectFrom('jobs').select('vton_id').execute()).toEqual([{ vton_id: shared }, { vton_id: shared }]);
      const row = await w.database.db.selectFrom('vtons').select(['person_key', 'status']).where('id', '=', shared).executeTakeFirstOrThrow();
      expect(['p1', 'p2']).toContain(row.person_key);
      expect(row.status).toBe('queued');
    });

    it('is atomic: a constraint broken by one submission writes nothing of any (the batcher then retries them one by one)', async () => {
      const existing = await vton(ann.user.id, { person_key: 'p1' });
      const idempotency = { key: 'k', requestHash: 'h' };
      const writes: JobsWrite[] = [
        {
          userId: ann.user.id,
          vtonId: existing,
          targetVton: existing,
          change: { status: 'queued', keys: { person_key: 'p9' } },
          jobs: [{ id: randomUUID(), kind: 'tryon', idempotency }],
          at,
        },
        { userId: bob.user.id, vtonId: undefined, targetVton: randomUUID(), change: { status: 'queued', keys: {} }, jobs: tryon(), at },
        {
          userId: ann.user.id,
          vtonId: undefined,
          targetVton: randomUUID(),
          change: { status: 'queued', keys: {} },
          jobs: [{ id: randomUUID(), kind: 'tryon', idempotency }],
          at,
        },
      ];
      await expect(writeJobs(w.database.db, writes)).rejects.toMatchObject({ code: '23505' });
      expect(await w.database.db.selectFrom('jobs').select('id').execute()).toEqual([]);
      expect(await w.database.db.selectFrom('vtons').select(['id', 'person_key']).execute()).toEqual([{ id: existing, person_key: 'p1' }]);
    });
  });
});

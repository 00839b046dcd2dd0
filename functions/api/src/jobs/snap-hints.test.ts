/**
 * Snap hints (jobs/snap-hints.ts) on the real services: a snap of the same images plans from
 * what the last one's write left, and every way the hint can go stale is caught by the write,
 * which then writes and queues nothing, and the snap takes the look-up path, answering what it
 * would have answered without the hint.
 */
import { createEvent, keys, type ProteusEvent, toBinaryHttp } from '@proteus/eventing';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { jsonInit, signUp, type TestAccount } from '../../test/accounts.ts';
import { type ApiWorld, apiWorld, cleanupStack, expectProblem } from '../../test/deps.ts';
import { fixtures, putObject } from '../../test/images.ts';
import { accepted, eventsOf, landmarks, storeImage } from '../../test/jobs.ts';
import { type SnapHint, SnapHints, snapHintsOf } from './snap-hints.ts';

const verified = keys.verifiedObjectKey;

describe('SnapHints', () => {
  const hint = (id: string): SnapHint => ({ vton: { id, personKey: null, maskKey: null }, photoMask: undefined });

  it('keeps at most `max`, dropping the least recently written', () => {
    const hints = new SnapHints(2);
    hints.set('a', hint('1'));
    hints.set('b', hint('2'));
    hints.set('a', hint('3'));
    hints.set('c', hint('4'));
    expect(hints.size).toBe(2);
    expect(hints.get('b')).toBeUndefined();
    expect(hints.get('a')?.vton.id).toBe('3');
    expect(hints.get('c')?.vton.id).toBe('4');
    hints.delete('a');
    expect(hints.get('a')).toBeUndefined();
  });

  it('keys a user, a garment and a photo apart', () => {
    const keysOf = [SnapHints.key('u1', 'g', 'p'), SnapHints.key('u2', 'g', 'p'), SnapHints.key('u1', 'g2', 'p'), SnapHints.key('u1', 'g', 'p2')];
    expect(new Set(keysOf).size).toBe(4);
  });
});

describe.each(['postgres', 'pglite'] as const)('snap hints on %s', (kind) => {
  const cleanups = cleanupStack();
  let w: ApiWorld;
  let ann: TestAccount;
  let garmentKey: string;
  let personKey: string;

  beforeAll(async () => {
    w = await apiWorld(kind, cleanups);
  }, 60_000);
  afterAll(() => cleanups.run());
  beforeEach(async () => {
    await w.reset();
    ann = await signUp(w.app, 'ann@example.com');
    garmentKey = await storeImage(w.storage, ann.user.id, 'garment');
    personKey = await storeImage(w.storage, ann.user.id, 'person');
  });

  const request = (method: string, path: string, body?: unknown) => w.app.request(path, jsonInit(method, body, ann.accessToken));
  const snapResponse = (body: Record<string, unknown> = {}) =>
    request('POST', '/api/snap', { personKey, garmentKey, landmarks: landmarks(), seed: 11, ...body });
  const snap = async (body: Record<string, unknown> = {}) => accepted(await snapResponse(body));
  const job = (id: string) => w.database.db.selectFrom('jobs').selectAll().where('id', '=', id).executeTakeFirstOrThrow();
  const vtonRow = (id: string) => w.database.db.selectFrom('vtons').selectAll().where('id', '=', id).executeTakeFirstOrThrow();
  const maskRequests = async () => (await eventsOf(w.redis, keys.streams.segment, ann.user.id)).map((e) => (e.data as { jobId: string }).jobId);
  const tryonRequests = async () =>
    ((await eventsOf(w.redis, keys.streams.jobs, ann.user.id)) as ProteusEvent<'dev.proteus.tryon.requested'>[]).map((e) => e.data);
  const hintOf = (photo = personKey, garment = garmentKey) => snapHintsOf(w.database).get(SnapHints.key(ann.user.id, verified(garment), verified(photo)));
  /** The snap-hint counter's values so far, by outcome. */
  async function outcomes(): Promise<Record<string, number>> {
    const text = await (await w.app.request('/metrics')).text();
    const counts: Record<string, number> = { hit: 0, stale: 0, miss: 0 };
    for (const [, outcome, value] of text.matchAll(/^proteus_api_snap_hints_total\{outcome="(\w+)"\} (\d+)$/gm)) counts[outcome as string] = Number(value);
    return counts;
  }
  /** What the snaps of `act` planned from, counted. */
  async function counted(act: () => Promise<unknown>): Promise<Record<string, number>> {
    const before = await outcomes();
    await act();
    const after = await outcomes();
    return Object.fromEntries(Object.keys(after).map((k) => [k, (after[k] ?? 0) - (before[k] ?? 0)]));
  }
  const maskKeyOf = (maskJobId: string) => keys.objectKey(ann.user.id, 'mask', maskJobId, 'png');
  /** The segment function's outcome for the mask job: the PNG stored, then /events told. */
  async function maskMade(maskJobId: string, vtonId: string) {
    await putObject(w.storage, maskKeyOf(maskJobId), await fixtures.png(), 'image/png');
    const event = createEvent('dev.proteus.segment.completed', 'segment', { jobId: maskJobId, userId: ann.user.id, vtonId, resultKey: maskKeyOf(maskJobId) });
    expect((await w.app.request('/events', { method: 'POST', ...toBinaryHttp(event) })).status).toBe(204);
  }

  it('the second snap of the same images plans from what the first one’s write left, and joins the same VTON and mask job', async () => {
    let first!: Awaited<ReturnType<typeof snap>>;
    expect(await counted(async () => (first = await snap()))).toEqual({ hit: 0, stale: 0, miss: 1 });
    const [maskJobId] = await maskRequests();
    expect(hintOf()).toEqual({
      vton: { id: first.vton_id, personKey: verified(personKey), maskKey: null },
      photoMask: { jobId: maskJobId, status: 'queued', resultKey: null },
    });

    let second!: Awaited<ReturnType<typeof snap>>;
    expect(await counted(async () => (second = await snap({ seed: 2 })))).toEqual({ hit: 1, stale: 0, miss: 0 });
    expect(second.vton_id).toBe(first.vton_id);
    expect(await job(second.job_id)).toMatchObject({ kind: 'tryon', status: 'queued', waiting_for: maskJobId });
    expect(await maskRequests()).toEqual([maskJobId]);
    expect(await tryonRequests()).toEqual([]);
  });

  it('snaps of one hint in one batch are all written, each waiting for the same mask job', async () => {
    const first = await snap();
    const [maskJobId] = await maskRequests();
    let answers: Awaited<ReturnType<typeof snap>>[] = [];
    expect(await counted(async () => (answers = await Promise.all([1, 2, 3, 4].map((seed) => snap({ seed })))))).toEqual({ hit: 4, stale: 0, miss: 0 });
    for (const answer of answers) {
      expect(answer.vton_id).toBe(first.vton_id);
      expect(await job(answer.job_id)).toMatchObject({ waiting_for: maskJobId });
    }
    expect(await maskRequests()).toEqual([maskJobId]);
  });

  it('the mask made: the hint is stale (the VTON has a mask now); the snap reuses the mask, and the next one plans from that', async () => {
    const first = await snap();
    const [maskJobId] = await maskRequests();
    await maskMade(maskJobId as string, first.vton_id);
    expect(await tryonRequests()).toHaveLength(1);

    let second!: Awaited<ReturnType<typeof snap>>;
    expect(await counted(async () => (second = await snap({ seed: 2 })))).toEqual({ hit: 0, stale: 1, miss: 0 });
    expect(await job(second.job_id)).toMatchObject({ waiting_for: null });
    expect(hintOf()?.vton).toEqual({ id: first.vton_id, personKey: verified(personKey), maskKey: maskKeyOf(maskJobId as string) });

    let third!: Awaited<ReturnType<typeof snap>>;
    expect(await counted(async () => (third = await snap({ seed: 3 })))).toEqual({ hit: 1, stale: 0, miss: 0 });
    const queued = await tryonRequests();
    expect(queued.map((d) => [d.jobId, d.maskKey])).toEqual([
      [first.job_id, maskKeyOf(maskJobId as string)],
      [second.job_id, maskKeyOf(maskJobId as string)],
      [third.job_id, maskKeyOf(maskJobId as string)],
    ]);
    expect(await maskRequests()).toEqual([maskJobId]);
  });

  it('the mask job failed: the hint joins a job that ended; the snap asks for a new mask instead', async () => {
    const first = await snap();
    const [failedMask] = await maskRequests();
    const failed = createEvent('dev.proteus.segment.failed', 'segment', {
      jobId: failedMask as string,
      userId: ann.user.id,
      vtonId: first.vton_id,
      error: 'no person',
    });
    expect((await w.app.request('/events', { method: 'POST', ...toBinaryHttp(failed) })).status).toBe(204);

    let second!: Awaited<ReturnType<typeof snap>>;
    expect(await counted(async () => (second = await snap({ seed: 2 })))).toEqual({ hit: 0, stale: 1, miss: 0 });
    const masks = await maskRequests();
    expect(masks).toHaveLength(2);
    expect(await job(second.job_id)).toMatchObject({ waiting_for: masks[1] });
    expect(hintOf()?.photoMask).toEqual({ jobId: masks[1], status: 'queued', resultKey: null });
  });

  it('another photo snapped on the VTON since: the hint of the first photo is stale; its mask job is joined again', async () => {
    const first = await snap();
    const [maskOfFirst] = await maskRequests();
    const otherPhoto = await storeImage(w.storage, ann.user.id, 'person');
    const other = await snap({ personKey: otherPhoto });
    expect(other.vton_id).toBe(first.vton_id);
    expect((await vtonRow(first.vton_id)).person_key).toBe(verified(otherPhoto));

    let back!: Awaited<ReturnType<typeof snap>>;
    expect(await counted(async () => (back = await snap({ seed: 3 })))).toEqual({ hit: 0, stale: 1, miss: 0 });
    expect(back.vton_id).toBe(first.vton_id);
    expect(await job(back.job_id)).toMatchObject({ waiting_for: maskOfFirst });
    expect((await vtonRow(first.vton_id)).person_key).toBe(verified(personKey));
    expect(await maskRequests()).toHaveLength(2);
  });

  it('a newer VTON of the garment: the hint’s VTON is no longer the one a snap joins; the snap joins the newer', async () => {
    const first = await snap();
    const created = (await (await request('POST', '/api/vtons', { garmentKey: verified(garmentKey) })).json()) as { id: string };
    expect(created.id).not.toBe(first.vton_id);

    let second!: Awaited<ReturnType<typeof snap>>;
    expect(await counted(async () => (second = await snap({ seed: 2 })))).toEqual({ hit: 0, stale: 1, miss: 0 });
    expect(second.vton_id).toBe(created.id);
    expect((await vtonRow(created.id)).person_key).toBe(verified(personKey));
    // the first VTON is as the first snap left it
    expect(await vtonRow(first.vton_id)).toMatchObject({ person_key: verified(personKey), status: 'queued' });
    expect(hintOf()?.vton.id).toBe(created.id);
  });

  it('the VTON deleted, its mask reused by the hint: the try-on XADDed for the hint is withdrawn, and the snap makes a new VTON and mask', async () => {
    const first = await snap();
    const [maskJobId] = await maskRequests();
    await maskMade(maskJobId as string, first.vton_id);
    await snap({ seed: 2 });
    expect(hintOf()?.vton.maskKey).toBe(maskKeyOf(maskJobId as string));
    const queuedBefore = await tryonRequests();
    expect((await request('DELETE', `/api/vtons/${first.vton_id}`)).status).toBe(204);

    let third!: Awaited<ReturnType<typeof snap>>;
    expect(await counted(async () => (third = await snap({ seed: 3 })))).toEqual({ hit: 0, stale: 1, miss: 0 });
    expect(third.vton_id).not.toBe(first.vton_id);
    // nothing of the hinted attempt is left: only the entries from before; the new try-on waits for a new mask
    expect(await tryonRequests()).toEqual(queuedBefore);
    const masks = await maskRequests();
    expect(masks).toHaveLength(2);
    expect(await job(third.job_id)).toMatchObject({ vton_id: third.vton_id, waiting_for: masks[1] });
    const rows = await w.database.db.selectFrom('jobs').select('id').where('user_id', '=', ann.user.id).execute();
    expect(rows.map((r) => r.id).sort()).toEqual([third.job_id, masks[1]].sort());
  });

  it('the account deleted: its snap is refused as a gone account, the hint’s XADD withdrawn, nothing written', async () => {
    const first = await snap();
    const [maskJobId] = await maskRequests();
    await maskMade(maskJobId as string, first.vton_id);
    await snap({ seed: 2 });
    const queuedBefore = await tryonRequests();
    expect((await request('DELETE', '/api/users/me')).status).toBe(204);

    let response!: Response;
    expect(await counted(async () => (response = await snapResponse({ seed: 3 })))).toEqual({ hit: 0, stale: 1, miss: 0 });
    await expectProblem(response, 401, 'unauthorized');
    expect(await tryonRequests()).toEqual(queuedBefore);
    expect(await w.database.db.selectFrom('jobs').select('id').where('user_id', '=', ann.user.id).execute()).toEqual([]);
    expect(await w.database.db.selectFrom('vtons').select('id').where('user_id', '=', ann.user.id).execute()).toEqual([]);
    expect(hintOf()).toBeUndefined();
  });
});

/**
 * The person mask of a try-on (#6), end to end on the real services: a try-on without a mask
 * asks the segment function for one and waits; the /events sink queues it when the mask is made
 * (with it) or has failed (without it), once. Try-ons of one photo share its mask job, made or
 * still being made.
 */
import { randomUUID } from 'node:crypto';
import { type Database, type DatabaseHandle, openDatabase } from '@proteus/common/db';
import { createEvent, keys, type Producer, type ProteusEvent, toBinaryHttp, toStructuredHttp } from '@proteus/eventing';
import { sql, type Transaction } from 'kysely';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { jsonInit, signUp, type TestAccount } from '../../test/accounts.ts';
import { type ApiWorld, apiWorld, cleanupStack, expectProblem } from '../../test/deps.ts';
import { fixtures, putObject } from '../../test/images.ts';
import { accepted, eventsOf, landmarks, storeImage } from '../../test/jobs.ts';
import { createApp } from '../app.ts';
import { releasedRequest } from '../lifecycle/release.ts';
import { openApiDocument } from '../openapi.ts';
import { planMask } from './person-mask.ts';
import { producerOf } from './queue.ts';
import { writeJobs } from './submit.ts';

const verified = keys.verifiedObjectKey;

describe('planMask', () => {
  const person = 'users/u1/person/p1.jpg';
  const tryon = { kind: 'tryon' as const, personKey: person, garmentKey: 'users/u1/cloth_clean/g1.png' };

  it('waits for a mask unless one is given, the engine is warp, or the VTON has one of the same photo', () => {
    expect(planMask(tryon, undefined)).toEqual({ kind: 'wait' });
    expect(planMask({ ...tryon, engine: 'auto' }, { personKey: null, maskKey: null })).toEqual({ kind: 'wait' });
    expect(planMask({ ...tryon, engine: 'catvton', maskKey: 'users/u1/mask/m0.png' }, undefined)).toEqual({ kind: 'none' });
    expect(planMask({ ...tryon, engine: 'warp' }, undefined)).toEqual({ kind: 'none' });
    expect(planMask({ kind: 'segment', imageKey: person, purpose: 'person-mask' }, undefined)).toEqual({ kind: 'none' });
  });

  it('reuses the VTON mask only for the same photo, named by its upload or its verified key', () => {
    const vton = { personKey: verified(person), maskKey: 'users/u1/mask/m1.png' };
    expect(planMask(tryon, vton)).toEqual({ kind: 'reuse', maskKey: 'users/u1/mask/m1.png' });
    expect(planMask({ ...tryon, personKey: verified(person) }, vton)).toEqual({ kind: 'reuse', maskKey: 'users/u1/mask/m1.png' });
    expect(planMask({ ...tryon, personKey: 'users/u1/person/p2.jpg' }, vton)).toEqual({ kind: 'wait' });
    expect(planMask(tryon, { personKey: verified(person), maskKey: null })).toEqual({ kind: 'wait' });
  });

  it('without a VTON mask of the photo: the photo’s mask if made, its mask job if still queued or running', () => {
    const made = { jobId: 'j1', status: 'completed' as const, resultKey: 'users/u1/mask/j1.png' };
    expect(planMask(tryon, undefined, made)).toEqual({ kind: 'reuse', maskKey: 'users/u1/mask/j1.png' });
    expect(planMask(tryon, undefined, { ...made, status: 'queued', resultKey: null })).toEqual({ kind: 'join', maskJobId: 'j1' });
    expect(planMask(tryon, undefined, { ...made, status: 'running', resultKey: null })).toEqual({ kind: 'join', maskJobId: 'j1' });
    // the VTON's own mask of the photo comes first
    const vton = { personKey: verified(person), maskKey: 'users/u1/mask/m1.png' };
    expect(planMask(tryon, vton, made)).toEqual({ kind: 'reuse', maskKey: 'users/u1/mask/m1.png' });
    // nothing usable: a new mask job
    expect(planMask(tryon, undefined, { ...made, resultKey: null })).toEqual({ kind: 'wait' });
    expect(planMask(tryon, undefined, { ...made, resultKey: 'users/u1/cloth_clean/j1.png' })).toEqual({ kind: 'wait' });
    expect(planMask(tryon, undefined, { ...made, status: 'failed' })).toEqual({ kind: 'wait' });
    expect(planMask({ ...tryon, engine: 'warp' }, undefined, made)).toEqual({ kind: 'none' });
  });
});

describe('releasedRequest', () => {
  const kept = createEvent('dev.proteus.tryon.requested', 'api', {
    jobId: 'j1',
    userId: 'u1',
    vtonId: 'v1',
    personKey: 'users/u1/person/p1_verified.jpg',
    garmentKey: 'users/u1/cloth_clean/g1.png',
    seed: 5,
  });

  it('adds the mask to the kept request, or leaves it as kept', () => {
    expect(releasedRequest(JSON.stringify(kept), 'users/u1/mask/m1.png')).toEqual({ ...kept, data: { ...kept.data, maskKey: 'users/u1/mask/m1.png' } });
    expect(releasedRequest(JSON.stringify(kept), undefined)).toEqual(kept);
  });

  it.each([
    ['not JSON', '{"specversion":', undefined, /not JSON/],
    ['another event type', JSON.stringify({ ...kept, type: 'dev.proteus.segment.requested' }), undefined, /invalid dev\.proteus\.segment\.requested/],
    ['a kept request the contract refuses', JSON.stringify({ ...kept, data: { ...kept.data, seed: -1 } }), undefined, /data\.seed/],
    ['a mask that is no object key', JSON.stringify(kept), '../mask.png', /data\.maskKey/],
    [
      'a valid request of another kind',
      JSON.stringify(
        createEvent('dev.proteus.segment.requested', 'api', {
          jobId: 'j1',
          userId: 'u1',
          vtonId: 'v1',
          imageKey: 'users/u1/person/p1.jpg',
          purpose: 'person-mask',
        }),
      ),
      undefined,
      /a dev\.proteus\.segment\.requested was kept instead/,
    ],
  ])('refuses %s, naming why', (_, pending, mask, why) => {
    expect(() => releasedRequest(pending, mask)).toThrow(why);
  });
});

describe('the OpenAPI document', () => {
  it('says that a try-on may wait for its mask, and what `waiting_for` is', () => {
    const doc = openApiDocument() as {
      paths: Record<string, Record<string, { description?: string }>>;
      components: { schemas: { Job: { properties: Record<string, unknown> } } };
    };
    for (const [path, method] of [
      ['/api/snap', 'post'],
      ['/api/catvton/transferOutfit', 'post'],
      ['/api/cloudevents', 'post'],
      ['/api/status/{job_id}', 'get'],
      ['/api/jobs', 'get'],
    ] as const) {
      expect(doc.paths[path]?.[method]?.description, `${method} ${path}`).toMatch(/waiting_for/);
    }
    expect(doc.components.schemas.Job.properties).toHaveProperty('waiting_for');
  });
});

describe.each(['postgres', 'pglite'] as const)('a try-on waiting for its person mask on %s', (kind) => {
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

  const post = (path: string, body: unknown, headers: Record<string, string> = {}) => {
    const init = jsonInit('POST', body, ann.accessToken);
    return w.app.request(path, { ...init, headers: { ...(init.headers as Record<string, string>), ...headers } });
  };
  const snap = async (body: Record<string, unknown> = {}, headers: Record<string, string> = {}) =>
    accepted(await post('/api/snap', { personKey, garmentKey, landmarks: landmarks(), seed: 11, ...body }, headers));
  const job = (id: string) => w.database.db.selectFrom('jobs').selectAll().where('id', '=', id).executeTakeFirstOrThrow();
  const vton = (id: string) => w.database.db.selectFrom('vtons').selectAll().where('id', '=', id).executeTakeFirstOrThrow();
  const maskRequests = () => eventsOf(w.redis, keys.streams.segment, ann.user.id);
  const tryonRequests = () => eventsOf(w.redis, keys.streams.jobs, ann.user.id) as Promise<ProteusEvent<'dev.proteus.tryon.requested'>[]>;
  /** The mask job a try-on waits for. */
  const maskJobOf = async (tryonId: string) => (await job(tryonId)).waiting_for as string;
  const maskKeyOf = (maskJobId: string) => keys.objectKey(ann.user.id, 'mask', maskJobId, 'png');
  /** What the segment function writes before it tells: the mask PNG. */
  const storeMask = async (maskJobId: string) => putObject(w.storage, maskKeyOf(maskJobId), await fixtures.png(), 'image/png');

  /** The segment function's outcome for a mask job, as it sends it (ids derive from the job id). */
  function maskCompleted(maskJobId: string, vtonId: string, resultKey = maskKeyOf(maskJobId)) {
    return createEvent(
      'dev.proteus.segment.completed',
      'segment',
      { jobId: maskJobId, userId: ann.user.id, vtonId, resultKey },
      { id: `${maskJobId}-completed` },
    );
  }
  function maskFailed(maskJobId: string, vtonId: string) {
    const data = { jobId: maskJobId, userId: ann.user.id, vtonId, error: 'no person found in the photo' };
    return createEvent('dev.proteus.segment.failed', 'segment', data, { id: `${maskJobId}-failed` });
  }
  const deliver = (event: ProteusEvent, app = w.app) => app.request('/events', { method: 'POST', ...toBinaryHttp(event) });
  async function delivered(event: ProteusEvent) {
    const response = await deliver(event);
    expect(response.status, await response.clone().text()).toBe(204);
  }

  it('a snap without a mask queues one person-mask request for the photo and no try-on; both rows exist; the answer is the try-on', async () => {
    const tryon = await snap();
    expect(tryon).toEqual({ job_id: expect.any(String), status: 'queued', kind: 'tryon', vton_id: expect.any(String) });

    const requests = await maskRequests();
    expect(requests).toHaveLength(1);
    const maskJobId = String((requests[0]?.data as { jobId?: string } | undefined)?.jobId);
    expect(requests[0]).toMatchObject({ type: 'dev.proteus.segment.requested', source: '/proteus/api' });
    expect(requests[0]?.data).toEqual({ jobId: maskJobId, userId: ann.user.id, vtonId: tryon.vton_id, imageKey: verified(personKey), purpose: 'person-mask' });
    expect(await w.redis.xlen(keys.streams.jobs)).toBe(0);

    expect(await job(tryon.job_id)).toMatchObject({ kind: 'tryon', status: 'queued', vton_id: tryon.vton_id, waiting_for: maskJobId, image_key: null });
    expect(await job(maskJobId)).toMatchObject({
      kind: 'segment',
      status: 'queued',
      vton_id: tryon.vton_id,
      image_key: verified(personKey),
      waiting_for: null,
      pending_event: null,
    });
    expect(await vton(tryon.vton_id)).toMatchObject({ person_key: verified(personKey), mask_key: null, status: 'queued' });

    // clients see a queued try-on, and what it waits for
    const status = await w.app.request(`/api/status/${tryon.job_id}`, jsonInit('GET', undefined, ann.accessToken));
    expect(await status.json()).toMatchObject({ job_id: tryon.job_id, status: 'queued', kind: 'tryon', waiting_for: maskJobId });
  });

  it('the mask made: the try-on is queued once, with the mask and everything it was asked with; a re-delivery changes nothing', async () => {
    const tryon = await snap({ seed: 12345 });
    const maskJobId = await maskJobOf(tryon.job_id);
    const completed = maskCompleted(maskJobId, tryon.vton_id);
    await delivered(completed);
    const queued = await tryonRequests();
    expect(queued).toHaveLength(1);
    expect(queued[0]).toMatchObject({ type: 'dev.proteus.tryon.requested', source: '/proteus/api' });
    expect(queued[0]?.data).toEqual({
      jobId: tryon.job_id,
      userId: ann.user.id,
      vtonId: tryon.vton_id,
      personKey: verified(personKey),
      garmentKey: verified(garmentKey),
      landmarks: landmarks(),
      seed: 12345,
      maskKey: maskKeyOf(maskJobId),
    });
    const released = await job(tryon.job_id);
    expect(released).toMatchObject({ status: 'queued', waiting_for: null, pending_event: null });
    expect(await job(maskJobId)).toMatchObject({ status: 'completed', result_key: maskKeyOf(maskJobId) });
    // the VTON keeps the mask of its photo; its status is the queued try-on's
    expect(await vton(tryon.vton_id)).toMatchObject({ mask_key: maskKeyOf(maskJobId), status: 'queued' });

    // the same event again, in either mode, and another outcome of the finished job: nothing more
    await delivered(completed);
    expect((await w.app.request('/events', { method: 'POST', ...toStructuredHttp(completed) })).status).toBe(204);
    await delivered(maskFailed(maskJobId, tryon.vton_id));
    expect(await tryonRequests()).toHaveLength(1);
    expect(await job(tryon.job_id)).toEqual(released);
    expect(await job(maskJobId)).toMatchObject({ status: 'completed' });
    const recorded = w.lines.filter((l) => l.msg === 'event recorded').map((l) => [l.duplicate, l.released]);
    expect(recorded).toEqual([
      [false, 1],
      [true, 0],
      [true, 0],
      [false, 0],
    ]);
  });

  it('the mask failed: the try-on is queued once without a mask, and the VTON has not failed', async () => {
    const tryon = await snap();
    const maskJobId = await maskJobOf(tryon.job_id);
    await delivered(maskFailed(maskJobId, tryon.vton_id));
    const queued = await tryonRequests();
    expect(queued.map((e) => e.data.jobId)).toEqual([tryon.job_id]);
    expect(queued[0]?.data).not.toHaveProperty('maskKey');
    expect(queued[0]?.data).toMatchObject({ personKey: verified(personKey), landmarks: landmarks(), seed: 11 });
    expect(await job(maskJobId)).toMatchObject({ status: 'failed', error: 'no person found in the photo' });
    expect(await job(tryon.job_id)).toMatchObject({ status: 'queued', waiting_for: null });
    expect(await vton(tryon.vton_id)).toMatchObject({ status: 'queued', mask_key: null });
    await delivered(maskFailed(maskJobId, tryon.vton_id));
    await delivered(maskCompleted(maskJobId, tryon.vton_id));
    expect(await tryonRequests()).toHaveLength(1);
  });

  it('engine warp, or a mask given: straight to queue:jobs, no mask job', async () => {
    const warp = await accepted(await post('/api/catvton/transferOutfit', { personKey, garmentKey, engine: 'warp', seed: 1 }));
    const maskKey = await storeImage(w.storage, ann.user.id, 'mask', 'png');
    const given = await accepted(await post('/api/catvton/transferOutfit', { personKey, garmentKey, maskKey, engine: 'catvton', seed: 2 }));
    expect((await tryonRequests()).map((e) => [e.data.jobId, e.data.engine, e.data.maskKey])).toEqual([
      [warp.job_id, 'warp', undefined],
      [given.job_id, 'catvton', maskKey],
    ]);
    expect(await maskRequests()).toEqual([]);
    const rows = await w.database.db.selectFrom('jobs').select(['kind', 'waiting_for']).execute();
    expect(rows).toEqual([
      { kind: 'tryon', waiting_for: null },
      { kind: 'tryon', waiting_for: null },
    ]);
  });

  it('a VTON whose mask was made from the same photo lends it; another photo gets a new mask job', async () => {
    const first = await snap();
    const maskJobId = await maskJobOf(first.job_id);
    await storeMask(maskJobId);
    await delivered(maskCompleted(maskJobId, first.vton_id));

    // the same photo again (by its upload or its verified key): the mask is reused, no mask job
    const again = await snap({ seed: 2 });
    const byCopy = await snap({ seed: 3, personKey: verified(personKey) });
    expect([again.vton_id, byCopy.vton_id]).toEqual([first.vton_id, first.vton_id]);
    expect(await maskRequests()).toHaveLength(1);
    const queued = await tryonRequests();
    expect(queued.map((e) => [e.data.jobId, e.data.maskKey])).toEqual([
      [first.job_id, maskKeyOf(maskJobId)],
      [again.job_id, maskKeyOf(maskJobId)],
      [byCopy.job_id, maskKeyOf(maskJobId)],
    ]);

    // another photo: a new mask job; the old mask does not fit it and leaves the VTON
    const otherPhoto = await storeImage(w.storage, ann.user.id, 'person');
    const other = await snap({ personKey: otherPhoto });
    const requests = await maskRequests();
    expect(requests).toHaveLength(2);
    expect(requests[1]?.data).toMatchObject({ jobId: await maskJobOf(other.job_id), imageKey: verified(otherPhoto), purpose: 'person-mask' });
    expect(await tryonRequests()).toHaveLength(3);
    expect(await vton(first.vton_id)).toMatchObject({ person_key: verified(otherPhoto), mask_key: null });

    // back to the first photo: its mask left the VTON, but the mask made from the photo serves again
    const back = await snap({ seed: 4 });
    expect(await maskRequests()).toHaveLength(2);
    expect((await tryonRequests()).map((e) => [e.data.jobId, e.data.maskKey]).at(-1)).toEqual([back.job_id, maskKeyOf(maskJobId)]);
    expect(await vton(first.vton_id)).toMatchObject({ person_key: verified(personKey), mask_key: maskKeyOf(maskJobId) });
  });

  it('the mask of a photo serves try-ons of other garments (other VTONs); a failed one is asked for again', async () => {
    const first = await snap();
    const maskJobId = await maskJobOf(first.job_id);
    await storeMask(maskJobId);
    await delivered(maskCompleted(maskJobId, first.vton_id));
    const otherGarment = await storeImage(w.storage, ann.user.id, 'garment');
    const other = await snap({ garmentKey: otherGarment });
    expect(other.vton_id).not.toBe(first.vton_id);
    expect(await maskRequests()).toHaveLength(1);
    expect((await tryonRequests()).map((e) => [e.data.jobId, e.data.maskKey])).toEqual([
      [first.job_id, maskKeyOf(maskJobId)],
      [other.job_id, maskKeyOf(maskJobId)],
    ]);

    // another photo whose mask failed: the next try-on of it asks again
    const otherPhoto = await storeImage(w.storage, ann.user.id, 'person');
    const failing = await snap({ personKey: otherPhoto });
    const failedMask = await maskJobOf(failing.job_id);
    await delivered(maskFailed(failedMask, failing.vton_id));
    const again = await snap({ personKey: otherPhoto, seed: 5 });
    const newMask = await maskJobOf(again.job_id);
    expect(newMask).not.toBe(failedMask);
    expect((await maskRequests()).map((e) => (e.data as { jobId: string }).jobId)).toEqual([maskJobId, failedMask, newMask]);
  });

  it('a garment cut of the person photo is not its mask', async () => {
    await accepted(await post('/api/segformer/segmentOutfitPic', { imageKey: personKey, purpose: 'garment' }));
    const tryon = await snap();
    const requests = await maskRequests();
    expect(requests.map((e) => (e.data as { purpose: string }).purpose)).toEqual(['garment', 'person-mask']);
    expect(requests[1]?.data).toMatchObject({ jobId: await maskJobOf(tryon.job_id) });
  });

  it('a PATCH of the VTON to another photo drops its mask, so a try-on of that photo gets its own', async () => {
    const first = await snap();
    const maskJobId = await maskJobOf(first.job_id);
    await storeMask(maskJobId);
    await delivered(maskCompleted(maskJobId, first.vton_id));
    const patch = (body: unknown) => w.app.request(`/api/vtons/${first.vton_id}`, jsonInit('PATCH', body, ann.accessToken));
    expect((await patch({ personKey: verified(personKey) })).status).toBe(200);
    expect(await vton(first.vton_id)).toMatchObject({ mask_key: maskKeyOf(maskJobId) });
    const otherPhoto = verified(await storeImage(w.storage, ann.user.id, 'person'));
    expect((await patch({ personKey: otherPhoto })).status).toBe(200);
    expect(await vton(first.vton_id)).toMatchObject({ person_key: otherPhoto, mask_key: null });
    expect((await patch({ personKey: verified(personKey), maskKey: maskKeyOf(maskJobId) })).status).toBe(200);
    expect(await vton(first.vton_id)).toMatchObject({ mask_key: maskKeyOf(maskJobId) });
  });

  it('a warp try-on of another photo drops the VTON mask; of the same photo keeps it', async () => {
    const first = await snap();
    const maskJobId = await maskJobOf(first.job_id);
    await delivered(maskCompleted(maskJobId, first.vton_id));
    await accepted(await post('/api/catvton/transferOutfit', { vtonId: first.vton_id, personKey, garmentKey, engine: 'warp' }));
    expect(await vton(first.vton_id)).toMatchObject({ mask_key: maskKeyOf(maskJobId) });
    const otherPhoto = await storeImage(w.storage, ann.user.id, 'person');
    await accepted(await post('/api/catvton/transferOutfit', { vtonId: first.vton_id, personKey: otherPhoto, garmentKey, engine: 'warp' }));
    expect(await vton(first.vton_id)).toMatchObject({ person_key: verified(otherPhoto), mask_key: null });
  });

  it('a mask made after the VTON moved on to another photo still serves its try-on, but is not the VTON mask', async () => {
    const first = await snap();
    const otherPhoto = await storeImage(w.storage, ann.user.id, 'person');
    const second = await snap({ personKey: otherPhoto });
    const firstMask = await maskJobOf(first.job_id);
    await delivered(maskCompleted(firstMask, first.vton_id));
    expect((await tryonRequests()).map((e) => [e.data.jobId, e.data.maskKey])).toEqual([[first.job_id, maskKeyOf(firstMask)]]);
    expect(await vton(first.vton_id)).toMatchObject({ person_key: verified(otherPhoto), mask_key: null });
    const secondMask = await maskJobOf(second.job_id);
    await delivered(maskCompleted(secondMask, second.vton_id));
    expect(await vton(first.vton_id)).toMatchObject({ person_key: verified(otherPhoto), mask_key: maskKeyOf(secondMask) });
  });

  it('a VTON mask that no longer passes the image check is made again', async () => {
    const first = await snap();
    const maskJobId = await maskJobOf(first.job_id);
    // the mask the sink records was never written: its check fails with image-not-found
    await delivered(maskCompleted(maskJobId, first.vton_id));
    const again = await snap({ seed: 2 });
    expect(await maskRequests()).toHaveLength(2);
    expect(await job(again.job_id)).toMatchObject({ waiting_for: expect.any(String) });
    expect(w.lines.some((l) => l.msg === 'the VTON mask failed its check; a new one is made')).toBe(true);
  });

  it('Redis refusing the mask request: 503, neither row nor VTON written', async () => {
    const down: Producer = { emit: () => Promise.reject(new Error('connection refused')), withdraw: () => Promise.resolve() };
    const refusing = createApp({ ...w.deps, producer: down });
    const init = jsonInit('POST', { personKey, garmentKey }, ann.accessToken);
    await expectProblem(await refusing.request('/api/snap', init), 503, 'queue-unavailable');
    expect(await w.database.db.selectFrom('jobs').selectAll().execute()).toEqual([]);
    expect(await w.database.db.selectFrom('vtons').selectAll().execute()).toEqual([]);
  });

  it('an Idempotency-Key retry of a waiting snap answers the same try-on and queues nothing more', async () => {
    const idem = { 'idempotency-key': 'snap-1' };
    const response = await post('/api/snap', { personKey, garmentKey, seed: 9 }, idem);
    const first = await accepted(response);
    const retry = await post('/api/snap', { personKey, garmentKey, seed: 9 }, idem);
    expect(await accepted(retry)).toEqual(first);
    expect(retry.headers.get('idempotent-replayed')).toBe('true');
    expect(await maskRequests()).toHaveLength(1);
    expect(await w.redis.xlen(keys.streams.jobs)).toBe(0);
    expect(await w.database.db.selectFrom('jobs').select('kind').execute()).toHaveLength(2);
  });

  it('snaps of one photo before its mask is made wait for the same mask job, and each is released once', async () => {
    const a = await snap({ seed: 1 });
    const b = await snap({ seed: 2 });
    const otherGarment = await storeImage(w.storage, ann.user.id, 'garment');
    const c = await snap({ seed: 3, garmentKey: otherGarment });
    const mask = await maskJobOf(a.job_id);
    expect([await maskJobOf(b.job_id), await maskJobOf(c.job_id)]).toEqual([mask, mask]);
    expect((await maskRequests()).map((e) => (e.data as { jobId: string }).jobId)).toEqual([mask]);
    expect(await w.redis.xlen(keys.streams.jobs)).toBe(0);

    await storeMask(mask);
    const completed = maskCompleted(mask, a.vton_id);
    await delivered(completed);
    await delivered(completed);
    await delivered(maskFailed(mask, a.vton_id));
    const queued = (await tryonRequests()).sort((x, y) => (x.data.seed ?? 0) - (y.data.seed ?? 0));
    expect(queued.map((e) => [e.data.jobId, e.data.seed, e.data.maskKey])).toEqual([
      [a.job_id, 1, maskKeyOf(mask)],
      [b.job_id, 2, maskKeyOf(mask)],
      [c.job_id, 3, maskKeyOf(mask)],
    ]);
    // the other garment's VTON holds the mask of its photo too
    expect(c.vton_id).not.toBe(a.vton_id);
    expect(await vton(a.vton_id)).toMatchObject({ mask_key: maskKeyOf(mask) });
    expect(await vton(c.vton_id)).toMatchObject({ person_key: verified(personKey), mask_key: maskKeyOf(mask) });
  });

  it('another garment’s VTON that moved on to another photo meanwhile does not take the mask; its try-on does', async () => {
    const a = await snap({ seed: 1 });
    const otherGarment = await storeImage(w.storage, ann.user.id, 'garment');
    const c = await snap({ seed: 3, garmentKey: otherGarment });
    const mask = await maskJobOf(a.job_id);
    expect(await maskJobOf(c.job_id)).toBe(mask);
    const otherPhoto = verified(await storeImage(w.storage, ann.user.id, 'person'));
    const patched = await w.app.request(`/api/vtons/${c.vton_id}`, jsonInit('PATCH', { personKey: otherPhoto }, ann.accessToken));
    expect(patched.status).toBe(200);
    await storeMask(mask);
    await delivered(maskCompleted(mask, a.vton_id));
    expect((await tryonRequests()).map((e) => e.data.jobId).sort()).toEqual([a.job_id, c.job_id].sort());
    expect(await vton(c.vton_id)).toMatchObject({ person_key: otherPhoto, mask_key: null });
    expect(await vton(a.vton_id)).toMatchObject({ mask_key: maskKeyOf(mask) });
  });

  it('a CloudEvents tryon.requested without a mask waits the same way, and is released with the mask', async () => {
    const { key } = (await (await w.app.request('/api/api-keys', jsonInit('POST', { name: 'shop' }, ann.accessToken))).json()) as { key: string };
    const created = (await (await w.app.request('/api/vtons', jsonInit('POST', {}, key))).json()) as { id: string };
    const data = { jobId: 'shop-1', userId: ann.user.id, vtonId: created.id, personKey, garmentKey, seed: 3 };
    const sent = {
      specversion: '1.0',
      id: 'ce-1',
      source: '/shops/acme',
      type: 'dev.proteus.tryon.requested',
      time: new Date().toISOString(),
      datacontenttype: 'application/json',
      data,
    };
    const response = await w.app.request('/api/cloudevents', {
      method: 'POST',
      ...toBinaryHttp(sent as never),
      headers: { ...toBinaryHttp(sent as never).headers, authorization: `Bearer ${key}` },
    });
    expect(response.status, await response.clone().text()).toBe(202);
    const [result] = ((await response.json()) as { results: { job_id: string }[] }).results;
    const maskJobId = await maskJobOf(result?.job_id as string);
    expect(await w.redis.xlen(keys.streams.jobs)).toBe(0);
    await delivered(maskCompleted(maskJobId, created.id));
    expect((await tryonRequests()).map((e) => [e.data.jobId, e.data.maskKey])).toEqual([[result?.job_id, maskKeyOf(maskJobId)]]);
  });

  describe('nothing is queued for a try-on that is gone, or from an outcome that cannot be used', () => {
    it('the VTON deleted meanwhile: its jobs went with it, the outcome is an unknown job (404), nothing queued', async () => {
      const tryon = await snap();
      const maskJobId = await maskJobOf(tryon.job_id);
      expect((await w.app.request(`/api/vtons/${tryon.vton_id}`, jsonInit('DELETE', undefined, ann.accessToken))).status).toBe(204);
      await expectProblem(await deliver(maskCompleted(maskJobId, tryon.vton_id)), 404, 'job-not-found');
      expect(await w.redis.xlen(keys.streams.jobs)).toBe(0);
    });

    it('the try-on row gone, its mask job left: recorded, nothing queued', async () => {
      const tryon = await snap();
      const maskJobId = await maskJobOf(tryon.job_id);
      await w.database.db.deleteFrom('jobs').where('id', '=', tryon.job_id).execute();
      await delivered(maskCompleted(maskJobId, tryon.vton_id));
      expect(await w.redis.xlen(keys.streams.jobs)).toBe(0);
      expect(await job(maskJobId)).toMatchObject({ status: 'completed' });
    });

    it('a mask outside its owner’s folder: the try-on goes without it, the VTON does not take it', async () => {
      const tryon = await snap();
      const maskJobId = await maskJobOf(tryon.job_id);
      await delivered(maskCompleted(maskJobId, tryon.vton_id, keys.objectKey('someone-else', 'mask', maskJobId, 'png')));
      const queued = await tryonRequests();
      expect(queued.map((e) => e.data.jobId)).toEqual([tryon.job_id]);
      expect(queued[0]?.data).not.toHaveProperty('maskKey');
      expect(await vton(tryon.vton_id)).toMatchObject({ mask_key: null });
    });

    it('a kept request the contract no longer takes: that try-on fails with the reason, nothing queued', async () => {
      const tryon = await snap();
      const maskJobId = await maskJobOf(tryon.job_id);
      await w.database.db.updateTable('jobs').set({ pending_event: '{"type":"dev.proteus.tryon.requested"}' }).where('id', '=', tryon.job_id).execute();
      await delivered(maskCompleted(maskJobId, tryon.vton_id));
      expect(await w.redis.xlen(keys.streams.jobs)).toBe(0);
      const failed = await job(tryon.job_id);
      expect(failed).toMatchObject({ status: 'failed', waiting_for: null, pending_event: null });
      expect(failed.error).toMatch(/^its request no longer passes the contract: invalid dev\.proteus\.tryon\.requested event/);
    });

    it('Redis refusing the XADD: 503, nothing recorded, the try-on still waits; the retry queues it once', async () => {
      const tryon = await snap();
      const maskJobId = await maskJobOf(tryon.job_id);
      const down: Producer = { emit: () => Promise.reject(new Error('connection refused')), withdraw: () => Promise.resolve() };
      const refusing = createApp({ ...w.deps, producer: down });
      const completed = maskCompleted(maskJobId, tryon.vton_id);
      await expectProblem(await deliver(completed, refusing), 503, 'queue-unavailable');
      expect(await job(tryon.job_id)).toMatchObject({ status: 'queued', waiting_for: maskJobId });
      expect(await job(maskJobId)).toMatchObject({ status: 'queued' });
      expect(await w.database.db.selectFrom('processed_events').selectAll().execute()).toEqual([]);
      await delivered(completed);
      await delivered(completed);
      expect((await tryonRequests()).map((e) => e.data.jobId)).toEqual([tryon.job_id]);
    });

    it('an XADD refused after another was made: the one made is withdrawn, so the retry queues each once', async () => {
      // two try-ons of one photo wait for one mask job: the second XADD fails
      const a = await snap({ seed: 1 });
      const b = await snap({ seed: 2 });
      const maskA = await maskJobOf(a.job_id);
      expect(await maskJobOf(b.job_id)).toBe(maskA);
      const real = producerOf(w.deps);
      let calls = 0;
      const flaky: Producer = {
        emit: (stream, event) => (++calls === 2 ? Promise.reject(new Error('connection lost')) : real.emit(stream, event)),
        withdraw: real.withdraw,
      };
      const completed = maskCompleted(maskA, a.vton_id);
      await expectProblem(await deliver(completed, createApp({ ...w.deps, producer: flaky })), 503, 'queue-unavailable');
      expect(await w.redis.xlen(keys.streams.jobs)).toBe(0);
      await delivered(completed);
      expect((await tryonRequests()).map((e) => e.data.jobId).sort()).toEqual([a.job_id, b.job_id].sort());
    });

    it('XADDs sent together, the first and third refused: every one made is withdrawn, and the retry queues each once', async () => {
      const tryons = [];
      for (const seed of [1, 2, 3, 4]) tryons.push(await snap({ seed }));
      const mask = await maskJobOf((tryons[0] as { job_id: string }).job_id);
      const real = producerOf(w.deps);
      let calls = 0;
      let inFlight = 0;
      let together = 0;
      const flaky: Producer = {
        emit: async (stream, event) => {
          const call = ++calls;
          inFlight++;
          together = Math.max(together, inFlight);
          try {
            await new Promise((resolve) => setImmediate(resolve)); // a round trip: the others are sent meanwhile, or not
            if (call === 1 || call === 3) throw new Error('connection lost');
            return await real.emit(stream, event);
          } finally {
            inFlight--;
          }
        },
        withdraw: real.withdraw,
      };
      const completed = maskCompleted(mask, (tryons[0] as { vton_id: string }).vton_id);
      await expectProblem(await deliver(completed, createApp({ ...w.deps, producer: flaky })), 503, 'queue-unavailable');
      expect(calls).toBe(4);
      expect(together).toBe(4);
      expect(await w.redis.xlen(keys.streams.jobs)).toBe(0);
      for (const t of tryons) expect(await job(t.job_id)).toMatchObject({ status: 'queued', waiting_for: mask });
      await delivered(completed);
      expect((await tryonRequests()).map((e) => e.data.jobId).sort()).toEqual(tryons.map((t) => t.job_id).sort());
    });
  });
  it('a write joining a job that has ended writes nothing, not even its VTON change', async () => {
    const first = await snap();
    const mask = await maskJobOf(first.job_id);
    await delivered(maskFailed(mask, first.vton_id));
    const before = await vton(first.vton_id);
    const tryonId = randomUUID();
    const written = await writeJobs(w.database.db, [
      {
        userId: ann.user.id,
        vtonId: first.vton_id,
        targetVton: first.vton_id,
        change: { status: 'segmenting', keys: { person_key: 'changed' } },
        jobs: [{ id: tryonId, kind: 'tryon', waitingFor: mask, pendingEvent: '{}' }],
        joins: mask,
        at: new Date(),
      },
    ]);
    expect(written).toEqual([false]);
    expect(await vton(first.vton_id)).toEqual(before);
    expect(await w.database.db.selectFrom('jobs').select('id').where('id', '=', tryonId).execute()).toEqual([]);
  });

  // PGlite serves one connection at a time: the two sides of a race need PostgreSQL
  if (kind === 'postgres') {
    describe('a try-on joining a mask job while the job’s outcome is recorded', () => {
      // the other side of each race, on connections of its own (the api's pool has two)
      let other: DatabaseHandle;
      beforeAll(async () => {
        const { rows } = await sql<{ name: string }>`select current_database() as name`.execute(w.database.db);
        const url = new URL(process.env.PROTEUS_TEST_DATABASE_URL as string);
        url.pathname = `/${rows[0]?.name}`;
        other = await openDatabase({ url: url.toString(), poolSize: 2 });
        cleanups.push(() => other.close());
      });

      /** Resolves once another connection waits for a row lock. */
      async function someoneWaitsForALock() {
        for (let tries = 0; tries < 500; tries++) {
          const { rows } = await sql<{ n: number }>`
            select count(*)::int as n from pg_stat_activity where wait_event_type = 'Lock' and datname = current_database()`.execute(other.db);
          if ((rows[0]?.n ?? 0) > 0) return;
          await new Promise((resolve) => setTimeout(resolve, 10));
        }
        throw new Error('nobody waited for a lock');
      }
      /** A transaction that runs `body`, then stays open until `commit()`. */
      function heldTransaction<T>(body: (trx: Transaction<Database>) => Promise<T>) {
        let commit!: () => void;
        const held = new Promise<void>((resolve) => {
          commit = resolve;
        });
        let ready!: () => void;
        const started = new Promise<void>((resolve) => {
          ready = resolve;
        });
        const done = other.db.transaction().execute(async (trx) => {
          const result = await body(trx);
          ready();
          await held;
          return result;
        });
        return { started, commit, done };
      }

      it('the outcome first: the try-on finds the job ended, is planned again and takes the mask made', async () => {
        const first = await snap();
        const mask = await maskJobOf(first.job_id);
        await storeMask(mask);
        // what the sink does first: lock the job's row and record its outcome
        const sink = heldTransaction(async (trx) => {
          await trx.selectFrom('jobs').select('id').where('id', '=', mask).forUpdate().execute();
          await trx
            .updateTable('jobs')
            .set({ status: 'completed', result_key: maskKeyOf(mask), updated_at: new Date() })
            .where('id', '=', mask)
            .execute();
        });
        await sink.started;
        // its look-up still sees the mask job queued: it joins, and its write waits for the row
        const later = snap({ seed: 2 });
        await someoneWaitsForALock();
        sink.commit();
        await sink.done;
        const second = await later;
        expect(await job(second.job_id)).toMatchObject({ waiting_for: null, pending_event: null, status: 'queued' });
        expect((await tryonRequests()).map((e) => [e.data.jobId, e.data.maskKey])).toEqual([[second.job_id, maskKeyOf(mask)]]);
        expect(await maskRequests()).toHaveLength(1);
      });

      it('the try-on first: the outcome waits for its commit, then releases it with the others', async () => {
        const first = await snap();
        const mask = await maskJobOf(first.job_id);
        await storeMask(mask);
        const tryonId = randomUUID();
        const data = { jobId: tryonId, userId: ann.user.id, vtonId: first.vton_id, personKey: verified(personKey), garmentKey: verified(garmentKey), seed: 3 };
        const pendingEvent = JSON.stringify(createEvent('dev.proteus.tryon.requested', 'api', data));
        const joining = heldTransaction((trx) =>
          writeJobs(trx, [
            {
              userId: ann.user.id,
              vtonId: first.vton_id,
              targetVton: first.vton_id,
              change: { status: 'queued', keys: { person_key: verified(personKey), result_key: null, mask_key: null } },
              jobs: [{ id: tryonId, kind: 'tryon', waitingFor: mask, pendingEvent }],
              joins: mask,
              at: new Date(),
            },
          ]),
        );
        await joining.started;
        const outcome = deliver(maskCompleted(mask, first.vton_id));
        await someoneWaitsForALock();
        joining.commit();
        expect(await joining.done).toEqual([true]);
        expect((await outcome).status).toBe(204);
        const queued = await tryonRequests();
        expect(queued.map((e) => [e.data.jobId, e.data.maskKey]).sort()).toEqual(
          [
            [first.job_id, maskKeyOf(mask)],
            [tryonId, maskKeyOf(mask)],
          ].sort(),
        );
      });
    });
  }
});

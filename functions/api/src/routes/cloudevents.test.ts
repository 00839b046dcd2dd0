import { randomUUID } from 'node:crypto';
import { keys, type ProteusEvent, toBinaryHttp, toStructuredHttp } from '@proteus/eventing';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { createKey, jsonInit, signUp, type TestAccount } from '../../test/accounts.ts';
import { type ApiWorld, apiWorld, cleanupStack, expectProblem, PROBLEMS } from '../../test/deps.ts';
import { putObject } from '../../test/images.ts';
import { eventsOf, landmarks, storeImage } from '../../test/jobs.ts';
import { ingestKey } from '../jobs/ingest.ts';
import { BATCH_CONTENT_TYPE } from './cloudevents.ts';

type Result = { id: string; source: string; job_id?: string; status?: string; problem?: { type: string; title: string; status: number; detail?: string } };
type SentEvent = { id: string; source: string; type: string; data: Record<string, unknown> } & Record<string, unknown>;

const SHOP = '/shops/acme/backend';

const jobIdOf = (event: ProteusEvent) => (event.data as { jobId?: string }).jobId;

async function resultsOf(response: Response, status = 202): Promise<Result[]> {
  expect(response.status, await response.clone().text()).toBe(status);
  return ((await response.json()) as { results: Result[] }).results;
}

describe('ingestKey', () => {
  it('is ce:<source>:<id>, with the source escaped so the first colon after it ends it', () => {
    expect(ingestKey('/shops/acme', 'evt-1')).toBe('ce:/shops/acme:evt-1');
    expect(ingestKey('urn:a', 'b')).not.toBe(ingestKey('urn', 'a:b'));
    expect(ingestKey('urn:a', 'b')).toBe('ce:urn%3Aa:b');
  });

  it('hashes a long source, and a literal source cannot pass for a hashed one', () => {
    const long = `/shops/${'x'.repeat(500)}`;
    expect(ingestKey(long, 'e')).toMatch(/^ce:sha256=[0-9a-f]{64}:e$/);
    const forged = ingestKey(long, 'e').slice(3, -2);
    expect(ingestKey(forged, 'e')).not.toBe(ingestKey(long, 'e'));
  });
});

describe.each(['postgres', 'pglite'] as const)('POST /api/cloudevents on %s', (kind) => {
  const cleanups = cleanupStack();
  let w: ApiWorld;
  let ann: TestAccount;
  let bob: TestAccount;
  let annKey: string;
  let bobKey: string;
  let annVton: string;

  beforeAll(async () => {
    w = await apiWorld(kind, cleanups);
  }, 60_000);
  afterAll(() => cleanups.run());
  beforeEach(async () => {
    await w.reset();
    ann = await signUp(w.app, 'ann@example.com');
    bob = await signUp(w.app, 'bob@example.com');
    annKey = (await createKey(w.app, ann.accessToken)).key;
    bobKey = (await createKey(w.app, bob.accessToken)).key;
    annVton = await newVton(annKey);
  });

  async function newVton(credential: string): Promise<string> {
    const response = await w.app.request('/api/vtons', jsonInit('POST', {}, credential));
    expect(response.status, await response.clone().text()).toBe(201);
    return ((await response.json()) as { id: string }).id;
  }

  const envelope = (type: string, data: Record<string, unknown>, extra: Record<string, unknown> = {}): SentEvent => ({
    specversion: '1.0',
    id: randomUUID(),
    source: SHOP,
    type,
    time: new Date().toISOString(),
    datacontenttype: 'application/json',
    data,
    ...extra,
  });

  async function segmentEvent(data: Record<string, unknown> = {}, extra: Record<string, unknown> = {}): Promise<SentEvent> {
    const imageKey = await storeImage(w.storage, ann.user.id, 'garment');
    return envelope(
      'dev.proteus.segment.requested',
      { jobId: 'shop-job-1', userId: ann.user.id, vtonId: annVton, imageKey, purpose: 'garment', ...data },
      extra,
    );
  }

  async function tryonEvent(data: Record<string, unknown> = {}): Promise<SentEvent> {
    const personKey = await storeImage(w.storage, ann.user.id, 'person');
    const garmentKey = await storeImage(w.storage, ann.user.id, 'cloth_clean', 'png');
    return envelope('dev.proteus.tryon.requested', { jobId: 'shop-job-2', userId: ann.user.id, vtonId: annVton, personKey, garmentKey, seed: 42, ...data });
  }

  const withAuth = (headers: Record<string, string>, credential?: string) => (credential ? { ...headers, authorization: `Bearer ${credential}` } : headers);
  const ingest = (headers: Record<string, string>, body: string, credential: string | undefined = annKey) =>
    w.app.request('/api/cloudevents', { method: 'POST', headers: withAuth(headers, credential), body });
  const binary = (event: SentEvent, credential?: string) => {
    const { headers, body } = toBinaryHttp(event as never);
    return ingest(headers, body, credential);
  };
  const structured = (event: SentEvent, credential?: string) => {
    const { headers, body } = toStructuredHttp(event as never);
    return ingest(headers, body, credential);
  };
  const batch = (events: unknown[], credential?: string) => ingest({ 'content-type': BATCH_CONTENT_TYPE }, JSON.stringify(events), credential);

  const jobRows = () => w.database.db.selectFrom('jobs').selectAll().orderBy('enqueued_at').execute();
  const segmentQueue = () => eventsOf(w.redis, keys.streams.segment, ann.user.id);
  const jobsQueue = () => eventsOf(w.redis, keys.streams.jobs, ann.user.id);
  async function nothingQueued() {
    expect(await w.redis.xlen(keys.streams.segment)).toBe(0);
    expect(await w.redis.xlen(keys.streams.jobs)).toBe(0);
    expect(await jobRows()).toEqual([]);
  }

  describe('modes', () => {
    it('binary mode: a segment.requested becomes a job on queue:segment for the caller’s VTON', async () => {
      const event = await segmentEvent();
      const [result, ...more] = await resultsOf(await binary(event));
      expect(more).toEqual([]);
      expect(result).toEqual({ id: event.id, source: SHOP, job_id: expect.stringMatching(/^[0-9a-f-]{36}$/), status: 'queued' });

      const queued = await segmentQueue();
      expect(queued).toHaveLength(1);
      expect(queued[0]).toMatchObject({ type: 'dev.proteus.segment.requested', source: '/proteus/api' });
      expect(queued[0]?.data).toEqual({
        jobId: result?.job_id,
        userId: ann.user.id,
        vtonId: annVton,
        imageKey: keys.verifiedObjectKey(event.data.imageKey as string),
        purpose: 'garment',
      });
      const [row] = await jobRows();
      expect(row).toMatchObject({ id: result?.job_id, user_id: ann.user.id, vton_id: annVton, kind: 'segment', idempotency_key: `ce:${SHOP}:${event.id}` });
      expect(await w.redis.xlen(keys.streams.jobs)).toBe(0);
    });

    it('structured mode: a tryon.requested with every field becomes a job on queue:jobs', async () => {
      const maskKey = await storeImage(w.storage, ann.user.id, 'mask', 'png');
      const deadline = new Date(Date.now() + 60_000).toISOString();
      const event = await tryonEvent({ maskKey, landmarks: landmarks(), seed: 7, steps: 20, engine: 'warp', deadline });
      const [result] = await resultsOf(await structured(event));
      expect(result).toMatchObject({ id: event.id, source: SHOP, status: 'queued' });

      const queued = await jobsQueue();
      expect(queued).toHaveLength(1);
      expect(queued[0]?.type).toBe('dev.proteus.tryon.requested');
      expect(queued[0]?.data).toEqual({ ...event.data, personKey: keys.verifiedObjectKey(event.data.personKey as string), jobId: result?.job_id });
      expect(await w.redis.xlen(keys.streams.segment)).toBe(0);
    });

    it('batch mode: each event becomes its job, results in the order sent; a try-on without a mask waits for one', async () => {
      const events = [await segmentEvent(), await tryonEvent(), await segmentEvent({ purpose: 'person-mask' })];
      const results = await resultsOf(await batch(events));
      expect(results.map((r) => [r.id, r.status])).toEqual(events.map((e) => [e.id, 'queued']));
      expect(new Set(results.map((r) => r.job_id)).size).toBe(3);

      const tryon = (await jobRows()).find((r) => r.id === results[1]?.job_id);
      expect(tryon).toMatchObject({ kind: 'tryon', status: 'queued', waiting_for: expect.any(String) });
      const segments = await segmentQueue();
      expect(segments.map(jobIdOf)).toEqual([results[0]?.job_id, tryon?.waiting_for, results[2]?.job_id]);
      expect(segments[1]?.data).toMatchObject({ purpose: 'person-mask', imageKey: keys.verifiedObjectKey(events[1]?.data.personKey as string) });
      expect(segments[2]?.data).toMatchObject({ purpose: 'person-mask', imageKey: keys.verifiedObjectKey(events[2]?.data.imageKey as string) });
      expect(await jobsQueue()).toEqual([]);
    });

    it('an empty batch submits nothing', async () => {
      expect(await resultsOf(await batch([]))).toEqual([]);
      await nothingQueued();
    });
  });

  describe('deduplication on (source, id)', () => {
    it('a redelivered event, in any mode, answers the same job and writes nothing', async () => {
      const event = await segmentEvent();
      const [first] = await resultsOf(await binary(event));
      // a producer's retry may re-stamp the time
      const [again] = await resultsOf(await structured({ ...event, time: new Date(Date.now() + 5000).toISOString() }));
      const [inBatch, twice] = await resultsOf(await batch([event, event]));
      expect([again, inBatch, twice]).toEqual([first, first, first]);
      expect(await jobRows()).toHaveLength(1);
      expect(await segmentQueue()).toHaveLength(1);
    });

    it('the same id from another source is another event', async () => {
      const event = await segmentEvent();
      const [a] = await resultsOf(await binary(event));
      const [b] = await resultsOf(await binary({ ...event, source: '/shops/other' }));
      expect(b?.job_id).not.toBe(a?.job_id);
      expect(b?.source).toBe('/shops/other');
      expect(await segmentQueue()).toHaveLength(2);
    });

    it('the same (source, id) asking for something else is refused for that event', async () => {
      const event = await segmentEvent();
      await resultsOf(await binary(event));
      const [result] = await resultsOf(await binary({ ...event, data: { ...event.data, purpose: 'person-mask' } }), 207);
      expect(result?.problem).toMatchObject({ type: `${PROBLEMS}idempotency-key-reused`, status: 422 });
      expect(await segmentQueue()).toHaveLength(1);
    });
  });

  describe('who may call', () => {
    it('a bearer access token is refused: 403, use an API key', async () => {
      const problem = await expectProblem(await binary(await segmentEvent(), ann.accessToken), 403, 'forbidden');
      expect(problem.detail).toBe('use an API key');
      await nothingQueued();
    });

    it('anonymous: 401', async () => {
      const event = await segmentEvent();
      const { headers, body } = toBinaryHttp(event as never);
      await expectProblem(await w.app.request('/api/cloudevents', { method: 'POST', headers, body }), 401, 'unauthorized');
      await nothingQueued();
    });

    it('another user’s key with this user’s userId: 403, nothing submitted (in a batch too)', async () => {
      const problem = await expectProblem(await binary(await segmentEvent(), bobKey), 403, 'forbidden');
      expect(problem.detail).toMatch(/data\.userId/);
      const bobs = envelope('dev.proteus.segment.requested', {
        jobId: 'j',
        userId: bob.user.id,
        vtonId: await newVton(bobKey),
        imageKey: await storeImage(w.storage, bob.user.id, 'garment'),
        purpose: 'garment',
      });
      const mixed = await expectProblem(await batch([bobs, await segmentEvent()], bobKey), 403, 'forbidden');
      expect(mixed.detail).toMatch(/^event 1: /);
      await nothingQueued();
    });
  });

  describe('refused whole', () => {
    it('a batch with one invalid event: 400 invalid-event naming its index and field, nothing queued', async () => {
      const bad = await segmentEvent({ imageKey: 'not/a/key' });
      const problem = await expectProblem(await batch([await segmentEvent(), bad, await tryonEvent()]), 400, 'invalid-event');
      expect(problem.detail).toMatch(/^event 1: /);
      expect(problem.errors).toEqual([{ path: '[1].data.imageKey', message: expect.any(String) }]);
      await nothingQueued();
    });

    it('a single invalid event: 400 naming the field', async () => {
      const event = await tryonEvent();
      const { seed: _, ...noSeed } = event.data;
      const problem = await expectProblem(await structured({ ...event, data: noSeed }), 400, 'invalid-event');
      expect(problem.errors?.map((e) => e.path)).toEqual(['data.seed']);
      await expectProblem(await ingest({ 'content-type': 'application/json' }, '{}'), 400, 'invalid-event');
      await expectProblem(await ingest({ 'content-type': BATCH_CONTENT_TYPE }, '{"not":"an array"}'), 400, 'invalid-event');
      await nothingQueued();
    });

    it('a batch over 100 events: 400', async () => {
      const event = await segmentEvent();
      const events = Array.from({ length: 101 }, () => ({ ...event, id: randomUUID() }));
      const problem = await expectProblem(await batch(events), 400, 'batch-too-large');
      expect(problem.detail).toMatch(/at most 100 events, got 101/);
      await nothingQueued();
    });

    it('a body over 1 MiB, counted in bytes: 413', async () => {
      // 600,000 characters, 1,200,000 bytes in UTF-8
      const event = await segmentEvent({}, { note: 'é'.repeat(600_000) });
      await expectProblem(await structured(event), 413, 'body-too-large');
      await nothingQueued();
    });

    it('another event type: 400 unexpected-event-type, known to the contract or not', async () => {
      const completed = envelope('dev.proteus.segment.completed', {
        jobId: 'j',
        userId: ann.user.id,
        vtonId: annVton,
        resultKey: keys.objectKey(ann.user.id, 'results', randomUUID(), 'png'),
      });
      const one = await expectProblem(await binary(completed), 400, 'unexpected-event-type');
      expect(one.detail).toMatch(/dev\.proteus\.segment\.completed/);
      const foreign = envelope('com.example.order.placed', { order: 1 });
      const inBatch = await expectProblem(await batch([await segmentEvent(), foreign]), 400, 'unexpected-event-type');
      expect(inBatch.detail).toMatch(/^event 1 is a com\.example\.order\.placed/);
      await nothingQueued();
    });
  });

  describe('per-event failures after validation', () => {
    it('a bad image in a batch: 207, that result carries the problem, the others are queued', async () => {
      const notAnImage = keys.objectKey(ann.user.id, 'garment', randomUUID(), 'jpg');
      await putObject(w.storage, notAnImage, new TextEncoder().encode('this is not a JPEG at all'), 'image/jpeg');
      const events = [await segmentEvent(), await segmentEvent({ imageKey: notAnImage }), await tryonEvent({ engine: 'warp' })];
      const results = await resultsOf(await batch(events), 207);
      expect(results[0]).toMatchObject({ id: events[0]?.id, status: 'queued' });
      expect(results[1]).toEqual({
        id: events[1]?.id,
        source: SHOP,
        problem: { type: `${PROBLEMS}not-an-image`, title: expect.any(String), status: 422, detail: expect.any(String) },
      });
      expect(results[2]).toMatchObject({ id: events[2]?.id, status: 'queued' });
      expect((await segmentQueue()).map(jobIdOf)).toEqual([results[0]?.job_id]);
      expect((await jobsQueue()).map(jobIdOf)).toEqual([results[2]?.job_id]);
      expect(await jobRows()).toHaveLength(2);
    });

    it('another user’s VTON, or none of the caller’s: that event is 404, the others go on', async () => {
      const bobsVton = await newVton(bobKey);
      const events = [await segmentEvent({ vtonId: bobsVton }), await segmentEvent({ vtonId: 'no-such-vton' }), await segmentEvent()];
      const results = await resultsOf(await batch(events), 207);
      expect(results.map((r) => r.problem?.status ?? r.status)).toEqual([404, 404, 'queued']);
      expect(results[0]?.problem?.type).toBe(`${PROBLEMS}not-found`);
      expect(await segmentQueue()).toHaveLength(1);
      const bobsRow = await w.database.db.selectFrom('vtons').selectAll().where('id', '=', bobsVton).executeTakeFirstOrThrow();
      expect(bobsRow.garment_key).toBeNull();
    });
  });
});

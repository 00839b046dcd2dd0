import { createRedis } from '@proteus/common';
import type { DatabaseHandle } from '@proteus/common/db';
import { keys, type ProteusEvent, toBinaryHttp, toStructuredHttp } from '@proteus/eventing';
import { isolatedRedisUrl, uniqueName, waitFor } from '@proteus/testkit';
import type { Redis } from 'ioredis';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { baseDeps, cleanupStack, collectingLogger, openTestDatabase, PROBLEMS, problemOf, testRedis, testStorage, validVector } from '../../test/deps.ts';
import { createApp } from '../app.ts';

const MAX = 256 * 1024;

describe.each(['postgres', 'pglite'] as const)('POST /events on %s', (kind) => {
  const cleanups = cleanupStack();
  let database: DatabaseHandle;
  let app: ReturnType<typeof createApp>;
  let lines: Record<string, unknown>[];
  let redisUrl: string;
  let storage: Awaited<ReturnType<typeof testStorage>>;
  /** what owners were told on events:job_done (the channel is shared by every suite: filtered by this suite's user) */
  let told: Record<string, unknown>[];
  let subscriber: Redis;
  let user: string;

  // PGlite takes seconds to start on 2 cores: one database per kind, emptied before each test
  beforeAll(async () => {
    database = await openTestDatabase(kind, cleanups);
    const logger = collectingLogger();
    lines = logger.lines;
    redisUrl = await isolatedRedisUrl();
    const redis = await testRedis(cleanups, redisUrl);
    storage = await testStorage(cleanups);
    app = createApp(baseDeps({ redis, database, storage, log: logger.log }));
    subscriber = createRedis(redisUrl, 'events-test-sub');
    cleanups.push(() => subscriber.disconnect());
    told = [];
    subscriber.on('message', (_channel: string, message: string) => {
      const update = JSON.parse(message) as Record<string, unknown>;
      if (update.userId === user) told.push(update);
    });
    await subscriber.subscribe(keys.channels.jobDone);
  }, 60_000);
  afterAll(() => cleanups.run());
  // a user with one VTON, a segmentation job (job-1) and a try-on job (job-2), as the vectors name them
  beforeEach(async () => {
    await database.db.deleteFrom('processed_events').execute();
    user = uniqueName('owner');
    await database.db
      .insertInto('users')
      .values({ id: user, email: `${user}@proteus.test`, password_hash: 'x' })
      .execute();
    await database.db
      .insertInto('vtons')
      .values({ id: `${user}-v`, user_id: user, status: 'segmenting' })
      .execute();
    await database.db
      .insertInto('jobs')
      .values([
        { id: `${user}-job-1`, user_id: user, vton_id: `${user}-v`, kind: 'segment' },
        { id: `${user}-job-2`, user_id: user, vton_id: `${user}-v`, kind: 'tryon' },
      ])
      .execute();
    lines.length = 0;
    told.length = 0;
  });

  /** A valid vector made this test's: its job, user and vton ids, and keys under the user's prefix. */
  function ours(name: string, data: Record<string, unknown> = {}): ProteusEvent {
    const vector = validVector(name) as unknown as ProteusEvent & { data: Record<string, unknown> };
    const d = { ...vector.data };
    d.jobId = `${user}-${String(d.jobId)}`;
    d.userId = user;
    if ('vtonId' in d) d.vtonId = `${user}-v`;
    if (typeof d.resultKey === 'string') d.resultKey = d.resultKey.replace('users/u1/', `users/${user}/`);
    return { ...vector, id: uniqueName('evt'), data: { ...d, ...data } } as ProteusEvent;
  }
  const job = (id: string) => database.db.selectFrom('jobs').selectAll().where('id', '=', `${user}-${id}`).executeTakeFirstOrThrow();
  const vton = () => database.db.selectFrom('vtons').selectAll().where('id', '=', `${user}-v`).executeTakeFirstOrThrow();
  async function putResult(key: string) {
    const { PutObjectCommand } = await import('@aws-sdk/client-s3');
    await storage.client.send(new PutObjectCommand({ Bucket: storage.bucket, Key: key, Body: 'png', ContentType: 'image/png' }));
  }

  const rows = () => database.db.selectFrom('processed_events').selectAll().execute();
  const post = (request: { headers: Record<string, string>; body: string }) => app.request('/events', { method: 'POST', ...request });

  async function expectProblem(response: Response, status: number, slug: string) {
    expect(response.status).toBe(status);
    const problem = await problemOf(response);
    expect(problem).toMatchObject({ type: PROBLEMS + slug, status, instance: '/events' });
    expect(await rows()).toEqual([]);
    return problem;
  }

  it('records a try-on completion once: the job and VTON change, the owner is told once with a download URL', async () => {
    const event = ours('tryon-completed');
    const resultKey = (event.data as { resultKey: string }).resultKey;
    await putResult(resultKey);
    const first = await post(toBinaryHttp(event));
    expect(first.status).toBe(204);
    expect(await first.text()).toBe('');
    expect((await post(toBinaryHttp(event))).status).toBe(204);
    expect(await job('job-2')).toMatchObject({
      status: 'completed',
      result_key: resultKey,
      engine: 'catvton',
      resolution: '768x1024',
      batch_size: 4,
      attempts: 1,
    });
    expect((await job('job-2')).finished_at).toBeInstanceOf(Date);
    expect(await vton()).toMatchObject({ status: 'completed', result_key: resultKey });
    await waitFor(() => told.length === 1, { what: 'the owner told' });
    await new Promise((r) => setTimeout(r, 150));
    expect(told).toHaveLength(1);
    expect(told[0]).toMatchObject({ type: 'job', job_id: `${user}-job-2`, status: 'completed', userId: user, vton_id: `${user}-v`, kind: 'tryon' });
    expect(String(told[0]?.result_url)).toMatch(/X-Amz-Signature=/);
    expect(await (await fetch(String(told[0]?.result_url))).text()).toBe('png');
    expect(await rows()).toHaveLength(1);
    expect(lines.filter((l) => l.msg === 'event recorded').map((l) => l.duplicate)).toEqual([false, true]);
  });

  it('records a structured-mode segmentation: the cleaned garment goes on the VTON, which is ready', async () => {
    const event = ours('segment-completed');
    const response = await post(toStructuredHttp(event));
    expect(response.status).toBe(204);
    expect(await job('job-1')).toMatchObject({ status: 'completed' });
    expect(await vton()).toMatchObject({ status: 'ready', cloth_clean_key: (event.data as { resultKey: string }).resultKey });
  });

  it('puts a person mask on the VTON as its mask', async () => {
    const event = ours('segment-completed', { resultKey: `users/${user}/mask/m1.png` });
    expect((await post(toBinaryHttp(event))).status).toBe(204);
    expect(await vton()).toMatchObject({ mask_key: `users/${user}/mask/m1.png`, cloth_clean_key: null });
  });

  it('records a failure with its reason, and tells the owner', async () => {
    expect((await post(toBinaryHttp(ours('tryon-failed')))).status).toBe(204);
    expect(await job('job-2')).toMatchObject({ status: 'failed', error: 'deadline passed before the job ran', attempts: 1 });
    expect(await vton()).toMatchObject({ status: 'failed' });
    await waitFor(() => told.some((t) => t.status === 'failed' && t.error === 'deadline passed before the job ran'), { what: 'the failure told' });
  });

  it('never moves a finished job back: a late failure after a completion changes nothing and tells no one', async () => {
    const done = ours('tryon-completed');
    await putResult((done.data as { resultKey: string }).resultKey);
    expect((await post(toBinaryHttp(done))).status).toBe(204);
    await waitFor(() => told.length === 1, { what: 'the completion told' });
    expect((await post(toBinaryHttp(ours('tryon-failed')))).status).toBe(204);
    await new Promise((r) => setTimeout(r, 150));
    expect(await job('job-2')).toMatchObject({ status: 'completed', error: null });
    expect(told).toHaveLength(1);
  });

  it('passes progress through to the owner and marks the job running', async () => {
    expect((await post(toBinaryHttp(ours('tryon-progress', { step: 10, steps: 50 })))).status).toBe(204);
    expect(await job('job-2')).toMatchObject({ status: 'running' });
    await waitFor(() => told.some((t) => t.type === 'progress' && t.step === 10 && t.steps === 50 && t.job_id === `${user}-job-2`), { what: 'the progress' });
  });

  it('answers 404 job-not-found for a job it does not know (yet), and records nothing, so the source retries', async () => {
    const event = ours('tryon-completed', { jobId: 'no-such-job' });
    const response = await post(toBinaryHttp(event));
    expect(response.status).toBe(404);
    expect(await problemOf(response)).toMatchObject({ type: `${PROBLEMS}job-not-found` });
    expect(await rows()).toEqual([]);
  });

  it("answers 404 for another user's job: the event's user must own it", async () => {
    await database.db
      .insertInto('users')
      .values({ id: `${user}-other`, email: `${user}-other@proteus.test`, password_hash: 'x' })
      .execute();
    const response = await post(toBinaryHttp(ours('tryon-completed', { userId: `${user}-other` })));
    expect(response.status).toBe(404);
    expect(await job('job-2')).toMatchObject({ status: 'queued' });
  });

  it('refuses events that are not job lifecycle events: 400 unexpected-event-type', async () => {
    await expectProblem(await post(toBinaryHttp(validVector('segment-requested') as unknown as ProteusEvent)), 400, 'unexpected-event-type');
    await expectProblem(await post(toBinaryHttp(validVector('arbitrator-tick') as unknown as ProteusEvent)), 400, 'unexpected-event-type');
  });

  it('rejects a request that is not a CloudEvent: 400 invalid-event', async () => {
    const problem = await expectProblem(await post({ headers: { 'content-type': 'application/json' }, body: '{"hello":"world"}' }), 400, 'invalid-event');
    expect(problem.detail).toMatch(/not a CloudEvent/);
  });

  it('rejects malformed JSON data: 400 invalid-event', async () => {
    const { headers } = toBinaryHttp(validVector('tryon-completed') as unknown as ProteusEvent);
    const problem = await expectProblem(await post({ headers, body: '{"jobId": ' }), 400, 'invalid-event');
    expect(problem.detail).toMatch(/not valid JSON/);
  });

  it('rejects a malformed structured body: 400 invalid-event', async () => {
    await expectProblem(await post({ headers: { 'content-type': 'application/cloudevents+json' }, body: '{"specversion":' }), 400, 'invalid-event');
  });

  it('rejects an unknown event type: 400 invalid-event naming it', async () => {
    const event = { ...validVector('tryon-completed'), type: 'dev.proteus.nope' } as unknown as ProteusEvent;
    const problem = await expectProblem(await post(toStructuredHttp(event)), 400, 'invalid-event');
    expect(problem.detail).toContain('dev.proteus.nope');
  });

  it('rejects data that breaks the contract: 400 invalid-event naming the field', async () => {
    const vector = validVector('tryon-completed');
    const event = { ...vector, data: { ...(vector.data as object), resultKey: '../../etc/passwd' } } as unknown as ProteusEvent;
    const problem = (await expectProblem(await post(toBinaryHttp(event)), 400, 'invalid-event')) as { errors?: { path: string }[] };
    expect(problem.errors?.map((e) => e.path)).toContain('data.resultKey');
  });

  describe('413 event-too-large over 256 KiB, nothing written', () => {
    const padded = (padding: string) => ({ ...ours('tryon-failed'), padding }) as unknown as ProteusEvent;

    it('with a content-length header', async () => {
      const request = toStructuredHttp(padded('x'.repeat(MAX)));
      const response = await post({ headers: { ...request.headers, 'content-length': String(Buffer.byteLength(request.body)) }, body: request.body });
      const problem = await expectProblem(response, 413, 'event-too-large');
      expect(problem.detail).toBe(`at most ${MAX} bytes`);
    });

    it('without a content-length header (counted while reading)', async () => {
      await expectProblem(await post(toStructuredHttp(padded('x'.repeat(MAX)))), 413, 'event-too-large');
    });

    it('counting bytes, not characters (multi-byte text under 256 Ki characters)', async () => {
      // 100 Ki euro signs = 300 KiB of UTF-8
      await expectProblem(await post(toStructuredHttp(padded('€'.repeat(100 * 1024)))), 413, 'event-too-large');
    });

    it('accepts an event just under the limit', async () => {
      const small = toStructuredHttp(padded(''));
      const room = MAX - Buffer.byteLength(small.body);
      const response = await post(toStructuredHttp(padded('x'.repeat(room))));
      expect(response.status).toBe(204);
      expect(await rows()).toHaveLength(1);
    });
  });
});

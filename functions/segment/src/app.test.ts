import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { createLogger, createRedis } from '@proteus/common';
import { createObjectStorage } from '@proteus/common/storage';
import { createEvent, type ProteusEvent, toBinaryHttp, toStructuredHttp } from '@proteus/eventing';
import { isolatedBucket, isolatedRedisUrl } from '@proteus/testkit';
import type { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createApp, type SegmentDeps } from './app.ts';

const PROBLEMS = 'https://proteus.dev/problems/';
const cleanups: (() => unknown)[] = [];
afterAll(async () => {
  for (const c of cleanups.reverse()) await c();
});

const log = createLogger('segment', { write: () => undefined });
let redis: Redis;
let deps: SegmentDeps;
let bucketAccess: Awaited<ReturnType<typeof isolatedBucket>>;

beforeAll(async () => {
  redis = createRedis(await isolatedRedisUrl(), 'segment-test');
  cleanups.push(() => redis.disconnect());
  bucketAccess = await isolatedBucket();
  cleanups.push(bucketAccess.drop);
  const storage = createObjectStorage({ ...bucketAccess.server, bucket: bucketAccess.bucket });
  cleanups.push(() => storage.close());
  deps = { redis, storage, log };
}, 30_000);

const vector = (name: string) =>
  JSON.parse(readFileSync(join(import.meta.dirname, '..', '..', '..', 'eventing', 'test-vectors', 'valid', `${name}.json`), 'utf8')) as ProteusEvent;
const post = (request: { headers: Record<string, string>; body: string }) => createApp(deps).request('/', { method: 'POST', ...request });

async function expectProblem(response: Response, status: number, slug: string) {
  expect(response.status).toBe(status);
  expect(response.headers.get('content-type')).toBe('application/problem+json');
  const body = (await response.json()) as { type: string; status: number; detail?: string; instance?: string };
  expect(body).toMatchObject({ type: PROBLEMS + slug, status, instance: '/' });
  return body;
}

describe('GET /health', () => {
  it('is ok against the real Redis and bucket', async () => {
    const response = await createApp(deps).request('/health');
    expect(response.status).toBe(200);
    expect(await response.json()).toMatchObject({
      status: 'ok',
      part: 'segment',
      checks: { redis: { status: 'ok' }, objectStorage: { status: 'ok', detail: `bucket ${bucketAccess.bucket}` } },
    });
  });

  it('is 503 when object storage refuses the keys', async () => {
    const refused = createObjectStorage({ ...bucketAccess.server, bucket: bucketAccess.bucket, secretAccessKey: 'wrong-secret' });
    cleanups.push(() => refused.close());
    const response = await createApp({ ...deps, storage: refused }).request('/health');
    expect(response.status).toBe(503);
    expect(await response.json()).toMatchObject({ status: 'error', checks: { redis: { status: 'ok' }, objectStorage: { status: 'error' } } });
  });
});

describe('POST / (the segment.requested sink)', () => {
  it('answers a valid dev.proteus.segment.requested with 501 not-implemented (until issue #5)', async () => {
    const problem = await expectProblem(await post(toBinaryHttp(vector('segment-requested'))), 501, 'not-implemented');
    expect(problem.detail).toContain('issue #5');
  });

  it('reads structured mode the same way', async () => {
    await expectProblem(await post(toStructuredHttp(vector('segment-requested'))), 501, 'not-implemented');
  });

  it('refuses another event type: 400 unexpected-event-type', async () => {
    const tick = createEvent('dev.proteus.arbitrator.tick', 'eventing', { seq: 0, skipped: 0 });
    const problem = await expectProblem(await post(toBinaryHttp(tick)), 400, 'unexpected-event-type');
    expect(problem.detail).toBe('this sink takes dev.proteus.segment.requested, not dev.proteus.arbitrator.tick');
  });

  it.each([
    ['plain JSON', { headers: { 'content-type': 'application/json' }, body: '{"imageKey":"x"}' }],
    ['malformed structured JSON', { headers: { 'content-type': 'application/cloudevents+json' }, body: '{"spec' }],
    ['malformed binary data', { headers: { ...toBinaryHttp(vector('segment-requested')).headers }, body: '{"jobId":' }],
    ['an unknown type', toStructuredHttp({ ...vector('segment-requested'), type: 'dev.proteus.nope' } as unknown as ProteusEvent)],
  ])('refuses garbage (%s): 400 invalid-event', async (_what, request) => {
    await expectProblem(await post(request), 400, 'invalid-event');
  });

  it('refuses a request whose image key escapes the user prefix: 400 invalid-event naming the field', async () => {
    const event = vector('segment-requested');
    const bad = { ...event, data: { ...(event.data as object), imageKey: 'users/u1/../u2/garment/g1.jpg' } } as unknown as ProteusEvent;
    const problem = (await expectProblem(await post(toBinaryHttp(bad)), 400, 'invalid-event')) as { errors?: { path: string }[] };
    expect(problem.errors?.map((e) => e.path)).toContain('data.imageKey');
  });

  it('answers other paths with a 404 problem', async () => {
    const response = await createApp(deps).request('/segment', { method: 'POST' });
    expect(response.status).toBe(404);
    expect(response.headers.get('content-type')).toBe('application/problem+json');
  });
});

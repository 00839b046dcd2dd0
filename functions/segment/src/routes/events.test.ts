/**
 * POST / (the sink of queue:segment) against the real Redis and S3 server: the image is read
 * from the bucket, the PNG written back under the jobId, the lifecycle event emitted; bad input
 * ends the job with segment.failed and a 2xx (never retried), a dependency down answers 503
 * (retried), and what is not a valid segment.requested answers 400 (dead-lettered).
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { GetObjectCommand, PutObjectCommand } from '@aws-sdk/client-s3';
import { createObjectStorage } from '@proteus/common/storage';
import { createEvent, createProducer, keys, type ProteusEvent, toBinaryHttp, toStructuredHttp } from '@proteus/eventing';
import { Redis } from 'ioredis';
import sharp from 'sharp';
import { afterAll, beforeAll, beforeEach, describe, expect, inject, it } from 'vitest';
import { type TestWorld, testWorld } from '../../test/deps.ts';
import { createApp, type SegmentDeps } from '../app.ts';
import { CLASS } from '../labels.ts';

const PROBLEMS = 'https://proteus.dev/problems/';
let w: TestWorld;
let astronaut: Buffer;

beforeAll(async () => {
  w = await testWorld();
  astronaut = readFileSync(inject('astronaut'));
}, 60_000);
afterAll(() => w?.close());
beforeEach(async () => {
  await w.redis.del(keys.streams.lifecycle);
});

async function put(key: string, body: Uint8Array, contentType: string) {
  await w.storage.client.send(new PutObjectCommand({ Bucket: w.storage.bucket, Key: key, Body: body, ContentType: contentType }));
}

async function get(key: string): Promise<{ bytes: Buffer; contentType: string | undefined } | undefined> {
  try {
    const object = await w.storage.client.send(new GetObjectCommand({ Bucket: w.storage.bucket, Key: key }));
    return { bytes: Buffer.from(await object.Body!.transformToByteArray()), contentType: object.ContentType };
  } catch {
    return undefined;
  }
}

function requested(data: Partial<{ jobId: string; imageKey: string; purpose: 'garment' | 'person-mask' }> = {}) {
  return createEvent('dev.proteus.segment.requested', 'api', {
    jobId: 'job-1',
    userId: 'u1',
    vtonId: 'v1',
    imageKey: 'users/u1/garment/g1.png',
    purpose: 'garment',
    ...data,
  });
}

const post = (deps: SegmentDeps, request: { headers: Record<string, string>; body: string }) => createApp(deps).request('/', { method: 'POST', ...request });

/** The lifecycle events emitted so far. */
async function emitted(): Promise<ProteusEvent[]> {
  const entries = await w.redis.xrange(keys.streams.lifecycle, '-', '+');
  return entries.map(([, fields]) => JSON.parse(fields[1]!) as ProteusEvent);
}

async function expectProblem(response: Response, status: number, slug: string) {
  expect(response.status).toBe(status);
  expect(response.headers.get('content-type')).toBe('application/problem+json');
  const body = (await response.json()) as { type: string; status: number; detail?: string; errors?: { path: string }[] };
  expect(body).toMatchObject({ type: PROBLEMS + slug, status });
  return body;
}

describe('a segment.requested for a garment photo', () => {
  beforeAll(() => put('users/u1/garment/g1.png', astronaut, 'image/png'));

  it('writes the cut-out to users/<u>/cloth_clean/<jobId>.png and emits segment.completed (binary mode)', async () => {
    const response = await post(w.deps(), toBinaryHttp(requested()));
    expect(response.status).toBe(200);
    expect(await response.json()).toEqual({ status: 'completed', resultKey: 'users/u1/cloth_clean/job-1.png', eventId: 'job-1-completed' });

    const stored = await get('users/u1/cloth_clean/job-1.png');
    expect(stored?.contentType).toBe('image/png');
    expect(await sharp(stored!.bytes).metadata()).toMatchObject({ format: 'png', channels: 4, hasAlpha: true });
    const events = await emitted();
    expect(events).toHaveLength(1);
    expect(events[0]).toMatchObject({
      type: 'dev.proteus.segment.completed',
      source: '/proteus/segment',
      id: 'job-1-completed',
      data: { jobId: 'job-1', userId: 'u1', vtonId: 'v1', resultKey: 'users/u1/cloth_clean/job-1.png' },
    });
  });

  it('handles a re-delivery the same way: the same object rewritten, the same event id (the sink dedupes)', async () => {
    const deps = w.deps();
    await post(deps, toStructuredHttp(requested({ jobId: 'job-again' })));
    const first = await get('users/u1/cloth_clean/job-again.png');
    const response = await post(deps, toStructuredHttp(requested({ jobId: 'job-again' })));
    expect(response.status).toBe(200);
    expect((await get('users/u1/cloth_clean/job-again.png'))?.bytes.equals(first!.bytes)).toBe(true);
    expect((await emitted()).map((e) => e.id)).toEqual(['job-again-completed', 'job-again-completed']);
  });

  it('writes a person mask to users/<u>/mask/<jobId>.png', async () => {
    await put('users/u1/person/p1_verified.png', astronaut, 'image/png');
    const response = await post(w.deps(), toBinaryHttp(requested({ jobId: 'job-2', imageKey: 'users/u1/person/p1_verified.png', purpose: 'person-mask' })));
    expect(await response.json()).toMatchObject({ status: 'completed', resultKey: 'users/u1/mask/job-2.png' });
    const stored = await get('users/u1/mask/job-2.png');
    expect(await sharp(stored!.bytes).metadata()).toMatchObject({ format: 'png', width: 512, height: 512, channels: 1 });
    expect((await emitted())[0]).toMatchObject({ type: 'dev.proteus.segment.completed', data: { resultKey: 'users/u1/mask/job-2.png' } });
  });

  it('counts the outcome in /metrics', async () => {
    const deps = w.deps();
    await post(deps, toBinaryHttp(requested({ jobId: 'job-3' })));
    const text = await (await createApp(deps).request('/metrics')).text();
    expect(text).toContain('proteus_segment_outcomes_total{via="event",purpose="garment",outcome="completed"} 1');
    expect(text).toMatch(/proteus_segment_seconds_count\{via="event",purpose="garment"\} 1/);
    expect(text).toMatch(/proteus_segment_inference_seconds_count 1/);
  });
});

describe('bad input ends the job: segment.failed with the reason, 200, nothing written', () => {
  const noisy = () =>
    sharp(Buffer.from(Array.from({ length: 64 * 64 * 3 }, (_, i) => (i * 7919) % 256)), { raw: { width: 64, height: 64, channels: 3 } })
      .jpeg()
      .toBuffer();

  it.each([
    ['a missing object', 'users/u1/garment/nope.jpg', undefined, {}, 'image-not-found: no object "users/u1/garment/nope.jpg"'],
    [
      'bytes that are not an image',
      'users/u1/garment/text.jpg',
      async () => Buffer.from('hello'),
      {},
      'not-an-image: the first bytes are not those of a JPEG, PNG or WebP image',
    ],
    ['an empty object', 'users/u1/garment/empty.jpg', async () => Buffer.alloc(0), {}, 'image-empty: the image has 0 bytes'],
    ['a truncated JPEG', 'users/u1/garment/cut.jpg', async () => (await noisy()).subarray(0, 900), {}, /^image-truncated: the jpeg data does not decode/],
    [
      'too many bytes (refused from the object size, unread)',
      'users/u1/garment/big.png',
      async () => astronaut,
      { limits: { maxBytes: 1000, maxPixels: 4_000_000 } },
      /^image-too-large: \d+ bytes, at most 1000$/,
    ],
    [
      'too many pixels',
      'users/u1/garment/wide.png',
      async () => astronaut,
      { limits: { maxBytes: 2_000_000, maxPixels: 1000 } },
      'image-too-many-pixels: 512x512 = 262144 pixels, at most 1000',
    ],
    [
      'no garment of the chosen classes',
      'users/u1/garment/g2.png',
      async () => astronaut,
      { classes: [CLASS.Scarf] },
      /^no-garment: found 0 pixels of Scarf in 512x512/,
    ],
  ] as const)('%s', async (_what, imageKey, bytes, settings, reason) => {
    const body = bytes ? await bytes() : undefined;
    if (body) await put(imageKey, body, 'image/png');
    const jobId = `job-${imageKey.split('/')[3]!.split('.')[0]}`;
    const response = await post(w.deps(settings), toBinaryHttp(requested({ jobId, imageKey })));
    expect(response.status).toBe(200);
    const outcome = (await response.json()) as { status: string; reason: string; error: string };
    expect(outcome.status).toBe('failed');
    if (typeof reason === 'string') expect(outcome.error).toBe(reason);
    else expect(outcome.error).toMatch(reason);
    expect(outcome.reason).toBe(outcome.error.split(':')[0]);
    const events = await emitted();
    expect(events).toHaveLength(1);
    expect(events[0]).toMatchObject({
      type: 'dev.proteus.segment.failed',
      source: '/proteus/segment',
      id: `${jobId}-failed`,
      data: { jobId, userId: 'u1', vtonId: 'v1', error: outcome.error },
    });
    expect(await get(`users/u1/cloth_clean/${jobId}.png`)).toBeUndefined();
  });
});

describe('a dependency down: 503, retried by the stream source', () => {
  beforeAll(() => put('users/u1/garment/g1.png', astronaut, 'image/png'));

  it('object storage unreachable', async () => {
    const unreachable = createObjectStorage({ ...w.bucket.server, endpoint: 'http://127.0.0.1:1', bucket: w.storage.bucket });
    try {
      await expectProblem(await post(w.deps({}, { storage: unreachable }), toBinaryHttp(requested())), 503, 'unavailable');
    } finally {
      unreachable.close();
    }
    expect(await emitted()).toEqual([]);
  });

  it('object storage refusing the keys', async () => {
    const refused = createObjectStorage({ ...w.bucket.server, secretAccessKey: 'wrong-secret', bucket: w.storage.bucket });
    try {
      await expectProblem(await post(w.deps({}, { storage: refused }), toBinaryHttp(requested())), 503, 'unavailable');
    } finally {
      refused.close();
    }
    expect(await emitted()).toEqual([]);
  });

  it('Redis down when the outcome is to be told', async () => {
    const down = new Redis('redis://127.0.0.1:1', { lazyConnect: true, maxRetriesPerRequest: 0, enableOfflineQueue: false, retryStrategy: () => null });
    try {
      await expectProblem(await post(w.deps({}, { producer: createProducer(down) }), toBinaryHttp(requested({ jobId: 'job-redis' }))), 503, 'unavailable');
    } finally {
      down.disconnect();
    }
  });

  it('busy: a request past the queue answers 503 with Retry-After, and is taken once there is room', async () => {
    const deps = w.deps({ concurrency: 1, maxWaiting: 0 });
    let release!: () => void;
    const occupied = deps.segmentation.gate.run(() => new Promise<void>((r) => (release = r)));
    const busy = await post(deps, toBinaryHttp(requested({ jobId: 'job-busy' })));
    expect(busy.headers.get('retry-after')).toBe('1');
    await expectProblem(busy, 503, 'busy');
    expect(await emitted()).toEqual([]);
    release();
    await occupied;
    expect((await post(deps, toBinaryHttp(requested({ jobId: 'job-busy' })))).status).toBe(200);
  });
});

describe('what is not a valid segment.requested: 400, dead-lettered', () => {
  const vector = (name: string) =>
    JSON.parse(readFileSync(join(import.meta.dirname, '..', '..', '..', '..', 'eventing', 'test-vectors', 'valid', `${name}.json`), 'utf8')) as ProteusEvent;

  it('refuses another event type: 400 unexpected-event-type', async () => {
    const tick = createEvent('dev.proteus.arbitrator.tick', 'eventing', { seq: 0, skipped: 0 });
    const problem = await expectProblem(await post(w.deps(), toBinaryHttp(tick)), 400, 'unexpected-event-type');
    expect(problem.detail).toBe('this sink takes dev.proteus.segment.requested, not dev.proteus.arbitrator.tick');
  });

  it.each([
    ['plain JSON', { headers: { 'content-type': 'application/json' }, body: '{"imageKey":"x"}' }],
    ['malformed structured JSON', { headers: { 'content-type': 'application/cloudevents+json' }, body: '{"spec' }],
    ['malformed binary data', { headers: { ...toBinaryHttp(vector('segment-requested')).headers }, body: '{"jobId":' }],
    ['an unknown type', toStructuredHttp({ ...vector('segment-requested'), type: 'dev.proteus.nope' } as unknown as ProteusEvent)],
  ])('refuses garbage (%s): 400 invalid-event', async (_what, request) => {
    await expectProblem(await post(w.deps(), request), 400, 'invalid-event');
  });

  it('refuses a request whose image key escapes the user prefix, naming the field', async () => {
    const event = vector('segment-requested');
    const bad = { ...event, data: { ...(event.data as object), imageKey: 'users/u1/../u2/garment/g1.jpg' } } as unknown as ProteusEvent;
    const problem = await expectProblem(await post(w.deps(), toBinaryHttp(bad)), 400, 'invalid-event');
    expect(problem.errors?.map((e) => e.path)).toContain('data.imageKey');
  });

  it('refuses an event larger than 64 KiB: 413', async () => {
    const request = toStructuredHttp(requested());
    await expectProblem(await post(w.deps(), { ...request, body: request.body.replace('{', `{"pad":"${'x'.repeat(70_000)}",`) }), 413, 'event-too-large');
  });

  it('emits nothing for them (the stream source dead-letters the event and fails the job)', async () => {
    const response = await post(w.deps(), toBinaryHttp({ ...requested(), data: { ...requested().data, imageKey: 'nope' } } as unknown as ProteusEvent));
    expect(response.status).toBe(400);
    expect(await emitted()).toEqual([]);
  });
});

/**
 * What the source promises beyond one delivery: Retry-After, the in-flight limit, structured
 * mode, taking over a dead consumer's entries (and never a live one's), the stop deadline, a
 * sink that is down for 10 s, and its metrics. Real Redis, real sinks.
 */
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { isolatedRedisUrl, waitFor } from '@proteus/testkit';
import { Redis } from 'ioredis';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { type Respond, type Sink, startSink } from '../test/sink.ts';
import { createEvent, type ProteusEvent, parseEvent } from './events.ts';
import { groups, streams } from './keys.ts';
import { createProducer } from './producer.ts';
import { createSourceMetrics } from './source-metrics.ts';
import { createStreamSource, retryAfterMs, type StreamSourceOptions } from './stream-source.ts';
import { type Delivery, defaultDelivery, type StreamRoute, streamRoutes } from './topology.ts';

const stream = streams.lifecycle;
const group = groups.recorders;
const silent = { info() {}, warn() {}, error() {} };

let redis: Redis;
let cleanups: (() => Promise<void> | void)[];
beforeEach(async () => {
  redis = new Redis(await isolatedRedisUrl());
  cleanups = [];
});
afterEach(async () => {
  for (const c of cleanups.reverse()) await c();
  redis.disconnect();
});

function route(delivery: Partial<Delivery> = {}, inFlight = 1): StreamRoute {
  return {
    name: 'guarantees',
    stream,
    group,
    sink: { part: 'api', path: '/events' },
    delivery: { ...defaultDelivery, retry: 3, backoffDelay: 'PT0.01S', timeout: 'PT2S', ...delivery },
    inFlight,
  };
}

async function sink(respond?: Respond): Promise<Sink> {
  const s = await startSink(respond);
  cleanups.push(() => s.close());
  return s;
}

function source(sinkUrl: string, r: StreamRoute, options: Partial<StreamSourceOptions> = {}) {
  const s = createStreamSource({ redis, routes: [{ route: r, sinkUrl }], consumer: 'consumer-1', log: silent, blockMs: 50, ...options });
  s.start();
  let stopped = false;
  cleanups.push(async () => {
    if (!stopped) await s.stop();
  });
  return {
    async stop() {
      stopped = true;
      await s.stop();
    },
  };
}

let seq = 0;
const event = () => createEvent('dev.proteus.tryon.progress', 'gpu-worker', { jobId: `job-${++seq}`, userId: 'u1', step: 1, steps: 4 });
const emit = async (e: ProteusEvent = event()) => ({ id: await createProducer(redis).emit(stream, e), event: e });
const pendingCount = async () => Number(((await redis.xpending(stream, group)) as [number])[0]);
const delivered = (s: Sink) => new Set(s.requests.filter((r) => r.headers.get('ce-id')).map((r) => r.headers.get('ce-id')));

describe('Retry-After', () => {
  it('parses delta-seconds and HTTP dates', () => {
    expect(retryAfterMs('3')).toBe(3000);
    expect(retryAfterMs(new Date(10_000).toUTCString(), 4000)).toBe(6000);
    expect(retryAfterMs('soon')).toBeUndefined();
    expect(retryAfterMs(undefined)).toBeUndefined();
  });

  it('waits at least what a 429 asks before the next attempt', async () => {
    const s = await sink((r) => (r.n === 1 ? { status: 429, delayMs: 0, headers: { 'retry-after': '1' } } : 202));
    source(s.url, route());
    await emit();
    await waitFor(() => s.requests.length === 2, { timeoutMs: 5000, what: 'the retry' });
    const gap = s.requests[1]!.receivedAt - s.requests[0]!.receivedAt;
    expect(gap).toBeGreaterThanOrEqual(950);
  });

  it('caps Retry-After at retryAfterMax', async () => {
    const s = await sink((r) => (r.n === 1 ? { status: 503, delayMs: 0, headers: { 'retry-after': '100' } } : 202));
    source(s.url, route({ retryAfterMax: 'PT0.3S' }));
    await emit();
    await waitFor(() => s.requests.length === 2, { timeoutMs: 5000, what: 'the retry' });
    const gap = s.requests[1]!.receivedAt - s.requests[0]!.receivedAt;
    expect(gap).toBeGreaterThanOrEqual(280);
    expect(gap).toBeLessThan(2000);
  });
});

describe('in-flight limit', () => {
  it('keeps exactly up to inFlight deliveries under way and delivers all', async () => {
    const s = await sink(() => ({ status: 202, delayMs: 100 }));
    for (let i = 0; i < 40; i++) await emit();
    source(s.url, route({}, 8));
    await waitFor(async () => delivered(s).size === 40 && (await pendingCount()) === 0, { timeoutMs: 10_000, what: '40 deliveries' });
    expect(s.maxInFlight).toBe(8);
  });
});

describe('structured mode', () => {
  it('sends application/cloudevents+json with the whole event as the body', async () => {
    const s = await sink(() => 202);
    source(s.url, route(), { mode: 'structured' });
    const { event: sent } = await emit();
    await waitFor(() => s.requests.length === 1, { what: 'a delivery' });
    expect(s.requests[0]!.headers.get('content-type')).toMatch(/^application\/cloudevents\+json/);
    expect(JSON.parse(s.requests[0]!.body)).toEqual(sent);
  });
});

describe('dead consumers', () => {
  it('takes over entries a crashed consumer left pending once they are idle, and delivers each once', async () => {
    const s = await sink(() => 202);
    await redis.xgroup('CREATE', stream, group, '0', 'MKSTREAM');
    const ids: string[] = [];
    for (let i = 0; i < 5; i++) ids.push((await emit()).id);
    // "crash": another consumer reads them and is never heard of again
    await redis.xreadgroup('GROUP', group, 'crashed', 'COUNT', 5, 'STREAMS', stream, '>');
    expect(await pendingCount()).toBe(5);
    source(s.url, route(), { reclaimIdleMs: 200, reclaimIntervalMs: 50 });
    await waitFor(async () => (await pendingCount()) === 0 && s.requests.length === 5, { timeoutMs: 5000, what: 'the takeover' });
    expect(delivered(s).size).toBe(5);
  });

  it('keeps its own claims alive through long retries, so a second instance never steals them', async () => {
    const failing = await sink(() => 503);
    const second = await sink(() => 202);
    source(failing.url, route({ retry: 100, backoffDelay: 'PT0.05S', backoffPolicy: 'linear' }), { reclaimIdleMs: 300, reclaimIntervalMs: 50 });
    await emit();
    await waitFor(() => failing.requests.length >= 2, { what: 'retries' });
    const other = createStreamSource({
      redis,
      routes: [{ route: route(), sinkUrl: second.url }],
      consumer: 'consumer-2',
      log: silent,
      blockMs: 50,
      reclaimIdleMs: 300,
      reclaimIntervalMs: 50,
    });
    other.start();
    cleanups.push(() => other.stop());
    await new Promise((r) => setTimeout(r, 1500));
    expect(second.requests).toHaveLength(0);
    const [, , , consumers] = (await redis.xpending(stream, group)) as [number, string, string, [string, string][]];
    expect(consumers).toEqual([['consumer-1', '1']]);
  });
});

describe('stop', () => {
  it('cuts a delivery still under way at the deadline and leaves its entry pending, not dead', async () => {
    const s = await sink(() => ({ status: 202, delayMs: 3000 }));
    const running = source(s.url, route(), { stopDeadlineMs: 200 });
    await emit();
    await waitFor(() => s.requests.length === 1, { what: 'the delivery to start' });
    const t0 = performance.now();
    await running.stop();
    expect(performance.now() - t0).toBeLessThan(1500);
    expect(await pendingCount()).toBe(1);
    expect(await redis.xlen(streams.dead)).toBe(0);
  });
});

describe('a sink down for 10 s', () => {
  it('receives everything once it is back, nothing dead-lettered', async () => {
    // reserve a port, close it: the sink will come back on it
    const probe = createServer();
    await new Promise<void>((r) => probe.listen(0, '127.0.0.1', r));
    const port = (probe.address() as AddressInfo).port;
    await new Promise<void>((r) => probe.close(() => r()));
    const url = `http://127.0.0.1:${port}/`;
    // 8 retries, exponential from 0.1 s: about 25 s of patience
    source(url, route({ retry: 8, backoffDelay: 'PT0.1S', timeout: 'PT1S' }, 20));
    const sent = new Set<string>();
    for (let i = 0; i < 20; i++) sent.add((await emit()).event.id);
    await new Promise((r) => setTimeout(r, 10_000));
    expect(await pendingCount()).toBe(20);
    const back = await sink(() => 202);
    // the same port again
    const received = new Set<string>();
    const server = createServer((req, res) => {
      received.add(String(req.headers['ce-id']));
      req.resume();
      req.on('end', () => res.writeHead(204).end());
    });
    await back.close();
    await new Promise<void>((r) => server.listen(port, '127.0.0.1', r));
    cleanups.push(() => new Promise<void>((r) => server.close(() => r())));
    await waitFor(async () => received.size === 20 && (await pendingCount()) === 0, { timeoutMs: 25_000, what: 'all 20 after the sink came back' });
    expect(received).toEqual(sent);
    expect(await redis.xlen(streams.dead)).toBe(0);
  }, 45_000);
});

describe('metrics', () => {
  it('count deliveries, retries and dead letters per route and read lag and pending from Redis', async () => {
    const s = await sink((r) => (r.body.includes('"job-bad') ? 400 : r.n === 1 ? 500 : 202));
    const r = route();
    const metrics = createSourceMetrics(redis, [r]);
    source(s.url, r, { metrics });
    await emit();
    await emit(createEvent('dev.proteus.tryon.progress', 'gpu-worker', { jobId: 'job-bad', userId: 'u1', step: 1, steps: 4 }));
    await waitFor(async () => (await pendingCount()) === 0 && (await redis.xlen(streams.dead)) === 1, { what: 'both settled' });
    const text = await metrics.registry.metrics();
    expect(text).toContain('proteus_eventing_delivered_total{route="guarantees"} 1');
    expect(text).toContain('proteus_eventing_retried_total{route="guarantees"} 1');
    expect(text).toContain('proteus_eventing_dead_lettered_total{route="guarantees",why="rejected"} 1');
    expect(text).toContain('proteus_eventing_group_pending{route="guarantees"} 0');
    expect(text).toContain('proteus_eventing_group_lag{route="guarantees"} 0');
    expect(text).toMatch(/proteus_eventing_delivery_seconds_count\{route="guarantees"\} 1/);
  });
});

describe('dead letters that fail their job', () => {
  it('tells the owner: a segmentation request that cannot be delivered becomes segment.failed on the lifecycle stream, in the same step', async () => {
    const s = await sink(() => 400);
    const segmentRoute = streamRoutes.find((r) => r.name === 'segment-requests')!;
    const r: StreamRoute = { ...segmentRoute, delivery: { ...segmentRoute.delivery, retry: 0 }, inFlight: 1 };
    source(s.url, r);
    const request = createEvent('dev.proteus.segment.requested', 'api', {
      jobId: 'job-9',
      userId: 'u9',
      vtonId: 'v9',
      imageKey: 'users/u9/garment/g.png',
      purpose: 'garment',
    });
    await createProducer(redis).emit(streams.segment, request);
    await waitFor(async () => (await redis.xlen(streams.lifecycle)) === 1, { what: 'the failure notice' });
    const [entry] = await redis.xrange(streams.lifecycle, '-', '+');
    const notice = parseEvent(JSON.parse(entry![1][1]!));
    expect(notice).toMatchObject({ type: 'dev.proteus.segment.failed', source: '/proteus/eventing', data: { jobId: 'job-9', userId: 'u9', vtonId: 'v9' } });
    expect((notice.data as { error: string }).error).toBe('not delivered to segment: sink answered 400');
    expect(await redis.xlen(streams.dead)).toBe(1);
  });

  it('adds no notice for routes without one, nor for malformed entries', async () => {
    const s = await sink(() => 400);
    source(s.url, route({ retry: 0 }));
    await emit();
    await redis.xadd(stream, '*', 'event', 'not json');
    await waitFor(async () => (await redis.xlen(streams.dead)) === 2, { what: 'two dead letters' });
    expect(await redis.xlen(streams.segment)).toBe(0);
    expect((await redis.xrange(stream, '-', '+')).length).toBe(2);
  });
});

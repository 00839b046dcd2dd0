import { createLogger, createRedis } from '@proteus/common';
import { createEvent, keys, type ProteusEvent, parseEvent, toBinaryHttp, toStructuredHttp } from '@proteus/eventing';
import { isolatedRedisUrl } from '@proteus/testkit';
import type { Redis } from 'ioredis';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { createApp } from './app.ts';
import { defaultPolicyConfig, type PolicyConfig } from './policy.ts';
import { createArbitratorMetrics } from './prometheus.ts';

const PROBLEMS = 'https://proteus.dev/problems/';
const configKeys = [keys.config.batchSize, keys.config.degradedMode, keys.config.mode, keys.config.policy];

let redis: Redis;
const lines: Record<string, unknown>[] = [];
const log = createLogger('arbitrator', { write: (line: string) => lines.push(JSON.parse(line) as Record<string, unknown>) });
let clock = Date.now();

beforeAll(async () => {
  redis = createRedis(await isolatedRedisUrl(), 'arbitrator-test');
});
afterAll(() => redis.disconnect());
beforeEach(async () => {
  await redis.flushdb();
  lines.length = 0;
  clock = Date.now();
});

const newApp = (policyConfig: PolicyConfig = defaultPolicyConfig, metrics = createArbitratorMetrics()) =>
  createApp({ redis, log, policyConfig, metrics, now: () => clock });
const tick = (seq = 0) => toBinaryHttp(createEvent('dev.proteus.arbitrator.tick', 'eventing', { seq, skipped: 0 }));
const post = (app: ReturnType<typeof createApp>, request: { headers: Record<string, string>; body: string } = tick()) =>
  app.request('/', { method: 'POST', ...request });

async function waitingJobs(count: number, ageMs = 0) {
  await redis.xgroup('CREATE', keys.streams.jobs, keys.groups.weavers, '0', 'MKSTREAM').catch(() => undefined);
  const enqueued = clock - ageMs;
  for (let i = 0; i < count; i++) await redis.xadd(keys.streams.jobs, `${enqueued}-${i}`, keys.entryField, '{}');
}
const drain = async () => {
  await redis.del(keys.streams.jobs);
  await waitingJobs(0);
};

async function written() {
  const [batchSize, degraded, mode, policy] = await redis.mget(...configKeys);
  return { batchSize, degraded, mode, policy: policy ? (JSON.parse(policy) as Record<string, unknown>) : null };
}

const changes = async () =>
  (await redis.xrange(keys.arbitrator.policyChanges, '-', '+')).map(
    ([, fields]) => parseEvent(JSON.parse(fields[1]!)) as ProteusEvent<'dev.proteus.policy.changed'>,
  );

async function expectProblem(response: Response, status: number, slug: string) {
  expect(response.status).toBe(status);
  expect(response.headers.get('content-type')).toBe('application/problem+json');
  const body = (await response.json()) as { type: string; status: number; detail?: string };
  expect(body).toMatchObject({ type: PROBLEMS + slug, status });
  return body;
}

describe('POST / (the tick sink)', () => {
  it('writes the VIP policy for an empty queue, the whole decision in config:policy', async () => {
    const response = await post(newApp());
    expect(response.status).toBe(204);
    const { batchSize, degraded, mode, policy } = await written();
    expect({ batchSize, degraded, mode }).toEqual({ batchSize: '1', degraded: '0', mode: 'VIP' });
    expect(policy).toEqual({
      batchSize: 1,
      degraded: false,
      mode: 'VIP',
      strategy: 'table',
      reason: 'queue depth 0 <= 10',
      since: clock,
      queueDepth: 0,
      avgWaitMs: 0,
      completions: 0,
      oldestWaitMs: 0,
      arrivalRate: 0,
      workers: 0,
      profileEntries: 0,
      at: new Date(clock).toISOString(),
    });
  });

  it('accepts a structured-mode tick', async () => {
    const response = await post(newApp(), toStructuredHttp(createEvent('dev.proteus.arbitrator.tick', 'eventing', { seq: 3, skipped: 1 })));
    expect(response.status).toBe(204);
    expect((await written()).mode).toBe('VIP');
  });

  it('surges to batch 8 with 60 waiting jobs', async () => {
    await waitingJobs(60);
    expect((await post(newApp())).status).toBe(204);
    const { batchSize, degraded, mode, policy } = await written();
    expect({ batchSize, degraded, mode }).toEqual({ batchSize: '8', degraded: '0', mode: 'SURGE' });
    expect(policy).toMatchObject({ queueDepth: 60, reason: 'queue depth 60 > 50' });
  });

  it('degrades to 512 px when the oldest job has waited too long', async () => {
    await waitingJobs(20, 20_000);
    expect((await post(newApp())).status).toBe(204);
    const { batchSize, degraded, mode } = await written();
    expect({ batchSize, degraded, mode }).toEqual({ batchSize: '4', degraded: '1', mode: 'ECONOMY' });
  });
});

describe('dev.proteus.policy.changed', () => {
  it('is appended to the policy stream on the first decision and on each change only, and logged once', async () => {
    const app = newApp();
    expect(((await (await app.request('/health')).json()) as { policy: unknown }).policy).toBeNull();
    await post(app, tick(0));
    await post(app, tick(1));
    await waitingJobs(60);
    await post(app, tick(2));
    await post(app, tick(3));
    const events = await changes();
    expect(events.map((e) => [e.type, e.source])).toEqual([
      ['dev.proteus.policy.changed', '/proteus/arbitrator'],
      ['dev.proteus.policy.changed', '/proteus/arbitrator'],
    ]);
    expect(events.map((e) => e.data)).toEqual([
      { batchSize: 1, degraded: false, mode: 'VIP', reason: 'queue depth 0 <= 10', queueDepth: 0, avgWaitMs: 0 },
      { batchSize: 8, degraded: false, mode: 'SURGE', reason: 'queue depth 60 > 50', queueDepth: 60, avgWaitMs: 0 },
    ]);
    expect(lines.filter((l) => l.msg === 'policy changed').map((l) => l.mode)).toEqual(['VIP', 'SURGE']);
    const health = await app.request('/health');
    expect(health.status).toBe(200);
    expect(await health.json()).toMatchObject({
      status: 'ok',
      part: 'arbitrator',
      checks: { redis: { status: 'ok' } },
      policy: { mode: 'SURGE', batchSize: 8 },
    });
  });

  it('records every change, in order, when the policy has no hysteresis', async () => {
    const app = newApp({ ...defaultPolicyConfig, holdMs: 0, vipReturnDepth: 10, economyReturnDepth: 50 });
    for (let i = 0; i < 6; i++) {
      if (i % 2) await waitingJobs(60);
      else await drain();
      await post(app, tick(i));
    }
    expect((await changes()).map((e) => e.data.mode)).toEqual(['VIP', 'SURGE', 'VIP', 'SURGE', 'VIP', 'SURGE']);
  });

  it('is not repeated after a restart when the stored decision stands; its hold time carries over', async () => {
    await waitingJobs(60);
    await post(newApp());
    await drain();
    clock += 1000;
    const restarted = newApp();
    await post(restarted);
    expect((await written()).mode).toBe('SURGE');
    expect(lines.filter((l) => l.msg === 'policy changed')).toHaveLength(1);
    clock += defaultPolicyConfig.holdMs;
    await post(restarted);
    expect((await written()).mode).toBe('VIP');
    expect((await changes()).map((e) => e.data.mode)).toEqual(['SURGE', 'VIP']);
  });

  it.each([
    ['not JSON', '{oops'],
    ['a batch size out of range', JSON.stringify({ batchSize: 0, degraded: false, mode: 'VIP', reason: 'r', strategy: 'table', since: 0 })],
    ['an unknown mode', JSON.stringify({ batchSize: 1, degraded: false, mode: 'TURBO', reason: 'r', strategy: 'table', since: 0 })],
  ])('ignores a stored config:policy that is %s, with a warning', async (_what, stored) => {
    await redis.set(keys.config.policy, stored);
    const metrics = createArbitratorMetrics();
    expect((await post(newApp(defaultPolicyConfig, metrics))).status).toBe(204);
    expect((await written()).mode).toBe('VIP');
    expect(await changes()).toHaveLength(1);
    expect(lines.some((l) => l.msg === 'ignoring a malformed config:policy')).toBe(true);
    expect(await metrics.registry.getSingleMetricAsString('proteus_arbitrator_metric_errors_total')).toContain('metric="stored-policy",fatal="false"} 1');
  });
});

describe('missing or malformed metrics', () => {
  it('keeps the last good policy: 503 metrics-unavailable, nothing written, the error metric raised', async () => {
    const metrics = createArbitratorMetrics();
    const app = newApp(defaultPolicyConfig, metrics);
    await waitingJobs(60);
    await post(app);
    const before = await written();
    await redis.del(keys.streams.jobs);
    await redis.set(keys.streams.jobs, 'not a stream');
    const problem = await expectProblem(await post(app), 503, 'metrics-unavailable');
    expect(problem.detail).toMatch(/^queue-depth: WRONGTYPE .*; the last good policy stays$/);
    expect(await written()).toEqual(before);
    expect(await changes()).toHaveLength(1);
    const text = await metrics.registry.metrics();
    expect(text).toContain('proteus_arbitrator_metric_errors_total{metric="queue-depth",fatal="true"} 1');
    expect(text).toContain('proteus_arbitrator_ticks_total{outcome="kept"} 1');
    expect(text).toContain('proteus_arbitrator_ticks_total{outcome="decided"} 1');
    expect(lines.find((l) => l.msg === 'metrics unavailable; keeping the last good policy')).toMatchObject({
      level: 'warn',
      metric: 'queue-depth',
      policy: 'SURGE',
    });
    const health = (await (await app.request('/health')).json()) as { policy: { mode: string } };
    expect(health.policy.mode).toBe('SURGE');
  });

  it('names the wait metric when events:jobs is not a stream', async () => {
    await redis.set(keys.streams.lifecycle, 'x');
    const problem = await expectProblem(await post(newApp()), 503, 'metrics-unavailable');
    expect(problem).toMatchObject({ metric: 'wait' });
    expect(await redis.exists(...configKeys)).toBe(0);
  });

  it('decides without malformed entries and counts them', async () => {
    const metrics = createArbitratorMetrics();
    await redis.xadd(keys.streams.lifecycle, '*', keys.entryField, '{garbage');
    await redis.hset(keys.worker.profile, 'nonsense', '1');
    expect((await post(newApp(defaultPolicyConfig, metrics))).status).toBe(204);
    const text = await metrics.registry.metrics();
    expect(text).toContain('proteus_arbitrator_metric_errors_total{metric="wait",fatal="false"} 1');
    expect(text).toContain('proteus_arbitrator_metric_errors_total{metric="profile",fatal="false"} 1');
    expect(lines.filter((l) => l.msg === 'left out a malformed metric entry')).toHaveLength(2);
  });
});

describe('GET /metrics', () => {
  it('exports the last decision and its inputs', async () => {
    const app = newApp();
    await waitingJobs(12);
    await post(app);
    const response = await app.request('/metrics');
    expect(response.status).toBe(200);
    const text = await response.text();
    expect(text).toContain('proteus_arbitrator_batch_size 4');
    expect(text).toContain('proteus_arbitrator_queue_depth 12');
    expect(text).toContain('proteus_arbitrator_policy_changes_total{mode="ECONOMY"} 1');
  });
});

describe('bad requests', () => {
  const nothingWritten = async () => expect(await redis.exists(...configKeys)).toBe(0);

  it('refuses another event type: 400 unexpected-event-type, nothing written', async () => {
    const other = createEvent('dev.proteus.tryon.progress', 'gpu-worker', { jobId: 'j1', userId: 'u1', step: 1, steps: 4 });
    const problem = await expectProblem(await post(newApp(), toBinaryHttp(other)), 400, 'unexpected-event-type');
    expect(problem.detail).toBe('this sink takes dev.proteus.arbitrator.tick, not dev.proteus.tryon.progress');
    await nothingWritten();
  });

  it.each([
    ['plain JSON', { headers: { 'content-type': 'application/json' }, body: '{"seq":0}' }],
    ['malformed structured JSON', { headers: { 'content-type': 'application/cloudevents+json' }, body: '{"spec' }],
    ['no body at all', { headers: {}, body: '' }],
  ])('refuses garbage (%s): 400 invalid-event, nothing written', async (_what, request) => {
    await expectProblem(await post(newApp(), request), 400, 'invalid-event');
    await nothingWritten();
  });

  it('refuses a tick whose data breaks the contract: 400 invalid-event, nothing written', async () => {
    const { headers } = tick();
    await expectProblem(await post(newApp(), { headers, body: '{"seq":-1,"skipped":0}' }), 400, 'invalid-event');
    await nothingWritten();
  });

  it('answers other paths with a 404 problem', async () => {
    const response = await newApp().request('/nope');
    expect(response.status).toBe(404);
    expect(response.headers.get('content-type')).toBe('application/problem+json');
  });
});

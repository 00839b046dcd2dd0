import { createLogger, createRedis } from '@proteus/common';
import { createEvent, keys, toBinaryHttp, toStructuredHttp } from '@proteus/eventing';
import { isolatedRedisUrl } from '@proteus/testkit';
import type { Redis } from 'ioredis';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { createApp } from './app.ts';
import { defaultPolicyConfig } from './policy.ts';

const PROBLEMS = 'https://proteus.dev/problems/';
const configKeys = [keys.config.batchSize, keys.config.degradedMode, keys.config.mode, keys.config.policy];

let redis: Redis;
const lines: Record<string, unknown>[] = [];
const log = createLogger('arbitrator', { write: (line: string) => lines.push(JSON.parse(line) as Record<string, unknown>) });

beforeAll(async () => {
  redis = createRedis(await isolatedRedisUrl(), 'arbitrator-test');
});
afterAll(() => redis.disconnect());
beforeEach(async () => {
  await redis.flushdb();
  lines.length = 0;
});

const newApp = () => createApp({ redis, log, policyConfig: defaultPolicyConfig });
const tick = (seq = 0) => toBinaryHttp(createEvent('dev.proteus.arbitrator.tick', 'eventing', { seq, skipped: 0 }));
const post = (app: ReturnType<typeof createApp>, request: { headers: Record<string, string>; body: string }) =>
  app.request('/', { method: 'POST', ...request });

async function waitingJobs(count: number, ageMs = 0) {
  await redis.xgroup('CREATE', keys.streams.jobs, keys.groups.weavers, '0', 'MKSTREAM');
  const enqueued = Date.now() - ageMs;
  for (let i = 0; i < count; i++) await redis.xadd(keys.streams.jobs, `${enqueued}-${i}`, keys.entryField, '{}');
}

async function written() {
  const [batchSize, degraded, mode, policy] = await redis.mget(...configKeys);
  return { batchSize, degraded, mode, policy: policy ? (JSON.parse(policy) as Record<string, unknown>) : null };
}

async function expectProblem(response: Response, status: number, slug: string) {
  expect(response.status).toBe(status);
  expect(response.headers.get('content-type')).toBe('application/problem+json');
  const body = (await response.json()) as { type: string; status: number; detail?: string };
  expect(body).toMatchObject({ type: PROBLEMS + slug, status });
  expect(await redis.exists(...configKeys)).toBe(0);
  return body;
}

describe('POST / (the tick sink)', () => {
  it('writes the VIP policy for an empty queue', async () => {
    const response = await post(newApp(), tick());
    expect(response.status).toBe(204);
    const { batchSize, degraded, mode, policy } = await written();
    expect({ batchSize, degraded, mode }).toEqual({ batchSize: '1', degraded: '0', mode: 'VIP' });
    expect(policy).toMatchObject({ batchSize: 1, degraded: false, mode: 'VIP', queueDepth: 0, avgWaitMs: 0, reason: 'queue depth 0 <= 10' });
    expect(Date.now() - Date.parse(String(policy?.at))).toBeLessThan(5000);
  });

  it('accepts a structured-mode tick', async () => {
    const response = await post(newApp(), toStructuredHttp(createEvent('dev.proteus.arbitrator.tick', 'eventing', { seq: 3, skipped: 1 })));
    expect(response.status).toBe(204);
    expect((await written()).mode).toBe('VIP');
  });

  it('surges to batch 8 with 60 waiting jobs', async () => {
    await waitingJobs(60);
    expect((await post(newApp(), tick())).status).toBe(204);
    const { batchSize, degraded, mode, policy } = await written();
    expect({ batchSize, degraded, mode }).toEqual({ batchSize: '8', degraded: '0', mode: 'SURGE' });
    expect(policy).toMatchObject({ queueDepth: 60, reason: 'queue depth 60 > 50' });
  });

  it('degrades to 512 px when the oldest job has waited too long', async () => {
    await waitingJobs(20, 20_000);
    expect((await post(newApp(), tick())).status).toBe(204);
    const { batchSize, degraded, mode } = await written();
    expect({ batchSize, degraded, mode }).toEqual({ batchSize: '4', degraded: '1', mode: 'ECONOMY' });
  });

  it('logs a policy change once, not on every tick, and reports it on /health', async () => {
    const app = newApp();
    expect(((await (await app.request('/health')).json()) as { policy: unknown }).policy).toBeNull();
    await post(app, tick(0));
    await post(app, tick(1));
    expect(lines.filter((l) => l.msg === 'policy changed')).toHaveLength(1);
    await waitingJobs(60);
    await post(app, tick(2));
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

  it('refuses another event type: 400 unexpected-event-type, nothing written', async () => {
    const other = createEvent('dev.proteus.tryon.progress', 'gpu-worker', { jobId: 'j1', userId: 'u1', step: 1, steps: 4 });
    const problem = await expectProblem(await post(newApp(), toBinaryHttp(other)), 400, 'unexpected-event-type');
    expect(problem.detail).toBe('this sink takes dev.proteus.arbitrator.tick, not dev.proteus.tryon.progress');
  });

  it.each([
    ['plain JSON', { headers: { 'content-type': 'application/json' }, body: '{"seq":0}' }],
    ['malformed structured JSON', { headers: { 'content-type': 'application/cloudevents+json' }, body: '{"spec' }],
    ['no body at all', { headers: {}, body: '' }],
  ])('refuses garbage (%s): 400 invalid-event, nothing written', async (_what, request) => {
    await expectProblem(await post(newApp(), request), 400, 'invalid-event');
  });

  it('refuses a tick whose data breaks the contract: 400 invalid-event, nothing written', async () => {
    const { headers } = tick();
    await expectProblem(await post(newApp(), { headers, body: '{"seq":-1,"skipped":0}' }), 400, 'invalid-event');
  });

  it('answers other paths with a 404 problem', async () => {
    const response = await newApp().request('/nope');
    expect(response.status).toBe(404);
    expect(response.headers.get('content-type')).toBe('application/problem+json');
  });
});

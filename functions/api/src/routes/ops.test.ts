import { createEvent, createProducer, keys } from '@proteus/eventing';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { jsonInit, signUp, type TestAccount } from '../../test/accounts.ts';
import { type ApiWorld, apiWorld, cleanupStack, expectProblem } from '../../test/deps.ts';

const cleanups = cleanupStack();
let w: ApiWorld;
let admin: TestAccount;
let shopper: TestAccount;
beforeAll(async () => {
  w = await apiWorld('pglite', cleanups);
}, 60_000);
afterAll(() => cleanups.run());
beforeEach(async () => {
  await w.reset();
  admin = await signUp(w.app, 'admin@proteus.test');
  shopper = await signUp(w.app, 'shopper@example.com');
});

const status = (bearer?: string) => w.app.request('/api/ops/status', jsonInit('GET', undefined, bearer));

const completed = (jobId: string, waitMs: number) =>
  createEvent('dev.proteus.tryon.completed', 'gpu-worker', {
    jobId,
    userId: shopper.user.id,
    vtonId: 'v1',
    resultKey: keys.objectKey(shopper.user.id, 'results', jobId, 'png'),
    attempts: 1,
    engine: 'warp',
    resolution: '768x1024',
    batchSize: 1,
    waitMs,
    runMs: 30,
  });

describe('GET /api/ops/status', () => {
  it('is for admins: 401 without a token, 403 for a shopper', async () => {
    await expectProblem(await status(), 401, 'unauthorized');
    await expectProblem(await status(shopper.accessToken), 403, 'forbidden');
  });

  it('answers an empty system plainly: depth 0, no policy, no workers, no wait', async () => {
    const response = await status(admin.accessToken);
    expect(response.status).toBe(200);
    expect(await response.json()).toMatchObject({ queueDepth: 0, policy: null, workers: [], waitP95Ms: null, waitWindowS: 60, recentChanges: [] });
  });

  it('reports the queue, the policy, live workers, the wait p95 and the policy changes, newest first', async () => {
    const producer = createProducer(w.redis);
    await w.redis.xgroup('CREATE', keys.streams.jobs, keys.groups.weavers, '0', 'MKSTREAM');
    for (let i = 0; i < 3; i++) {
      await w.redis.xadd(keys.streams.jobs, '*', keys.entryField, '{}');
    }
    // one of the three delivered and pending, two still to deliver: depth 3
    await w.redis.xreadgroup('GROUP', keys.groups.weavers, 'gpu-0', 'COUNT', 1, 'STREAMS', keys.streams.jobs, '>');
    const since = Date.parse('2026-11-29T04:00:00.000Z');
    await w.redis.set(
      keys.config.policy,
      JSON.stringify({ batchSize: 4, degraded: false, mode: 'ECONOMY', reason: 'depth 12 > 10', strategy: 'table', since }),
    );
    await w.redis.set(keys.workerHeartbeat('gpu-0'), JSON.stringify({ name: 'gpu-0', engine: 'warp', pid: 1, at: new Date().toISOString() }));
    for (let i = 1; i <= 20; i++) await producer.emit(keys.streams.lifecycle, completed(`job-${i}`, i * 100));
    for (const [batchSize, mode] of [
      [4, 'ECONOMY'],
      [8, 'SURGE'],
    ] as const) {
      const event = createEvent('dev.proteus.policy.changed', 'arbitrator', {
        batchSize,
        degraded: false,
        mode,
        reason: `to ${mode}`,
        queueDepth: 12,
        avgWaitMs: 900,
      });
      await w.redis.xadd(keys.arbitrator.policyChanges, '*', keys.entryField, JSON.stringify(event));
    }
    await w.redis.xadd(keys.arbitrator.policyChanges, '*', keys.entryField, 'not json');

    const body = (await (await status(admin.accessToken)).json()) as Record<string, unknown>;
    expect(body).toMatchObject({
      queueDepth: 3,
      policy: { batchSize: 4, degraded: false, mode: 'ECONOMY', reason: 'depth 12 > 10', since: '2026-11-29T04:00:00.000Z' },
      workers: [{ name: 'gpu-0', engine: 'warp' }],
      // waits 100..2000 ms: the 19th of 20 is the p95
      waitP95Ms: 1900,
    });
    const changes = body.recentChanges as { mode: string; id: string }[];
    expect(changes.map((c) => c.mode)).toEqual(['SURGE', 'ECONOMY']);
    expect(changes[0]?.id).toMatch(/^\d+-\d+$/);
  });

  it('answers null for a config:policy it cannot read, rather than failing', async () => {
    await w.redis.set(keys.config.policy, '{"batchSize": "many"}');
    expect(await (await status(admin.accessToken)).json()).toMatchObject({ policy: null });
  });
});

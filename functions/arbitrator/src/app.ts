/** The arbitrator: on each tick, read the queue, decide, and write `config:*` for the workers. */
import { type Logger, notFoundHandler, problem, problemErrorHandler, runChecks } from '@proteus/common';
import { EventValidationError, fromHttp, keys } from '@proteus/eventing';
import { Hono } from 'hono';
import type { Redis } from 'ioredis';
import { readQueueMetrics } from './metrics.ts';
import { decidePolicy, type Policy, type PolicyConfig } from './policy.ts';

export interface ArbitratorDeps {
  redis: Redis;
  log: Logger;
  policyConfig: PolicyConfig;
}

export async function handleTick(deps: ArbitratorDeps, previous: Policy | undefined): Promise<Policy> {
  const metrics = await readQueueMetrics(deps.redis);
  const policy = decidePolicy(metrics, previous, deps.policyConfig);
  const record = { ...policy, ...metrics, at: new Date().toISOString() };
  await deps.redis
    .multi()
    .set(keys.config.batchSize, String(policy.batchSize))
    .set(keys.config.degradedMode, policy.degraded ? '1' : '0')
    .set(keys.config.mode, policy.mode)
    .set(keys.config.policy, JSON.stringify(record))
    .exec();
  if (!previous || previous.batchSize !== policy.batchSize || previous.degraded !== policy.degraded || previous.mode !== policy.mode) {
    deps.log.info('policy changed', record);
  }
  return policy;
}

export function createApp(deps: ArbitratorDeps) {
  let previous: Policy | undefined;
  const app = new Hono();
  app.get('/health', async (c) => {
    const report = await runChecks('arbitrator', { redis: async () => deps.redis.ping() });
    return c.json({ ...report, policy: previous ?? null }, report.status === 'ok' ? 200 : 503);
  });
  app.post('/', async (c) => {
    try {
      const event = fromHttp(c.req.raw.headers, await c.req.text());
      if (event.type !== 'dev.proteus.arbitrator.tick') {
        throw problem(400, 'unexpected-event-type', 'Unexpected event type', { detail: `this sink takes dev.proteus.arbitrator.tick, not ${event.type}` });
      }
    } catch (error) {
      if (error instanceof EventValidationError) throw problem(400, 'invalid-event', 'Invalid CloudEvent', { detail: error.message, errors: error.issues });
      throw error;
    }
    previous = await handleTick(deps, previous);
    return c.body(null, 204);
  });
  app.notFound(notFoundHandler);
  app.onError(problemErrorHandler(deps.log));
  return app;
}

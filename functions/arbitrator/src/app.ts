/** The arbitrator: on each tick, read the queue, decide, and write `config:*` for the workers (tick.ts). */
import { type Logger, notFoundHandler, problem, problemErrorHandler, runChecks } from '@proteus/common';
import { EventValidationError, fromHttp } from '@proteus/eventing';
import { Hono } from 'hono';
import type { Redis } from 'ioredis';
import type { MetricsOptions } from './metrics.ts';
import type { PolicyConfig } from './policy.ts';
import { type ArbitratorMetrics, createArbitratorMetrics } from './prometheus.ts';
import { handleTick, newTickState } from './tick.ts';

export interface ArbitratorDeps {
  redis: Redis;
  log: Logger;
  policyConfig: PolicyConfig;
  metricsOptions?: MetricsOptions;
  metrics?: ArbitratorMetrics;
  now?: () => number;
}

export const defaultMetricsOptions: MetricsOptions = { rateWindowMs: 120_000, waitWindowMs: 60_000, waitSamples: 200 };

export function createApp(given: ArbitratorDeps) {
  const deps = { ...given, metricsOptions: given.metricsOptions ?? defaultMetricsOptions, metrics: given.metrics ?? createArbitratorMetrics() };
  const state = newTickState(deps.metricsOptions);
  const app = new Hono();
  app.get('/health', async (c) => {
    const report = await runChecks('arbitrator', { redis: async () => deps.redis.ping() });
    return c.json({ ...report, policy: state.previous ?? null }, report.status === 'ok' ? 200 : 503);
  });
  app.get('/metrics', async (c) => c.text(await deps.metrics.registry.metrics(), 200, { 'content-type': deps.metrics.registry.contentType }));
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
    const outcome = await handleTick(deps, state);
    if (outcome.kind === 'kept') {
      throw problem(503, 'metrics-unavailable', 'Metrics unavailable', {
        detail: `${outcome.metric}: ${outcome.error}; the last good policy stays`,
        metric: outcome.metric,
      });
    }
    return c.body(null, 204);
  });
  app.notFound(notFoundHandler);
  app.onError(problemErrorHandler(deps.log));
  return app;
}

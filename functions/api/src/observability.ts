/**
 * Request metrics and access logs. The route label is the matched route pattern
 * (`/api/vtons/:id`), never the raw path, so ids do not explode the label set; logs carry the
 * path without its query string, where presigned signatures and cursors live.
 */
import type { Logger } from '@proteus/common';
import { createMiddleware } from 'hono/factory';
import { routePath } from 'hono/route';
import { Counter, Histogram, Registry } from 'prom-client';

export function createApiMetrics(registry = new Registry()) {
  return {
    registry,
    requests: new Counter({
      name: 'proteus_api_requests_total',
      help: 'HTTP requests answered, by route pattern, method and status',
      labelNames: ['route', 'method', 'status'] as const,
      registers: [registry],
    }),
    latency: new Histogram({
      name: 'proteus_api_request_seconds',
      help: 'Time to answer, by route pattern and method',
      labelNames: ['route', 'method'] as const,
      buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5],
      registers: [registry],
    }),
    submissions: new Counter({
      name: 'proteus_api_queue_submissions_total',
      help: 'Jobs enqueued, by stream',
      labelNames: ['stream'] as const,
      registers: [registry],
    }),
    snapHints: new Counter({
      name: 'proteus_api_snap_hints_total',
      help: 'Snaps by what they planned from: hit (a hint its write confirmed), stale (a hint that no longer held, then a look-up), miss (no hint, a look-up)',
      labelNames: ['outcome'] as const,
      registers: [registry],
    }),
  };
}

export type ApiMetrics = ReturnType<typeof createApiMetrics>;

export function observe(metrics: ApiMetrics, log: Logger) {
  // the children of each label set, found once: prom-client hashes the labels on every call otherwise
  // (route patterns, methods and statuses: a few hundred sets at most)
  const counted = new Map<string, { inc: () => void }>();
  const timed = new Map<string, { observe: (seconds: number) => void }>();
  const childOf = <C>(children: Map<string, C>, key: string, make: () => C): C => {
    let child = children.get(key);
    if (!child) {
      child = make();
      children.set(key, child);
    }
    return child;
  };
  return createMiddleware(async function observeRequest(c, next) {
    const start = performance.now();
    let failed = false;
    try {
      await next();
    } catch (error) {
      failed = true;
      throw error;
    } finally {
      // the last matched route is the handler's; unmatched requests share one label
      const route = c.req.matchedRoutes.length ? routePath(c, -1) : 'unmatched';
      const status = failed ? 500 : c.res.status;
      const seconds = (performance.now() - start) / 1000;
      const { method } = c.req;
      const timing = `${route} ${method}`;
      const counting = `${timing} ${status}`;
      childOf(counted, counting, () => metrics.requests.labels({ route, method, status: String(status) })).inc();
      childOf(timed, timing, () => metrics.latency.labels({ route, method })).observe(seconds);
      if (route !== '/metrics' && route !== '/healthz') {
        log.info('request', { method, path: c.req.path, route, status, ms: Math.round(seconds * 10_000) / 10 });
      }
    }
  });
}

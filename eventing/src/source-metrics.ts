/**
 * Prometheus metrics of the stream source, per route: deliveries, retries, dead letters, the
 * enqueue-to-sink latency, and (read from Redis at scrape time) the group's lag and pending.
 */
import type { Redis } from 'ioredis';
import { Counter, Gauge, Histogram, Registry } from 'prom-client';
import type { StreamRoute } from './topology.ts';

export function createSourceMetrics(redis: Redis, routes: StreamRoute[], registry = new Registry()) {
  const labelNames = ['route'] as const;
  const groupInfo = async (route: StreamRoute) => {
    try {
      const groups = (await redis.xinfo('GROUPS', route.stream)) as unknown[][];
      for (const fields of groups) {
        const info: Record<string, unknown> = {};
        for (let i = 0; i + 1 < fields.length; i += 2) info[String(fields[i])] = fields[i + 1];
        if (info.name === route.group) return { lag: info.lag == null ? Number.NaN : Number(info.lag), pending: Number(info.pending) };
      }
    } catch {
      // no stream yet, or Redis down: the scrape shows NaN rather than failing
    }
    return { lag: Number.NaN, pending: Number.NaN };
  };
  return {
    registry,
    delivered: new Counter({
      name: 'proteus_eventing_delivered_total',
      help: 'Events a sink accepted (2xx), then acknowledged',
      labelNames,
      registers: [registry],
    }),
    retried: new Counter({ name: 'proteus_eventing_retried_total', help: 'Delivery attempts after the first', labelNames, registers: [registry] }),
    deadLettered: new Counter({
      name: 'proteus_eventing_dead_lettered_total',
      help: 'Events moved to the dead-letter stream, by why: malformed, rejected (a 4xx that is not retried), exhausted (retries ran out)',
      labelNames: ['route', 'why'] as const,
      registers: [registry],
    }),
    latency: new Histogram({
      name: 'proteus_eventing_delivery_seconds',
      help: 'From XADD (the entry id time) to the sink answering 2xx',
      labelNames,
      buckets: [0.001, 0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
      registers: [registry],
    }),
    inFlight: new Gauge({ name: 'proteus_eventing_in_flight', help: 'Deliveries under way', labelNames, registers: [registry] }),
    lag: new Gauge({
      name: 'proteus_eventing_group_lag',
      help: 'Entries not yet read by the route group',
      labelNames,
      registers: [registry],
      async collect() {
        for (const route of routes) this.set({ route: route.name }, (await groupInfo(route)).lag);
      },
    }),
    pending: new Gauge({
      name: 'proteus_eventing_group_pending',
      help: 'Entries read by the route group and not yet acknowledged',
      labelNames,
      registers: [registry],
      async collect() {
        for (const route of routes) this.set({ route: route.name }, (await groupInfo(route)).pending);
      },
    }),
  };
}

export type SourceMetrics = ReturnType<typeof createSourceMetrics>;

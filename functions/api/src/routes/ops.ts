/**
 * `GET /api/ops/status`: what the operator view draws (docs/WEB.md has the contract), for
 * admins. The queue and wait figures are read the way the arbitrator reads them
 * (@proteus/arbitrator/metrics), so the view shows what the policy decided on.
 */
import { readQueue, readRecentWaits } from '@proteus/arbitrator/metrics';
import { fieldMap, keys, type ProteusEvent } from '@proteus/eventing';
import { Hono } from 'hono';
import { requireAuth } from '../auth/require-auth.ts';
import type { AppEnv } from '../env.ts';
import { liveWorkers } from './health.ts';

const WAIT_WINDOW_S = 60;
const RECENT_CHANGES = 50;

type Mode = 'VIP' | 'ECONOMY' | 'SURGE';
const modes = new Set<string>(['VIP', 'ECONOMY', 'SURGE']);

/** config:policy as the arbitrator wrote it, or null (none yet, or unreadable). */
function policyOf(text: string | null) {
  if (!text) return null;
  try {
    const p = JSON.parse(text) as { batchSize?: unknown; degraded?: unknown; mode?: unknown; reason?: unknown; since?: unknown };
    if (typeof p.batchSize !== 'number' || typeof p.degraded !== 'boolean' || !modes.has(String(p.mode)) || typeof p.reason !== 'string') return null;
    const since = typeof p.since === 'number' ? new Date(p.since).toISOString() : new Date(0).toISOString();
    return { batchSize: p.batchSize, degraded: p.degraded, mode: p.mode as Mode, reason: p.reason, since };
  } catch {
    return null;
  }
}

/** The newest `policy.changed` events, newest first; entries that do not parse are left out. */
function changesOf(entries: [string, string[]][]) {
  return entries.flatMap(([id, fields]) => {
    try {
      const event = JSON.parse(String(fieldMap(fields)[keys.entryField])) as ProteusEvent<'dev.proteus.policy.changed'>;
      if (event.type !== 'dev.proteus.policy.changed') return [];
      const { batchSize, degraded, mode, reason, queueDepth, avgWaitMs } = event.data;
      return [{ id, at: event.time, batchSize, degraded, mode, reason, queueDepth, avgWaitMs }];
    } catch {
      return [];
    }
  });
}

function p95(values: number[]): number | null {
  if (!values.length) return null;
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.ceil(0.95 * sorted.length) - 1)] as number;
}

export const opsRoutes = new Hono<AppEnv>().get('/status', requireAuth({ role: 'admin' }), async (c) => {
  const deps = c.get('deps');
  const { redis } = deps;
  const now = Date.now();
  const [queue, waits, policy, workers, changes] = await Promise.all([
    readQueue(redis, now),
    readRecentWaits(redis, { waitWindowMs: WAIT_WINDOW_S * 1000, waitSamples: 2000, rateWindowMs: 0 }, now, []),
    redis.get(keys.config.policy),
    liveWorkers(deps),
    redis.xrevrange(keys.arbitrator.policyChanges, '+', '-', 'COUNT', RECENT_CHANGES) as Promise<[string, string[]][]>,
  ]);
  return c.json({
    at: new Date(now).toISOString(),
    queueDepth: queue.queueDepth,
    policy: policyOf(policy),
    workers: workers.map((w) => ({ name: w.name, engine: w.engine ?? null, at: w.at })),
    waitP95Ms: p95(waits),
    waitWindowS: WAIT_WINDOW_S,
    recentChanges: changesOf(changes),
  });
});

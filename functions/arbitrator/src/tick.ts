/**
 * One tick of the policy loop: read the metrics, decide, and write `config:batch_size`,
 * `config:degraded_mode`, `config:mode` and `config:policy` (the whole decision as JSON) in one
 * MULTI, which also appends `dev.proteus.policy.changed` to the policy stream when the decision
 * changed. When the metrics are missing or malformed nothing is written: the workers keep the
 * last good policy, and the error metric and a warning say why.
 */
import type { Logger } from '@proteus/common';
import { createEvent, keys } from '@proteus/eventing';
import type { Redis } from 'ioredis';
import { z } from 'zod';
import { ArrivalMeter } from './arrivals.ts';
import { MetricsError, type MetricsOptions, readPolicyMetrics } from './metrics.ts';
import { decidePolicy, type Policy, type PolicyConfig, type PolicyMetrics, strategies } from './policy.ts';
import type { ArbitratorMetrics } from './prometheus.ts';

/** The policy stream keeps about this many changes (XADD MAXLEN ~). */
export const POLICY_CHANGES_KEPT = 10_000;

export interface TickDeps {
  redis: Redis;
  log: Logger;
  policyConfig: PolicyConfig;
  metricsOptions: MetricsOptions;
  metrics: ArbitratorMetrics;
  now?: () => number;
}

export interface TickState {
  previous: Policy | undefined;
  /** whether config:policy has been read back after a start */
  restored: boolean;
  meter: ArrivalMeter;
}

export const newTickState = (options: MetricsOptions): TickState => ({ previous: undefined, restored: false, meter: new ArrivalMeter(options.rateWindowMs) });

export type TickOutcome = { kind: 'decided'; policy: Policy; changed: boolean } | { kind: 'kept'; metric: string; error: string };

/** What config:policy holds: the decision, the metrics it was made on (without the profile), and when. */
export type PolicyRecord = Policy & Omit<PolicyMetrics, 'profile' | 'at'> & { at: string; profileEntries: number };

/** The part of a stored config:policy the next decision needs; anything else in it is ignored. */
const storedPolicy = z.object({
  batchSize: z.int().min(1).max(64),
  degraded: z.boolean(),
  mode: z.enum(['VIP', 'ECONOMY', 'SURGE']),
  reason: z.string().max(500),
  strategy: z.enum(strategies),
  since: z.number().min(0),
});

export async function handleTick(deps: TickDeps, state: TickState): Promise<TickOutcome> {
  const now = deps.now ?? Date.now;
  let metrics: PolicyMetrics;
  try {
    if (!state.restored) {
      state.previous = await restore(deps);
      state.restored = true;
    }
    const reading = await readPolicyMetrics(deps.redis, state.meter, deps.metricsOptions, now());
    metrics = reading.metrics;
    for (const skipped of reading.skipped) {
      deps.metrics.metricErrors.inc({ metric: skipped.metric, fatal: 'false' });
      deps.log.warn('left out a malformed metric entry', { ...skipped });
    }
  } catch (error) {
    const metric = error instanceof MetricsError ? error.metric : 'redis';
    deps.metrics.metricErrors.inc({ metric, fatal: 'true' });
    deps.metrics.ticks.inc({ outcome: 'kept' });
    deps.log.warn('metrics unavailable; keeping the last good policy', { metric, error: (error as Error).message, policy: state.previous?.mode ?? null });
    return { kind: 'kept', metric, error: (error as Error).message };
  }

  const previous = state.previous;
  const policy = decidePolicy(metrics, previous, deps.policyConfig);
  const changed = !previous || previous.batchSize !== policy.batchSize || previous.degraded !== policy.degraded || previous.mode !== policy.mode;
  const { profile, at, ...measured } = metrics;
  const record: PolicyRecord = { ...policy, ...measured, profileEntries: profile.length, at: new Date(at).toISOString() };
  const write = deps.redis
    .multi()
    .set(keys.config.batchSize, String(policy.batchSize))
    .set(keys.config.degradedMode, policy.degraded ? '1' : '0')
    .set(keys.config.mode, policy.mode)
    .set(keys.config.policy, JSON.stringify(record));
  if (changed) {
    const event = createEvent('dev.proteus.policy.changed', 'arbitrator', {
      batchSize: policy.batchSize,
      degraded: policy.degraded,
      mode: policy.mode,
      reason: policy.reason,
      queueDepth: metrics.queueDepth,
      avgWaitMs: metrics.avgWaitMs,
    });
    write.xadd(keys.arbitrator.policyChanges, 'MAXLEN', '~', POLICY_CHANGES_KEPT, '*', keys.entryField, JSON.stringify(event));
  }
  const results = await write.exec();
  const failed = results?.find(([error]) => error)?.[0];
  if (!results || failed) throw failed ?? new Error('the config MULTI was discarded');

  state.previous = policy;
  deps.metrics.ticks.inc({ outcome: 'decided' });
  observe(deps.metrics, policy, metrics);
  if (changed) {
    deps.metrics.changes.inc({ mode: policy.mode });
    deps.log.info('policy changed', { ...record, from: previous ? { batchSize: previous.batchSize, degraded: previous.degraded, mode: previous.mode } : null });
  }
  return { kind: 'decided', policy, changed };
}

/** The decision in force before a restart, so hold times and change detection carry over; a malformed one is ignored. */
async function restore(deps: TickDeps): Promise<Policy | undefined> {
  const text = await deps.redis.get(keys.config.policy);
  if (text === null) return undefined;
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    value = undefined;
  }
  const parsed = storedPolicy.safeParse(value);
  if (parsed.success) return parsed.data;
  deps.metrics.metricErrors.inc({ metric: 'stored-policy', fatal: 'false' });
  deps.log.warn('ignoring a malformed config:policy', { value: text.slice(0, 200) });
  return undefined;
}

function observe(m: ArbitratorMetrics, policy: Policy, metrics: PolicyMetrics) {
  m.batchSize.set(policy.batchSize);
  m.degraded.set(policy.degraded ? 1 : 0);
  m.queueDepth.set(metrics.queueDepth);
  m.avgWait.set(metrics.avgWaitMs / 1000);
  m.oldestWait.set(metrics.oldestWaitMs / 1000);
  m.arrivalRate.set(metrics.arrivalRate);
  m.workers.set(metrics.workers);
  if (policy.expected?.latencyS !== undefined && policy.expected.latencyS !== null) m.expectedLatency.set(policy.expected.latencyS);
}

/**
 * The policy: a pure function from measured metrics and the previous decision to batch size,
 * resolution and mode. Two strategies share one hysteresis rule (go up at once, come down only
 * past a lower threshold and after a minimum hold time):
 *
 * - `table`, the default: the original design's table. Queue depth at most 10 gives batch 1
 *   (VIP), up to 50 batch 4 (ECONOMY), above 50 batch 8 (SURGE); a wait above 10 s sets 512 px.
 *   A fresh decision is exactly the table; hysteresis only delays the way down.
 * - `adaptive`: picks batch size and resolution from the latency profile and the arrival rate
 *   (adaptive.ts; docs/ARBITRATOR.md explains the model).
 *
 * It reads no clock: `metrics.at` is the time of the measurement.
 */
import { decideAdaptive } from './adaptive.ts';
import type { ProfileEntry } from './profile.ts';

export type Mode = 'VIP' | 'ECONOMY' | 'SURGE';
export const strategies = ['table', 'adaptive'] as const;
export type Strategy = (typeof strategies)[number];

export interface PolicyMetrics {
  /** ms since the epoch when these were measured */
  at: number;
  /** group lag plus pending of `weavers` on queue:jobs */
  queueDepth: number;
  /** mean waitMs of the recent `tryon.completed` events; 0 when there were none */
  avgWaitMs: number;
  /** how many completions `avgWaitMs` is the mean of */
  completions: number;
  /** age of the oldest job no worker has picked up yet */
  oldestWaitMs: number;
  /** jobs enqueued per second over the rate window */
  arrivalRate: number;
  /** workers alive (heartbeat keys) */
  workers: number;
  /** the workers' latency profile (worker:profile) */
  profile: ProfileEntry[];
}

/** What the adaptive model expects of the chosen configuration. */
export interface Expected {
  /** enqueue to result, seconds; null: it cannot keep up */
  latencyS: number | null;
  /** of the workers alive now */
  utilization: number;
  /** replicas this configuration needs for the arrival rate at the target; null: more than allowed */
  replicas: number | null;
}

export interface Policy {
  batchSize: number;
  degraded: boolean;
  mode: Mode;
  reason: string;
  strategy: Strategy;
  /** ms since the epoch when this batch size and resolution took effect; the hold time counts from here */
  since: number;
  expected?: Expected;
}

export interface PolicyConfig {
  strategy: Strategy;
  /** table, going up: depth above this leaves VIP */
  vipMaxDepth: number;
  /** table, going up: depth above this is SURGE */
  economyMaxDepth: number;
  /** table, going up: a wait above this degrades to 512 px */
  degradedWaitMs: number;
  /** table, going down: depth at or below this returns to VIP */
  vipReturnDepth: number;
  /** table, going down: depth at or below this leaves SURGE */
  economyReturnDepth: number;
  /** table, going down: a wait at or below this returns to full resolution */
  normalReturnWaitMs: number;
  /** no step down (smaller batch, full resolution) sooner than this after the last change */
  holdMs: number;
  /** adaptive: expected enqueue-to-result time to stay under */
  targetLatencyMs: number;
  /** adaptive: the largest batch it may choose (the worker's WORKER_MAX_BATCH_SIZE) */
  maxBatchSize: number;
  /** adaptive: the most replicas the autoscaler may run (KEDA maxReplicaCount) */
  maxReplicas: number;
  /** adaptive: the worker's WORKER_BATCH_WINDOW_MS */
  batchWindowMs: number;
  /** adaptive: a configuration busier than this is not planned on */
  maxUtilization: number;
  /** adaptive: how much faster 512 px is than full resolution until the workers have measured it */
  degradedSpeedup: number;
  /** adaptive: whether it may trade resolution for GPU time */
  allowDegraded: boolean;
}

export const defaultPolicyConfig: PolicyConfig = {
  strategy: 'table',
  vipMaxDepth: 10,
  economyMaxDepth: 50,
  degradedWaitMs: 10_000,
  vipReturnDepth: 5,
  economyReturnDepth: 30,
  normalReturnWaitMs: 5_000,
  holdMs: 5_000,
  targetLatencyMs: 30_000,
  maxBatchSize: 8,
  maxReplicas: 5,
  batchWindowMs: 500,
  maxUtilization: 0.85,
  degradedSpeedup: 4,
  allowDegraded: true,
};

/** The mode a batch size is reported as (the original table's names). */
export const modeOf = (batchSize: number): Mode => (batchSize <= 1 ? 'VIP' : batchSize <= 4 ? 'ECONOMY' : 'SURGE');

const TABLE_BATCH: Record<Mode, number> = { VIP: 1, ECONOMY: 4, SURGE: 8 };
const LEVELS: Mode[] = ['VIP', 'ECONOMY', 'SURGE'];

/** The wait the table judges: the recent completions' mean, or the oldest waiting job's age when longer (it will be reported at least that late). */
export const judgedWaitMs = (m: PolicyMetrics) => Math.max(m.avgWaitMs, m.oldestWaitMs);

/** True once the previous decision has been in force for the hold time. */
export const held = (previous: Policy | undefined, at: number, config: PolicyConfig) => !previous || at - previous.since >= config.holdMs;

export function decidePolicy(metrics: PolicyMetrics, previous: Policy | undefined, config: PolicyConfig = defaultPolicyConfig): Policy {
  const decided = config.strategy === 'adaptive' ? decideAdaptive(metrics, previous, config) : undefined;
  const policy = decided ?? decideTable(metrics, previous, config, config.strategy === 'adaptive' ? 'no latency profile yet: the table decides; ' : '');
  const same = previous && previous.batchSize === policy.batchSize && previous.degraded === policy.degraded;
  return { ...policy, since: same ? previous.since : metrics.at };
}

function decideTable(metrics: PolicyMetrics, previous: Policy | undefined, config: PolicyConfig, prefix: string): Policy {
  const depth = metrics.queueDepth;
  const level = (vip: number, economy: number) => (depth > economy ? 2 : depth > vip ? 1 : 0);
  const up = level(config.vipMaxDepth, config.economyMaxDepth);
  const down = level(config.vipReturnDepth, config.economyReturnDepth);
  const current = previous ? LEVELS.indexOf(modeOf(previous.batchSize)) : up;
  const mayStepDown = held(previous, metrics.at, config);
  const table = [
    `queue depth ${depth} <= ${config.vipMaxDepth}`,
    `queue depth ${depth} <= ${config.economyMaxDepth}`,
    `queue depth ${depth} > ${config.economyMaxDepth}`,
  ];
  const returnDepth = [0, config.vipReturnDepth, config.economyReturnDepth];
  // the return thresholds are lower, so `down` >= `up`: between them the previous level stays
  let chosen: number;
  let why: string;
  if (!previous || up >= current) {
    chosen = up;
    why = table[up]!;
  } else if (down < current && mayStepDown) {
    chosen = down;
    why = `queue depth ${depth} <= ${returnDepth[down + 1]}`;
  } else if (down < current) {
    chosen = current;
    why = `queue depth ${depth}: holding ${LEVELS[current]} for ${config.holdMs} ms`;
  } else {
    chosen = current;
    why = `queue depth ${depth} > ${returnDepth[current]}: staying ${LEVELS[current]}`;
  }

  const wait = Math.round(judgedWaitMs(metrics));
  let degraded: boolean;
  let waitWhy = '';
  if (wait > config.degradedWaitMs) {
    degraded = true;
    waitWhy = `; wait ${wait} ms > ${config.degradedWaitMs} ms: 512 px`;
  } else if (previous?.degraded && (wait > config.normalReturnWaitMs || !mayStepDown)) {
    degraded = true;
    waitWhy =
      wait > config.normalReturnWaitMs ? `; wait ${wait} ms > ${config.normalReturnWaitMs} ms: staying at 512 px` : `; held 512 px for ${config.holdMs} ms`;
  } else {
    degraded = false;
  }
  const mode = LEVELS[chosen]!;
  return { batchSize: TABLE_BATCH[mode], degraded, mode, reason: `${prefix}${why}${waitWhy}`, strategy: 'table', since: metrics.at };
}

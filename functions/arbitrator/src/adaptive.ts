/**
 * The adaptive strategy: batch size and resolution from the measured latency profile, the
 * arrival rate, the backlog and the workers alive, so that the expected time from enqueue to
 * result stays under a target at the least GPU time.
 *
 * The model, for an option (batch size b, full or 512 px) on m replicas with arrivals λ jobs/s:
 *
 * - S(k): seconds of a batch of k jobs, from the profile (profile.ts; 512 px not yet measured =
 *   full resolution / `degradedSpeedup`), interpolated between whole sizes.
 * - k, the jobs a batch really holds: b under a backlog (depth >= b per replica), else the one
 *   that opened it plus what arrives in the worker's window W: min(b, 1 + λ/m · W).
 * - utilization ρ = λ S(k) / (m k). At `maxUtilization` or above the queue would keep growing:
 *   not an option.
 * - fill: a job of a batch that is not full waits for the batch to fill or for W: the batch is
 *   open D = min(W, (b-1) m/λ), the first job waits D, later ones less: D (1 + (k-1)/2) / k.
 * - backlog: the jobs already queued (lag + pending) are served first, in batches of
 *   c = min(b, depth/m): depth · S(c) / (m c).
 * - a job arriving now: latency = backlog + fill + S(k) (its own batch); the jobs already queued
 *   finish on average after (backlog + S(c)/m) / 2. Options are ranked by the mean latency of
 *   those jobs and the arriving one: the new job alone would favour big batches that make
 *   everyone queued wait for the whole batch.
 * - in steady state (no backlog to start from), batches form an M/D/m queue; Sakasegawa's
 *   approximation with Poisson arrivals and constant service gives the mean queueing time
 *   Wq = S(k) ρ^(√(2(m+1)) - 1) / (m (1 - ρ)) / 2, so latency = Wq + fill + S(k).
 *
 * GPU time is billed per replica, busy or idle, so the GPU time an option costs is the replicas it
 * needs: the fewest m <= `maxReplicas` on which its steady-state latency is under the target. Of
 * the options that meet the target now, with the workers alive, the choice is the one needing the
 * fewest replicas; on a tie full resolution, then the lower mean latency. When none meets it, the
 * lowest mean latency (throughput breaks a tie). A previous option is kept while it still meets
 * the target with a margin (`KEEP_MARGIN` on the target and on the utilization limit), for the
 * hold time at least, and after it unless the new one needs fewer replicas, restores full
 * resolution, or has a mean latency lower by more than `SWITCH_GAIN` of the target: noise in the
 * measured rate and depth does not make it flap.
 */
import { held, modeOf, type Policy, type PolicyConfig, type PolicyMetrics } from './policy.ts';
import { type BatchTimes, batchTimes, secondsFor } from './profile.ts';

/** A configuration in force is left only when it misses the target, or the utilization limit, by this factor. */
export const KEEP_MARGIN = 0.15;
/** ... or, after the hold time, for one of the same cost and resolution whose mean latency is lower by this share of the target. */
export const SWITCH_GAIN = 0.1;

export interface BatchOption {
  batchSize: number;
  degraded: boolean;
}

export interface Load {
  /** jobs/s */
  arrivalRate: number;
  queueDepth: number;
}

export interface Estimate {
  /** enqueue-to-result time of a job arriving now, s */
  nowS: number;
  /** the mean of that over the jobs already queued and one arriving now, s: what the choice ranks by */
  meanS: number;
  /** mean enqueue-to-result time in steady state, s; Infinity when the option cannot keep up */
  steadyS: number;
  utilization: number;
  /** jobs per batch the model expects */
  jobsPerBatch: number;
}

/** Seconds of a batch of `size` (whole or not) for an option's resolution. */
export function batchSeconds(times: BatchTimes, degraded: boolean, size: number, config: Pick<PolicyConfig, 'degradedSpeedup'>): number {
  const lower = Math.max(1, Math.floor(size));
  const upper = Math.ceil(size);
  const atLower = wholeBatchSeconds(times, degraded, lower, config);
  return upper <= lower ? atLower : atLower + (size - lower) * (wholeBatchSeconds(times, degraded, upper, config) - atLower);
}

// a plain function, not a closure: the simulator calls this millions of times
function wholeBatchSeconds(times: BatchTimes, degraded: boolean, size: number, config: Pick<PolicyConfig, 'degradedSpeedup'>): number {
  if (!degraded) return secondsFor(times.full, size);
  return times.degraded ? secondsFor(times.degraded, size) : secondsFor(times.full, size) / config.degradedSpeedup;
}

/** The model's latencies and utilization of `option` on `replicas` under `load` (see the module comment). */
export function estimate(option: BatchOption, load: Load, replicas: number, times: BatchTimes, config: PolicyConfig): Estimate {
  const b = option.batchSize;
  const m = Math.max(1, replicas);
  const lambda = Math.max(0, load.arrivalRate);
  const windowS = config.batchWindowMs / 1000;
  const perReplica = lambda / m;
  const backlogged = load.queueDepth / m >= b;
  const k = backlogged ? b : Math.min(b, 1 + perReplica * windowS);
  const seconds = batchSeconds(times, option.degraded, k, config);
  const utilization = (lambda * seconds) / (m * k);
  const open = b > 1 && !backlogged ? (lambda > 0 ? Math.min(windowS, (b - 1) / perReplica) : windowS) : 0;
  const fill = (open * (1 + (k - 1) / 2)) / k;
  // the backlog is served in batches of b, or of what there is when that is less
  const backlogBatch = Math.min(b, Math.max(1, load.queueDepth / m));
  const backlog = (load.queueDepth * batchSeconds(times, option.degraded, backlogBatch, config)) / (m * backlogBatch);
  const queueing = utilization < 1 ? (seconds * utilization ** (Math.sqrt(2 * (m + 1)) - 1)) / (m * (1 - utilization)) / 2 : Number.POSITIVE_INFINITY;
  const nowS = backlog + fill + seconds;
  // a queued job finishes on average halfway through the backlog's drain (plus half a batch)
  const queuedS = (backlog + batchSeconds(times, option.degraded, backlogBatch, config) / m) / 2;
  const meanS = (load.queueDepth * queuedS + nowS) / (load.queueDepth + 1);
  return { nowS, meanS, steadyS: queueing + fill + seconds, utilization, jobsPerBatch: k };
}

/** The fewest replicas (up to maxReplicas) on which `option` meets the target at `arrivalRate` in steady state; Infinity if none. */
export function replicasNeeded(option: BatchOption, arrivalRate: number, times: BatchTimes, config: PolicyConfig): number {
  for (let m = 1; m <= config.maxReplicas; m++) {
    const e = estimate(option, { arrivalRate, queueDepth: 0 }, m, times, config);
    if (e.utilization < config.maxUtilization && e.steadyS * 1000 <= config.targetLatencyMs) return m;
  }
  return Number.POSITIVE_INFINITY;
}

export function batchOptions(config: PolicyConfig): BatchOption[] {
  const sizes = [...new Set([1, 2, 4, 8, config.maxBatchSize])].filter((s) => s <= config.maxBatchSize).sort((a, b) => a - b);
  const resolutions = config.allowDegraded ? [false, true] : [false];
  return resolutions.flatMap((degraded) => sizes.map((batchSize) => ({ batchSize, degraded })));
}

interface Scored {
  option: BatchOption;
  now: Estimate;
  need: number;
}

const describe = (o: BatchOption) => `batch ${o.batchSize}${o.degraded ? ' at 512 px' : ''}`;
const seconds = (s: number) => (Number.isFinite(s) ? `${s.toFixed(1)} s` : 'unbounded');
const replicasText = (n: number) => (Number.isFinite(n) ? `${n} replica${n === 1 ? '' : 's'}` : `more than the replicas allowed`);

/** Parsed profiles by the array they came from: a caller passing the same array (the simulator) parses it once. */
const parsed = new WeakMap<readonly unknown[], BatchTimes | undefined>();

/** The adaptive decision; undefined when there is no latency profile to plan with (the table decides then). */
export function decideAdaptive(metrics: PolicyMetrics, previous: Policy | undefined, config: PolicyConfig): Policy | undefined {
  if (!parsed.has(metrics.profile)) parsed.set(metrics.profile, batchTimes(metrics.profile));
  const times = parsed.get(metrics.profile);
  if (!times) return undefined;
  const workers = Math.max(1, metrics.workers);
  const target = config.targetLatencyMs / 1000;
  const score = (option: BatchOption): Scored => ({
    option,
    now: estimate(option, metrics, workers, times, config),
    need: replicasNeeded(option, metrics.arrivalRate, times, config),
  });
  const meets = (s: Scored, margin = 0) => s.now.utilization < config.maxUtilization * (1 + margin) && s.now.nowS <= target * (1 + margin);
  const scored = batchOptions(config).map(score);
  const meeting = scored.filter((s) => meets(s));
  const situation = `${metrics.arrivalRate.toFixed(2)} jobs/s, depth ${metrics.queueDepth}, ${workers} worker${workers === 1 ? '' : 's'}`;

  let best: Scored;
  let why: string;
  if (meeting.length === 0) {
    const throughput = (s: Scored) => (s.option.batchSize * workers) / batchSeconds(times, s.option.degraded, s.option.batchSize, config);
    best = scored.reduce((a, b) => (b.now.meanS < a.now.meanS || (b.now.meanS === a.now.meanS && throughput(b) > throughput(a)) ? b : a));
    why = `nothing meets ${seconds(target)}: ${describe(best.option)} answers soonest (expected ${seconds(best.now.nowS)})`;
  } else {
    best = meeting.reduce((a, b) => (better(b, a) ? b : a));
    const fullNeed = Math.min(...scored.filter((s) => !s.option.degraded).map((s) => s.need));
    const tradeoff = best.option.degraded ? `; full resolution would need ${replicasText(fullNeed)}` : '';
    why = `${describe(best.option)}: expected ${seconds(best.now.nowS)} <= ${seconds(target)}, needs ${replicasText(best.need)}${tradeoff}`;
  }

  if (previous && (previous.batchSize !== best.option.batchSize || previous.degraded !== best.option.degraded)) {
    const kept = score({ batchSize: Math.min(previous.batchSize, config.maxBatchSize), degraded: previous.degraded && config.allowDegraded });
    const keeps = meets(kept, KEEP_MARGIN) && (!held(previous, metrics.at, config) || !materiallyBetter(best, kept, target));
    if (keeps) {
      best = kept;
      why = `${describe(kept.option)} still meets ${seconds(target)} (expected ${seconds(kept.now.nowS)}): kept`;
    }
  }
  const expected = {
    latencyS: round(best.now.nowS),
    utilization: round(best.now.utilization),
    replicas: Number.isFinite(best.need) ? best.need : null,
  };
  return {
    batchSize: best.option.batchSize,
    degraded: best.option.degraded,
    mode: modeOf(best.option.batchSize),
    reason: `adaptive, ${situation}: ${why}`.slice(0, 500),
    strategy: 'adaptive',
    since: metrics.at,
    expected,
  };
}

/** Fewer replicas, then full resolution, then lower mean latency. */
function better(a: Scored, b: Scored): boolean {
  if (a.need !== b.need) return a.need < b.need;
  if (a.option.degraded !== b.option.degraded) return !a.option.degraded;
  return a.now.meanS < b.now.meanS;
}

/** Worth leaving a working option for: fewer replicas, full resolution back, or a mean latency lower by SWITCH_GAIN of the target. */
function materiallyBetter(candidate: Scored, current: Scored, targetS: number): boolean {
  if (candidate.need !== current.need) return candidate.need < current.need;
  if (candidate.option.degraded !== current.option.degraded) return !candidate.option.degraded;
  return candidate.now.meanS < current.now.meanS - SWITCH_GAIN * targetS;
}

const round = (x: number) => Math.round(x * 1000) / 1000;

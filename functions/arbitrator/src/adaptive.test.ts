import { describe, expect, it } from 'vitest';
import { batchOptions, batchSeconds, estimate, replicasNeeded } from './adaptive.ts';
import { decidePolicy, defaultPolicyConfig, type Policy, type PolicyConfig, type PolicyMetrics } from './policy.ts';
import { batchTimes, type ProfileEntry } from './profile.ts';

const adaptive: PolicyConfig = { ...defaultPolicyConfig, strategy: 'adaptive' };

const entry = (resolution: string, batchSize: number, seconds: number, samples = 10): ProfileEntry => ({
  engine: 'catvton',
  resolution,
  steps: 50,
  batchSize,
  seconds,
  samples,
});

/** Full resolution: batch 2 ~1.06x the throughput of batch 1 (the published figure); 512 px batches better. */
const profile: ProfileEntry[] = [
  entry('768x1024', 1, 10),
  entry('768x1024', 2, 18.87),
  entry('768x1024', 4, 37.04),
  entry('768x1024', 8, 73.39),
  entry('384x512', 1, 2.2),
  entry('384x512', 2, 2.93),
  entry('384x512', 4, 4.4),
  entry('384x512', 8, 7.65),
];
const times = batchTimes(profile)!;

const metrics = (over: Partial<PolicyMetrics> = {}): PolicyMetrics => ({
  at: 1_000_000,
  queueDepth: 0,
  avgWaitMs: 0,
  completions: 0,
  oldestWaitMs: 0,
  arrivalRate: 0,
  workers: 1,
  profile,
  ...over,
});

describe('the adaptive model', () => {
  const oneSecond = batchTimes([entry('768x1024', 1, 1)])!;
  const b1 = { batchSize: 1, degraded: false };

  it('is the M/D/1 queue in steady state for batch 1 on one replica: Wq = rho S / (2 (1 - rho))', () => {
    const e = estimate(b1, { arrivalRate: 0.5, queueDepth: 0 }, 1, oneSecond, adaptive);
    expect(e.utilization).toBeCloseTo(0.5, 9);
    expect(e.steadyS).toBeCloseTo(1 + (0.5 * 1) / (2 * 0.5), 9);
    expect(e.nowS).toBe(1);
  });

  it('puts the backlog ahead of a job arriving now, and ranks by the mean over the queued jobs and it', () => {
    const e = estimate(b1, { arrivalRate: 0, queueDepth: 6 }, 2, oneSecond, adaptive);
    expect(e.nowS).toBeCloseTo(6 / 2 + 1, 9);
    // queued jobs finish on average after (3 + 1/2) / 2 s
    expect(e.meanS).toBeCloseTo((6 * 1.75 + 4) / 7, 9);
  });

  it('serves a small backlog in one batch of what there is, not a full batch', () => {
    const e = estimate({ batchSize: 8, degraded: false }, { arrivalRate: 0, queueDepth: 2 }, 1, times, adaptive);
    expect(e.nowS).toBeCloseTo(18.87 + 10 + adaptive.batchWindowMs / 1000, 9);
  });

  it('makes a job of a batch that does not fill wait for the window', () => {
    const alone = estimate({ batchSize: 8, degraded: false }, { arrivalRate: 0, queueDepth: 0 }, 1, oneSecond, adaptive);
    expect(alone.jobsPerBatch).toBe(1);
    expect(alone.nowS).toBeCloseTo(1 + adaptive.batchWindowMs / 1000, 9);
  });

  it('has no steady state at a utilization of 1 or more', () => {
    expect(estimate(b1, { arrivalRate: 0.9, queueDepth: 0 }, 1, oneSecond, adaptive).steadyS).toBeCloseTo(1 + 0.9 / 0.2, 9);
    expect(estimate(b1, { arrivalRate: 1.2, queueDepth: 0 }, 1, oneSecond, adaptive).steadyS).toBe(Number.POSITIVE_INFINITY);
  });

  it('expects less latency from more replicas', () => {
    const on = (m: number) => estimate(b1, { arrivalRate: 0.2, queueDepth: 3 }, m, times, adaptive);
    expect(on(2).steadyS).toBe(Number.POSITIVE_INFINITY);
    expect(on(4).steadyS).toBeLessThan(on(3).steadyS);
    expect(on(5).steadyS).toBeLessThan(on(4).steadyS);
    expect(on(5).nowS).toBeLessThan(on(4).nowS);
  });

  it('counts the replicas an option needs at the target', () => {
    expect(replicasNeeded({ batchSize: 1, degraded: false }, 0.04, times, adaptive)).toBe(1);
    expect(replicasNeeded({ batchSize: 1, degraded: false }, 0.4, times, adaptive)).toBe(5);
    expect(replicasNeeded({ batchSize: 1, degraded: true }, 0.4, times, adaptive)).toBe(2);
    expect(replicasNeeded({ batchSize: 1, degraded: false }, 5, times, adaptive)).toBe(Number.POSITIVE_INFINITY);
  });

  it('estimates 512 px from full resolution with degradedSpeedup until the workers have measured it', () => {
    const fullOnly = batchTimes(profile.filter((e) => e.resolution === '768x1024'))!;
    expect(batchSeconds(fullOnly, true, 2, adaptive)).toBeCloseTo(18.87 / adaptive.degradedSpeedup, 9);
    expect(batchSeconds(times, true, 2, adaptive)).toBe(2.93);
    expect(batchSeconds(times, true, 1.5, adaptive)).toBeCloseTo((2.2 + 2.93) / 2, 9);
  });

  it('offers batch sizes up to the worker cap, at 512 px only when allowed', () => {
    expect(batchOptions({ ...adaptive, maxBatchSize: 4, allowDegraded: false })).toEqual([1, 2, 4].map((batchSize) => ({ batchSize, degraded: false })));
    expect(batchOptions({ ...adaptive, maxBatchSize: 6 }).map((o) => `${o.batchSize}${o.degraded ? 'd' : ''}`)).toEqual([
      '1',
      '2',
      '4',
      '6',
      '1d',
      '2d',
      '4d',
      '6d',
    ]);
  });
});

describe('decidePolicy, adaptive', () => {
  it('lets the table decide until there is a latency profile, and says so', () => {
    const policy = decidePolicy(metrics({ profile: [], queueDepth: 60 }), undefined, adaptive);
    expect(policy).toMatchObject({ batchSize: 8, mode: 'SURGE', strategy: 'table' });
    expect(policy.reason).toBe('no latency profile yet: the table decides; queue depth 60 > 50');
  });

  it('serves low traffic at batch 1, full resolution: every option needs one replica, batch 1 answers soonest', () => {
    const policy = decidePolicy(metrics({ arrivalRate: 0.04 }), undefined, adaptive);
    expect(policy).toMatchObject({ batchSize: 1, degraded: false, mode: 'VIP', strategy: 'adaptive', expected: { latencyS: 10, replicas: 1 } });
    expect(policy.reason).toBe('adaptive, 0.04 jobs/s, depth 0, 1 worker: batch 1: expected 10.0 s <= 30.0 s, needs 1 replica');
  });

  it('keeps full resolution while the backlog still fits the target, and degrades past it', () => {
    expect(decidePolicy(metrics({ arrivalRate: 0.04, queueDepth: 2 }), undefined, adaptive)).toMatchObject({ batchSize: 1, degraded: false });
    expect(decidePolicy(metrics({ arrivalRate: 0.04, queueDepth: 3 }), undefined, adaptive)).toMatchObject({ degraded: true });
  });

  it('trades resolution for GPU time in a flash crowd: 512 px on the one replica there is, not five at full resolution', () => {
    const policy = decidePolicy(metrics({ arrivalRate: 0.4, queueDepth: 5 }), undefined, adaptive);
    expect(policy).toMatchObject({ degraded: true, strategy: 'adaptive', expected: { replicas: 1 } });
    expect(policy.batchSize).toBeGreaterThan(1);
    expect(policy.reason).toContain('full resolution would need 5 replicas');
  });

  it('drains as fast as it can when nothing meets the target', () => {
    const policy = decidePolicy(metrics({ arrivalRate: 0.4, queueDepth: 200 }), undefined, adaptive);
    expect(policy).toMatchObject({ batchSize: 8, degraded: true, mode: 'SURGE' });
    expect(policy.expected?.latencyS).toBeGreaterThan(30);
    expect(policy.reason).toContain('nothing meets 30.0 s: batch 8 at 512 px answers soonest');
  });

  it('stays at full resolution when degrading is not allowed, batching a deep backlog', () => {
    const policy = decidePolicy(metrics({ arrivalRate: 0.4, queueDepth: 200 }), undefined, { ...adaptive, allowDegraded: false });
    expect(policy.degraded).toBe(false);
    expect(policy.batchSize).toBeGreaterThan(1);
  });

  it('plans with the workers alive: with five, full resolution meets the target again', () => {
    const policy = decidePolicy(metrics({ arrivalRate: 0.3, queueDepth: 0, workers: 5 }), undefined, { ...adaptive, allowDegraded: false });
    expect(policy).toMatchObject({ batchSize: 1, degraded: false });
    expect(policy.expected?.utilization).toBeCloseTo(0.6, 3);
  });

  it('keeps a working option for the hold time, then returns to full resolution', () => {
    const flash = decidePolicy(metrics({ arrivalRate: 0.4, queueDepth: 5 }), undefined, adaptive);
    const calm = (at: number, previous: Policy) => decidePolicy(metrics({ at, arrivalRate: 0.04 }), previous, adaptive);
    const early = calm(1_000_000 + adaptive.holdMs - 1, flash);
    expect(early).toMatchObject({ degraded: true, batchSize: flash.batchSize, since: flash.since });
    expect(early.reason).toContain('still meets 30.0 s');
    expect(early.reason).toContain(': kept');
    const later = calm(1_000_000 + adaptive.holdMs, early);
    expect(later).toMatchObject({ degraded: false, batchSize: 1, since: 1_000_000 + adaptive.holdMs });
  });

  it('leaves an option that no longer meets the target at once, hold time or not', () => {
    const calm = decidePolicy(metrics({ arrivalRate: 0.04 }), undefined, adaptive);
    const flash = decidePolicy(metrics({ at: 1_000_500, arrivalRate: 0.4, queueDepth: 5 }), calm, adaptive);
    expect(calm).toMatchObject({ degraded: false, batchSize: 1 });
    expect(flash).toMatchObject({ degraded: true, since: 1_000_500 });
  });

  it('does not leave a working option for one only slightly faster with the same cost and resolution', () => {
    const previous: Policy = { batchSize: 2, degraded: true, mode: 'ECONOMY', reason: 'x', strategy: 'adaptive', since: 0 };
    const next = decidePolicy(metrics({ at: 60_000_000, arrivalRate: 0.4, queueDepth: 5 }), previous, adaptive);
    expect(next).toMatchObject({ batchSize: 2, degraded: true, since: 0 });
  });
});

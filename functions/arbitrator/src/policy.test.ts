import { describe, expect, it } from 'vitest';
import { decidePolicy, defaultPolicyConfig, type Mode, type Policy, type PolicyConfig, type PolicyMetrics } from './policy.ts';

const metrics = (over: Partial<PolicyMetrics> = {}): PolicyMetrics => ({
  at: 1_000_000,
  queueDepth: 0,
  avgWaitMs: 0,
  completions: 0,
  oldestWaitMs: 0,
  arrivalRate: 0,
  workers: 1,
  profile: [],
  ...over,
});

/** Runs the policy over a sequence of (ms since start, depth, wait) and answers each decision. */
function run(steps: [number, number, number?][], config: PolicyConfig = defaultPolicyConfig): Policy[] {
  let previous: Policy | undefined;
  return steps.map(([t, queueDepth, avgWaitMs = 0]) => {
    previous = decidePolicy(metrics({ at: 1_000_000 + t, queueDepth, avgWaitMs }), previous, config);
    return previous;
  });
}

describe('decidePolicy, a fresh decision: the original table (VIP <= 10 < ECONOMY <= 50 < SURGE)', () => {
  it.each<[number, number, Mode]>([
    [0, 1, 'VIP'],
    [10, 1, 'VIP'],
    [11, 4, 'ECONOMY'],
    [50, 4, 'ECONOMY'],
    [51, 8, 'SURGE'],
    [10_000, 8, 'SURGE'],
  ])('depth %i -> batch %i, %s', (queueDepth, batchSize, mode) => {
    const policy = decidePolicy(metrics({ queueDepth }), undefined);
    expect(policy).toMatchObject({ batchSize, mode, degraded: false, strategy: 'table', since: 1_000_000 });
    expect(policy.reason).toContain(`queue depth ${queueDepth}`);
  });

  it('degrades only above the wait limit: 10000 ms is normal, 10001 ms is 512 px', () => {
    expect(decidePolicy(metrics({ avgWaitMs: 10_000 }), undefined).degraded).toBe(false);
    const degraded = decidePolicy(metrics({ avgWaitMs: 10_001 }), undefined);
    expect(degraded).toMatchObject({ degraded: true, batchSize: 1, mode: 'VIP' });
    expect(degraded.reason).toBe('queue depth 0 <= 10; wait 10001 ms > 10000 ms: 512 px');
  });

  it('judges the longer of the recent mean wait and the oldest waiting job', () => {
    expect(decidePolicy(metrics({ avgWaitMs: 2000, oldestWaitMs: 12_000 }), undefined).degraded).toBe(true);
    expect(decidePolicy(metrics({ avgWaitMs: 12_000, oldestWaitMs: 0 }), undefined).degraded).toBe(true);
    expect(decidePolicy(metrics({ avgWaitMs: 9000, oldestWaitMs: 9000 }), undefined).degraded).toBe(false);
  });

  it('decides degradation independently of the mode', () => {
    for (const queueDepth of [5, 30, 80]) expect(decidePolicy(metrics({ queueDepth, avgWaitMs: 20_000 }), undefined).degraded).toBe(true);
  });

  it('explains each mode in the reason', () => {
    expect(decidePolicy(metrics({ queueDepth: 11 }), undefined).reason).toBe('queue depth 11 <= 50');
    expect(decidePolicy(metrics({ queueDepth: 51 }), undefined).reason).toBe('queue depth 51 > 50');
  });

  it('defaults to defaultPolicyConfig, the table with hysteresis', () => {
    expect(defaultPolicyConfig).toMatchObject({
      strategy: 'table',
      vipMaxDepth: 10,
      economyMaxDepth: 50,
      degradedWaitMs: 10_000,
      vipReturnDepth: 5,
      economyReturnDepth: 30,
    });
    const m = metrics({ queueDepth: 11, avgWaitMs: 10_001 });
    expect(decidePolicy(m, undefined)).toEqual(decidePolicy(m, undefined, defaultPolicyConfig));
  });
});

describe('decidePolicy, hysteresis', () => {
  it('goes up at once, at every tick', () => {
    expect(
      run([
        [0, 0],
        [500, 11],
        [1000, 51],
      ]).map((p) => p.mode),
    ).toEqual(['VIP', 'ECONOMY', 'SURGE']);
  });

  it('does not flap around a threshold: 9, 12, 9, 12 stays ECONOMY once there', () => {
    const modes = run([
      [0, 9],
      [500, 12],
      [1000, 9],
      [1500, 12],
      [2000, 9],
      [60_000, 9],
    ]).map((p) => p.mode);
    expect(modes).toEqual(['VIP', 'ECONOMY', 'ECONOMY', 'ECONOMY', 'ECONOMY', 'ECONOMY']);
  });

  it('returns to VIP only at the return depth and after the hold time', () => {
    const steps: [number, number][] = [
      [0, 20],
      [1000, 4],
      [4999, 4],
      [5000, 4],
    ];
    const decisions = run(steps);
    expect(decisions.map((p) => p.mode)).toEqual(['ECONOMY', 'ECONOMY', 'ECONOMY', 'VIP']);
    expect(decisions[1]!.reason).toBe('queue depth 4: holding ECONOMY for 5000 ms');
    expect(decisions[3]!.reason).toBe('queue depth 4 <= 5');
    expect(decisions[3]!.since).toBe(1_005_000);
  });

  it('leaves SURGE for ECONOMY at 30, and for VIP straight away when the depth is at the VIP return depth', () => {
    expect(
      run([
        [0, 60],
        [6000, 31],
        [12_000, 30],
      ]).map((p) => p.mode),
    ).toEqual(['SURGE', 'SURGE', 'ECONOMY']);
    expect(
      run([
        [0, 60],
        [6000, 2],
      ]).map((p) => p.mode),
    ).toEqual(['SURGE', 'VIP']);
    expect(
      run([
        [0, 60],
        [6000, 31],
      ])[1]!.reason,
    ).toBe('queue depth 31 > 30: staying SURGE');
  });

  it('keeps the hold time from the last change, not the first decision', () => {
    const decisions = run([
      [0, 0],
      [10_000, 20],
      [12_000, 0],
      [15_000, 0],
    ]);
    expect(decisions.map((p) => p.mode)).toEqual(['VIP', 'ECONOMY', 'ECONOMY', 'VIP']);
    expect(decisions.map((p) => p.since)).toEqual([1_000_000, 1_010_000, 1_010_000, 1_015_000]);
  });

  it('leaves 512 px only when the wait is back at 5 s and the hold time passed', () => {
    const decisions = run([
      [0, 0, 11_000],
      [1000, 0, 6000],
      [2000, 0, 4000],
      [5000, 0, 4000],
    ]);
    expect(decisions.map((p) => p.degraded)).toEqual([true, true, true, false]);
    expect(decisions[1]!.reason).toBe('queue depth 0 <= 10; wait 6000 ms > 5000 ms: staying at 512 px');
    expect(decisions[2]!.reason).toBe('queue depth 0 <= 10; held 512 px for 5000 ms');
  });

  it('with return thresholds equal to the table and no hold time, is the original table at every tick', () => {
    const plain: PolicyConfig = { ...defaultPolicyConfig, vipReturnDepth: 10, economyReturnDepth: 50, normalReturnWaitMs: 10_000, holdMs: 0 };
    const depths = [0, 60, 20, 5, 51, 11, 10, 0];
    const decisions = run(
      depths.map((d, i) => [i * 500, d]),
      plain,
    );
    expect(decisions.map((p) => p.batchSize)).toEqual(depths.map((d) => decidePolicy(metrics({ queueDepth: d }), undefined, plain).batchSize));
  });
});

describe('decidePolicy with custom thresholds', () => {
  const config: PolicyConfig = {
    ...defaultPolicyConfig,
    vipMaxDepth: 2,
    economyMaxDepth: 5,
    degradedWaitMs: 500,
    vipReturnDepth: 1,
    economyReturnDepth: 3,
    normalReturnWaitMs: 100,
  };

  it.each<[number, number, Mode]>([
    [0, 1, 'VIP'],
    [2, 1, 'VIP'],
    [3, 4, 'ECONOMY'],
    [5, 4, 'ECONOMY'],
    [6, 8, 'SURGE'],
  ])('depth %i -> batch %i, %s', (queueDepth, batchSize, mode) => {
    expect(decidePolicy(metrics({ queueDepth }), undefined, config)).toMatchObject({ batchSize, mode });
  });

  it('degrades above its own wait limit', () => {
    expect(decidePolicy(metrics({ avgWaitMs: 500 }), undefined, config).degraded).toBe(false);
    expect(decidePolicy(metrics({ avgWaitMs: 501 }), undefined, config).degraded).toBe(true);
  });

  it('takes a previous decision of the adaptive strategy by its batch size', () => {
    const adaptive: Policy = { batchSize: 2, degraded: false, mode: 'ECONOMY', reason: 'x', strategy: 'adaptive', since: 0 };
    expect(decidePolicy(metrics({ queueDepth: 4, at: 10_000 }), adaptive, config)).toMatchObject({ batchSize: 4, mode: 'ECONOMY', since: 10_000 });
  });
});

import { describe, expect, it } from 'vitest';
import { decidePolicy, defaultPolicyConfig, type Mode, type PolicyConfig } from './policy.ts';

describe('decidePolicy with the default table (VIP <= 10 < ECONOMY <= 50 < SURGE)', () => {
  it.each<[number, number, Mode]>([
    [0, 1, 'VIP'],
    [10, 1, 'VIP'],
    [11, 4, 'ECONOMY'],
    [50, 4, 'ECONOMY'],
    [51, 8, 'SURGE'],
    [10_000, 8, 'SURGE'],
  ])('depth %i -> batch %i, %s', (queueDepth, batchSize, mode) => {
    const policy = decidePolicy({ queueDepth, avgWaitMs: 0 }, undefined);
    expect(policy).toMatchObject({ batchSize, mode, degraded: false });
    expect(policy.reason).toContain(`queue depth ${queueDepth}`);
  });

  it('degrades only above the wait limit: 10000 ms is normal, 10001 ms is 512 px', () => {
    expect(decidePolicy({ queueDepth: 0, avgWaitMs: 10_000 }, undefined).degraded).toBe(false);
    const degraded = decidePolicy({ queueDepth: 0, avgWaitMs: 10_001 }, undefined);
    expect(degraded).toMatchObject({ degraded: true, batchSize: 1, mode: 'VIP' });
    expect(degraded.reason).toBe('queue depth 0 <= 10; avg wait 10001 ms > 10000 ms: 512 px');
  });

  it('decides degradation independently of the mode', () => {
    for (const queueDepth of [5, 30, 80]) {
      expect(decidePolicy({ queueDepth, avgWaitMs: 20_000 }, undefined).degraded).toBe(true);
    }
  });

  it('explains each mode in the reason', () => {
    expect(decidePolicy({ queueDepth: 11, avgWaitMs: 0 }, undefined).reason).toBe('queue depth 11 <= 50');
    expect(decidePolicy({ queueDepth: 51, avgWaitMs: 0 }, undefined).reason).toBe('queue depth 51 > 50');
  });

  it('defaults to defaultPolicyConfig', () => {
    expect(defaultPolicyConfig).toEqual({ vipMaxDepth: 10, economyMaxDepth: 50, degradedWaitMs: 10_000 });
    const metrics = { queueDepth: 11, avgWaitMs: 10_001 };
    expect(decidePolicy(metrics, undefined)).toEqual(decidePolicy(metrics, undefined, defaultPolicyConfig));
  });
});

describe('decidePolicy with a custom PolicyConfig', () => {
  const config: PolicyConfig = { vipMaxDepth: 2, economyMaxDepth: 5, degradedWaitMs: 500 };

  it.each<[number, number, Mode]>([
    [0, 1, 'VIP'],
    [2, 1, 'VIP'],
    [3, 4, 'ECONOMY'],
    [5, 4, 'ECONOMY'],
    [6, 8, 'SURGE'],
  ])('depth %i -> batch %i, %s', (queueDepth, batchSize, mode) => {
    expect(decidePolicy({ queueDepth, avgWaitMs: 0 }, undefined, config)).toMatchObject({ batchSize, mode });
  });

  it('degrades above its own wait limit', () => {
    expect(decidePolicy({ queueDepth: 0, avgWaitMs: 500 }, undefined, config).degraded).toBe(false);
    expect(decidePolicy({ queueDepth: 0, avgWaitMs: 501 }, undefined, config).degraded).toBe(true);
  });

  it('is pure: the previous policy does not change the decision (hysteresis is issue #7)', () => {
    const previous = decidePolicy({ queueDepth: 100, avgWaitMs: 0 }, undefined, config);
    expect(decidePolicy({ queueDepth: 1, avgWaitMs: 0 }, previous, config)).toEqual(decidePolicy({ queueDepth: 1, avgWaitMs: 0 }, undefined, config));
  });
});

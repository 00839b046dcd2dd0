import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { defaultPolicyConfig } from '@proteus/arbitrator/policy';
import { describe, expect, it } from 'vitest';
import { defaultSimOptions, type PolicyUnderTest, type SimOptions, simulate } from './cluster.ts';
import { loadProfile } from './profile.ts';
import { goals, percentile, type Row, summarize } from './report.ts';
import { arrivals, traces } from './traces.ts';

const profile = loadProfile();
const quiet: SimOptions = { ...defaultSimOptions, jitter: 0 };
const batch = (batchSize: number, degraded = false): PolicyUnderTest => ({ name: `batch ${batchSize}`, fixed: { batchSize, degraded } });

describe('the latency profile', () => {
  it('answers measured batch sizes, interpolates between them, and scales per job above', () => {
    expect(profile.seconds(1, false)).toBe(10);
    expect(profile.seconds(3, false)).toBeCloseTo((18.868 + 37.037) / 2, 9);
    expect(profile.seconds(16, true)).toBeCloseTo(7.729 * 2, 9);
  });

  it.each([
    ['a malformed field', { 'catvton:768x1024:50': { seconds: 1 } }, 'is not <engine>'],
    ['a negative time', { 'catvton:768x1024:50:1': { seconds: -1 }, 'catvton:384x512:50:1': { seconds: 1 } }, 'seconds -1'],
    ['no 512 px shape', { 'catvton:768x1024:50:1': { seconds: 10 } }, 'needs a full and a smaller (512 px) shape'],
  ])('refuses a profile file with %s, naming it', (_what, content, message) => {
    const file = join(mkdtempSync(join(tmpdir(), 'profile-')), 'p.json');
    writeFileSync(file, JSON.stringify(content));
    expect(() => loadProfile(file)).toThrow(message);
  });
});

describe('traces', () => {
  it('draw the same arrivals for a seed, and others for another', () => {
    const flash = traces.find((t) => t.name === 'flash-crowd')!;
    expect(arrivals(flash, 1)).toEqual(arrivals(flash, 1));
    expect(arrivals(flash, 2)).not.toEqual(arrivals(flash, 1));
  });

  it('follow their rate: ten times the arrivals per minute in the flash crowd', () => {
    const flash = traces.find((t) => t.name === 'flash-crowd')!;
    const times = arrivals(flash, 3);
    const during = times.filter((t) => t >= 20 * 60 && t < 35 * 60).length / 15;
    const before = times.filter((t) => t < 20 * 60).length / 20;
    expect(during / before).toBeGreaterThan(6);
    expect(during / before).toBeLessThan(16);
  });
});

describe('the worker pods', () => {
  it('run a full batch at once and a lone job after the batch window', () => {
    const full = simulate([0, 0, 0, 0, 0, 0, 0, 0], 60, batch(8), profile, quiet);
    expect([...full.latencies]).toEqual(Array(8).fill(profile.seconds(8, false)));
    const lone = simulate([0], 60, batch(8), profile, quiet);
    expect(lone.latencies[0]).toBeCloseTo(quiet.batchWindowS + profile.seconds(1, false), 9);
  });

  it('run jobs one after another at batch 1, at 512 px when degraded', () => {
    expect([...simulate([0, 0, 0], 60, batch(1), profile, quiet).latencies]).toEqual([10, 20, 30]);
    const degraded = simulate([0], 60, batch(1, true), profile, quiet);
    expect(degraded.latencies[0]).toBe(profile.seconds(1, true));
    expect(degraded.degradedJobs).toBe(1);
  });

  it('bill the minimum replica for the whole trace when nothing arrives', () => {
    expect(simulate([], 3600, batch(1), profile, quiet).gpuHours).toBeCloseTo(1, 9);
  });
});

describe('KEDA and the HPA', () => {
  const burst = Array(100).fill(0) as number[];

  it('scale up at the first poll to lag / 10 (at most 5); new pods serve after the start time and are billed from creation', () => {
    const r = simulate(burst, 600, batch(1), profile, { ...quiet, sampleEveryS: 1 });
    expect(r.maxPods).toBe(5);
    const at = (t: number) => r.samples.find((s) => s.t === t)!;
    expect(at(1)).toMatchObject({ pods: 5, readyPods: 1 });
    expect(at(quiet.podStartS - 1).readyPods).toBe(1);
    expect(at(quiet.podStartS + 1).readyPods).toBe(5);
  });

  it('scale down only after the stabilization window', () => {
    const r = simulate(burst, 1800, batch(1), profile, { ...quiet, sampleEveryS: 1 });
    const drained = r.samples.find((s) => s.queueDepth === 0 && s.t > 10)!.t;
    const lastFive = r.samples.filter((s) => s.pods === 5).at(-1)!.t;
    expect(lastFive).toBeGreaterThanOrEqual(drained);
    // lag fell under 10 about when the pods had emptied it; 300 s later they go
    expect(r.samples.at(-1)!.pods).toBe(1);
    expect(lastFive - r.samples.filter((s) => s.queueDepth >= 10 * 5).at(-1)!.t).toBeGreaterThanOrEqual(quiet.scaleDownWindowS - quiet.kedaPollS);
  });
});

describe('the arbitrated runs', () => {
  const flash = traces.find((t) => t.name === 'flash-crowd')!;
  const times = arrivals(flash, 5);

  it('are deterministic for a seed', () => {
    const adaptive: PolicyUnderTest = { name: 'adaptive', config: { ...defaultPolicyConfig, strategy: 'adaptive' } };
    const first = times.filter((t) => t < 30 * 60);
    const a = simulate(first, 30 * 60, adaptive, profile, defaultSimOptions);
    const b = simulate(first, 30 * 60, adaptive, profile, defaultSimOptions);
    expect(a).toEqual(b);
    expect(a.jobs).toBe(first.length);
  });

  it('feed decidePolicy the measured metrics every tick', () => {
    let ticks = 0;
    let sawDepth = false;
    simulate(times.slice(0, 50), 600, { name: 'table', config: defaultPolicyConfig }, profile, defaultSimOptions, (m) => {
      ticks++;
      if (m.queueDepth > 0) sawDepth = true;
      expect(m.profile).toBe(profile.entries);
    });
    expect(ticks).toBeGreaterThanOrEqual(600 / defaultSimOptions.tickS);
    expect(sawDepth).toBe(true);
  });
});

describe('the report', () => {
  it('takes nearest-rank percentiles', () => {
    expect(percentile(Float64Array.from([1, 2, 3, 4]), 0.5)).toBe(2);
    expect(percentile(Float64Array.from([1, 2, 3, 4]), 0.95)).toBe(4);
    expect(Number.isNaN(percentile([], 0.5))).toBe(true);
  });

  it('prices GPU-hours per 1,000 try-ons and checks the goals either way', () => {
    const base = summarize('flash-crowd', simulate([0], 3600, batch(1), profile, quiet), 0.52, 30);
    expect(base.costPer1k).toBeCloseTo(520, 6);
    const row = (trace: string, policy: string, costPer1k: number, p95: number): Row => ({ ...base, trace, policy, costPer1k, p95 });
    const met = goals(
      [row('flash-crowd', 'b1', 2, 100), row('flash-crowd', 'a', 1.5, 100), row('steady-low', 'b1', 3, 20), row('steady-low', 'a', 3, 21.9)],
      'b1',
      'a',
    );
    expect(met.map((l) => l.endsWith(': MET'))).toEqual([true, true]);
    const missed = goals(
      [row('flash-crowd', 'b1', 2, 100), row('flash-crowd', 'a', 1.6, 100), row('steady-low', 'b1', 3, 20), row('steady-low', 'a', 3, 22.1)],
      'b1',
      'a',
    );
    expect(missed.map((l) => l.endsWith('NOT MET'))).toEqual([true, true]);
  });
});

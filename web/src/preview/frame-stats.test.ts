import { describe, expect, it } from 'vitest';
import { createFrameStats, percentile, rollingWindow } from './frame-stats.ts';

describe('percentile (nearest rank)', () => {
  it('picks the value at or above p percent of the samples', () => {
    const values = Array.from({ length: 100 }, (_, i) => i + 1);
    expect(percentile(values, 95)).toBe(95);
    expect(percentile(values, 50)).toBe(50);
    expect(percentile([3, 1, 2], 100)).toBe(3);
    expect(percentile([7], 95)).toBe(7);
    expect(percentile([], 95)).toBeNaN();
  });
});

describe('rolling window', () => {
  it('keeps the last `size` values and counts all', () => {
    const w = rollingWindow(3);
    for (const v of [1, 2, 3, 4, 5]) w.push(v);
    expect(w.values().sort()).toEqual([3, 4, 5]);
    expect(w.count).toBe(5);
  });
});

describe('frame stats', () => {
  it('reports fps from frame times, cost percentiles and inference', () => {
    const stats = createFrameStats(10);
    for (let i = 0; i < 10; i++) stats.frame(i === 9 ? 5 : 1, i * 20);
    stats.inference(30);
    stats.inference(40);
    stats.inference(50);
    const f = stats.figures();
    expect(f.fps).toBeCloseTo(50, 9);
    expect(f.frameP95Ms).toBe(5);
    expect(f.frameP50Ms).toBe(1);
    expect(f.inferenceP50Ms).toBe(40);
    expect(f.inferenceP95Ms).toBe(50);
    expect(f.frames).toBe(10);
  });
});

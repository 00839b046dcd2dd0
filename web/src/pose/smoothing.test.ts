import { describe, expect, it } from 'vitest';
import { facing } from '../../test/landmarks.ts';
import { createLandmarkSmoother, createOneEuroFilter, defaultSmoothing } from './smoothing.ts';

/** A deterministic jitter: a fixed pseudo-random sequence in [-amplitude, amplitude]. */
function jitter(n: number, amplitude: number): number[] {
  let s = 12345;
  return Array.from({ length: n }, () => {
    s = (s * 1103515245 + 12345) % 2 ** 31;
    return ((s / 2 ** 31) * 2 - 1) * amplitude;
  });
}

const variance = (xs: number[]) => {
  const mean = xs.reduce((a, b) => a + b, 0) / xs.length;
  return xs.reduce((a, b) => a + (b - mean) ** 2, 0) / xs.length;
};

describe('1€ filter', () => {
  it('passes a constant through unchanged', () => {
    const f = createOneEuroFilter();
    for (let i = 0; i < 50; i++) expect(f.filter(0.42, i * 33)).toBe(0.42);
  });

  it('takes the first value as it is', () => {
    expect(createOneEuroFilter().filter(0.9, 1000)).toBe(0.9);
  });

  it('cuts jitter of a still shopper by at least 4x in variance (30 fps)', () => {
    const noise = jitter(300, 0.01);
    const f = createOneEuroFilter();
    const out = noise.map((n, i) => f.filter(0.5 + n, i * 33.3));
    expect(variance(out.slice(30))).toBeLessThan(variance(noise.slice(30)) / 4);
  });

  it('follows a step: it moves toward the new value every frame, never past it, and gets there', () => {
    const f = createOneEuroFilter();
    for (let i = 0; i < 10; i++) f.filter(0.2, i * 16.7);
    let previous = 0.2;
    let last = 0.2;
    for (let i = 10; i < 70; i++) {
      last = f.filter(0.6, i * 16.7);
      expect(last).toBeGreaterThanOrEqual(previous);
      expect(last).toBeLessThanOrEqual(0.6);
      previous = last;
    }
    expect(last).toBeCloseTo(0.6, 3);
  });

  it('lags a fast movement less than a plain low-pass (beta 0) does', () => {
    const adaptive = createOneEuroFilter(defaultSmoothing);
    const plain = createOneEuroFilter({ ...defaultSmoothing, beta: 0 });
    let errorAdaptive = 0;
    let errorPlain = 0;
    for (let i = 0; i < 30; i++) {
      const x = i * 0.02; // a shoulder crossing 60% of the frame in a second
      errorAdaptive += Math.abs(adaptive.filter(x, i * 33.3) - x);
      errorPlain += Math.abs(plain.filter(x, i * 33.3) - x);
    }
    expect(errorAdaptive).toBeLessThan(errorPlain / 2);
  });

  it('does not divide by zero on a repeated timestamp', () => {
    const f = createOneEuroFilter();
    f.filter(0.1, 100);
    expect(f.filter(0.3, 100)).toBe(0.3);
    expect(Number.isFinite(f.filter(0.31, 133))).toBe(true);
  });
});

describe('landmark smoother', () => {
  it('smooths x and y and passes visibility and z through', () => {
    const smoother = createLandmarkSmoother();
    const a = facing();
    smoother.smooth(a, 0);
    const b = facing().map((l) => ({ ...l, x: l.x + 0.05, visibility: 0.4, z: -1 }));
    const out = smoother.smooth(b, 33);
    const l11 = out[11] as { x: number; visibility?: number; z?: number };
    expect(l11.x).toBeGreaterThan(0.7);
    expect(l11.x).toBeLessThan(0.75);
    expect(l11.visibility).toBe(0.4);
    expect(l11.z).toBe(-1);
    expect(out).toHaveLength(33);
  });

  it('starts afresh after the pose was lost longer than resetAfterMs', () => {
    const smoother = createLandmarkSmoother(defaultSmoothing, 500);
    smoother.smooth(facing(), 0);
    const moved = facing().map((l) => ({ ...l, x: l.x + 0.2 }));
    expect((smoother.smooth(moved, 600)[11] as { x: number }).x).toBeCloseTo(0.9, 9);
  });
});

import { describe, expect, it } from 'vitest';
import { ArrivalMeter } from './arrivals.ts';

describe('ArrivalMeter', () => {
  it('answers nothing from one sample', () => {
    const meter = new ArrivalMeter(10_000);
    expect(meter.seeded).toBe(false);
    expect(meter.record(0, 5)).toBeUndefined();
  });

  it('measures the growth of entries-added per second over the window', () => {
    const meter = new ArrivalMeter(10_000);
    meter.record(0, 100);
    expect(meter.record(5000, 110)).toBe(2);
    expect(meter.record(10_000, 120)).toBe(2);
    // the first sample falls out of the window: the rate now spans 5 s to 15 s
    expect(meter.record(15_000, 160)).toBe(5);
  });

  it('starts from a seed: the entries enqueued in the window before', () => {
    const meter = new ArrivalMeter(30_000);
    meter.seed(100_000, 50, 15);
    expect(meter.seeded).toBe(true);
    expect(meter.record(100_500, 51)).toBeCloseTo(16 / 30.5, 9);
  });

  it('starts over when the counter goes back (the stream was created again)', () => {
    const meter = new ArrivalMeter(10_000);
    meter.record(0, 500);
    expect(meter.record(1000, 3)).toBeUndefined();
    expect(meter.record(2000, 5)).toBe(2);
  });

  it('starts over when the clock goes back', () => {
    const meter = new ArrivalMeter(10_000);
    meter.record(5000, 1);
    expect(meter.record(4000, 2)).toBeUndefined();
  });
});

import { describe, expect, it } from 'vitest';
import { batchTimes, type ProfileEntry, parseProfileEntry, secondsFor } from './profile.ts';

const value = (seconds: unknown, samples: unknown = 7) => JSON.stringify({ seconds, samples, at: '2026-11-29T03:12:44.120Z' });

describe('parseProfileEntry (worker:profile fields, written by the workers)', () => {
  it('reads <engine>:<WIDTHxHEIGHT>:<steps>:<batchSize> and its JSON value', () => {
    expect(parseProfileEntry('catvton:768x1024:50:4', value(11.82, 37))).toEqual({
      engine: 'catvton',
      resolution: '768x1024',
      steps: 50,
      batchSize: 4,
      seconds: 11.82,
      samples: 37,
    });
  });

  it.each([
    ['catvton:768x1024:50', value(1), 'is not <engine>:<WIDTHxHEIGHT>:<steps>:<batchSize>'],
    ['catvton:768*1024:50:4', value(1), 'is not <engine>'],
    ['CATVTON:768x1024:50:4', value(1), 'is not <engine>'],
    ['catvton:768x1024:50:0', value(1), 'sizes must be at least 1'],
    ['catvton:0x1024:50:1', value(1), 'sizes must be at least 1'],
    ['catvton:768x1024:50:4', '{not json', 'value is not JSON'],
    ['catvton:768x1024:50:4', 'null', 'seconds undefined is not a number'],
    ['catvton:768x1024:50:4', value('11'), 'seconds "11" is not a number'],
    ['catvton:768x1024:50:4', value(0), 'seconds 0 is not a number in (0, 86400]'],
    ['catvton:768x1024:50:4', value(-3), 'seconds -3 is not'],
    ['catvton:768x1024:50:4', value(1e9), 'seconds 1000000000 is not'],
    ['catvton:768x1024:50:4', value(1, 2.5), 'samples 2.5 is not a whole number'],
  ])('names what is wrong with %s = %s', (field, raw, problem) => {
    const parsed = parseProfileEntry(field, raw);
    expect(typeof parsed).toBe('string');
    expect(parsed).toContain(problem);
  });
});

const entry = (engine: string, resolution: string, batchSize: number, seconds: number, samples = 5, steps = 50): ProfileEntry => ({
  engine,
  resolution,
  steps,
  batchSize,
  seconds,
  samples,
});

describe('batchTimes', () => {
  it('answers nothing for an empty profile', () => {
    expect(batchTimes([])).toBeUndefined();
  });

  it('plans with the most-sampled engine, its largest shape as full and its smallest as degraded', () => {
    const times = batchTimes([
      entry('warp', '768x1024', 1, 0.03, 3),
      entry('catvton', '768x1024', 1, 10),
      entry('catvton', '768x1024', 4, 37),
      entry('catvton', '384x512', 1, 2.2),
      entry('catvton', '1024x768', 1, 10.5, 1),
      entry('catvton', '768x1024', 1, 4, 1, 20),
    ])!;
    expect(times.engine).toBe('catvton');
    expect(times.full).toEqual({
      resolution: '768x1024',
      steps: 50,
      seconds: new Map([
        [1, 10],
        [4, 37],
      ]),
    });
    expect(times.degraded).toEqual({ resolution: '384x512', steps: 50, seconds: new Map([[1, 2.2]]) });
  });

  it('has no degraded shape when every shape has the same long side', () => {
    expect(batchTimes([entry('catvton', '768x1024', 1, 10), entry('catvton', '1024x768', 1, 10)])?.degraded).toBeUndefined();
  });

  it('prefers catvton over warp on equal samples', () => {
    expect(batchTimes([entry('warp', '768x1024', 1, 0.03), entry('catvton', '768x1024', 1, 10)])?.engine).toBe('catvton');
  });
});

describe('secondsFor', () => {
  const times = {
    resolution: '768x1024',
    steps: 50,
    seconds: new Map([
      [2, 18],
      [8, 64],
    ]),
  };

  it('answers measured sizes as measured', () => {
    expect(secondsFor(times, 2)).toBe(18);
  });

  it('takes the per-job time of the nearest measured size below, else above', () => {
    expect(secondsFor(times, 4)).toBe(36);
    expect(secondsFor(times, 16)).toBe(128);
    expect(secondsFor(times, 1)).toBe(9);
  });
});

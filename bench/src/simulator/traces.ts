/**
 * Traffic traces: an arrival rate over time (jobs/s), turned into arrival times by a seeded
 * non-homogeneous Poisson process (thinning). Every policy is run against the same arrivals.
 */
import { Rng } from './rng.ts';

export interface Trace {
  name: string;
  /** what it stands for */
  description: string;
  durationS: number;
  /** jobs/s at time t (s) */
  rate: (t: number) => number;
  /** an upper bound of rate() */
  peak: number;
}

const MIN = 60;
const HOUR = 3600;

export const traces: Trace[] = [
  {
    name: 'steady-low',
    description: '0.04 jobs/s (2.4 a minute) for 2 h',
    durationS: 2 * HOUR,
    rate: () => 0.04,
    peak: 0.04,
  },
  {
    name: 'diurnal',
    description: '24 h between 0.02 jobs/s at night and 0.2 jobs/s at midday (raised cosine)',
    durationS: 24 * HOUR,
    rate: (t) => 0.02 + 0.18 * (1 - Math.cos((2 * Math.PI * t) / (24 * HOUR))) * 0.5,
    peak: 0.2,
  },
  {
    name: 'flash-crowd',
    description: '0.04 jobs/s, 10x (0.4 jobs/s) from minute 20 to minute 35, then 0.04 again until minute 75',
    durationS: 75 * MIN,
    rate: (t) => (t >= 20 * MIN && t < 35 * MIN ? 0.4 : 0.04),
    peak: 0.4,
  },
  {
    name: 'slow-ramp',
    description: 'from 0.01 to 0.3 jobs/s over 2 h, then 30 min at 0.3',
    durationS: 2.5 * HOUR,
    rate: (t) => Math.min(0.3, 0.01 + (0.29 * t) / (2 * HOUR)),
    peak: 0.3,
  },
];

/** Arrival times (s) of one trace, deterministic for a seed. */
export function arrivals(trace: Trace, seed: number): number[] {
  const rng = new Rng(seed);
  const out: number[] = [];
  let t = 0;
  for (;;) {
    t += rng.exponential(trace.peak);
    if (t >= trace.durationS) return out;
    if (rng.next() * trace.peak < trace.rate(t)) out.push(t);
  }
}

/**
 * The worker's latency profile as the adaptive policy needs it: seconds per batch at full and at
 * degraded resolution, by batch size. The workers publish `worker:profile` (a Hash, field
 * `<engine>:<WIDTHxHEIGHT>:<steps>:<batchSize>`, value `{"seconds","samples","at"}`, docs/WORKER.md);
 * parsing it lives here so the simulator can feed the same structure from a file.
 */

export interface ProfileEntry {
  engine: string;
  /** WIDTHxHEIGHT */
  resolution: string;
  steps: number;
  batchSize: number;
  /** engine seconds of one batch of this shape */
  seconds: number;
  samples: number;
}

const FIELD = /^([a-z][a-z0-9_-]{0,31}):(\d{1,5})x(\d{1,5}):(\d{1,4}):(\d{1,3})$/;

/** One Hash field and its value; a string naming what is wrong when either is malformed. */
export function parseProfileEntry(field: string, value: string): ProfileEntry | string {
  const match = FIELD.exec(field);
  if (!match) return `field ${JSON.stringify(field.slice(0, 80))} is not <engine>:<WIDTHxHEIGHT>:<steps>:<batchSize>`;
  const [, engine, width, height, steps, batchSize] = match;
  let parsed: unknown;
  try {
    parsed = JSON.parse(value);
  } catch {
    return `field ${field}: value is not JSON`;
  }
  const { seconds, samples } = (parsed ?? {}) as { seconds?: unknown; samples?: unknown };
  if (typeof seconds !== 'number' || !Number.isFinite(seconds) || seconds <= 0 || seconds > 86_400) {
    return `field ${field}: seconds ${JSON.stringify(seconds)} is not a number in (0, 86400]`;
  }
  if (samples !== undefined && (typeof samples !== 'number' || !Number.isInteger(samples) || samples < 0)) {
    return `field ${field}: samples ${JSON.stringify(samples)} is not a whole number`;
  }
  if (Number(batchSize) < 1 || Number(width) < 1 || Number(height) < 1) return `field ${field}: sizes must be at least 1`;
  return { engine: engine!, resolution: `${width}x${height}`, steps: Number(steps), batchSize: Number(batchSize), seconds, samples: samples ?? 1 };
}

/** Seconds per batch by batch size, for one shape (resolution and steps). */
export interface ShapeTimes {
  resolution: string;
  steps: number;
  /** batch size -> seconds, as measured */
  seconds: Map<number, number>;
}

export interface BatchTimes {
  engine: string;
  full: ShapeTimes;
  /** the degraded shape, when the workers have run it */
  degraded?: ShapeTimes;
}

const longSide = (resolution: string) => Math.max(...resolution.split('x').map(Number));

/**
 * Which shapes the policy plans with: the engine with most samples (catvton before warp on a tie),
 * its most-sampled shape at the largest long side as full resolution, and its most-sampled shape
 * at the smallest long side, when smaller, as degraded. Undefined for an empty profile.
 */
export function batchTimes(entries: readonly ProfileEntry[]): BatchTimes | undefined {
  if (entries.length === 0) return undefined;
  const samplesBy = new Map<string, number>();
  for (const e of entries) samplesBy.set(e.engine, (samplesBy.get(e.engine) ?? 0) + e.samples);
  const engine = [...samplesBy].sort((a, b) => b[1] - a[1] || Number(b[0] === 'catvton') - Number(a[0] === 'catvton'))[0]![0];
  const shapes = new Map<string, { resolution: string; steps: number; samples: number; seconds: Map<number, number> }>();
  for (const e of entries) {
    if (e.engine !== engine) continue;
    const key = `${e.resolution}:${e.steps}`;
    const shape = shapes.get(key) ?? { resolution: e.resolution, steps: e.steps, samples: 0, seconds: new Map() };
    shape.samples += e.samples;
    shape.seconds.set(e.batchSize, e.seconds);
    shapes.set(key, shape);
  }
  const all = [...shapes.values()];
  const mostSampled = (side: number) =>
    all.filter((s) => longSide(s.resolution) === side).sort((a, b) => b.samples - a.samples || a.resolution.localeCompare(b.resolution))[0]!;
  const sides = all.map((s) => longSide(s.resolution));
  const full = mostSampled(Math.max(...sides));
  const smallest = Math.min(...sides);
  const degraded = smallest < longSide(full.resolution) ? mostSampled(smallest) : undefined;
  const times = (s: typeof full): ShapeTimes => ({ resolution: s.resolution, steps: s.steps, seconds: s.seconds });
  return degraded ? { engine, full: times(full), degraded: times(degraded) } : { engine, full: times(full) };
}

const sortedSizes = new WeakMap<Map<number, number>, number[]>();

/**
 * Seconds of a batch of `size` at one shape. Measured sizes answer themselves; another size takes
 * the per-job time of the nearest measured size below it (no batching gain assumed beyond what was
 * measured), or above it when none is below.
 */
export function secondsFor(times: ShapeTimes, size: number): number {
  const exact = times.seconds.get(size);
  if (exact !== undefined) return exact;
  let sizes = sortedSizes.get(times.seconds);
  if (!sizes) {
    sizes = [...times.seconds.keys()].sort((a, b) => a - b);
    sortedSizes.set(times.seconds, sizes);
  }
  const below = sizes.filter((s) => s < size).at(-1);
  const nearest = below ?? sizes[0]!;
  return (times.seconds.get(nearest)! / nearest) * size;
}

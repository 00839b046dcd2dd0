/**
 * The latency profile the simulated workers run at (and the arbitrator reads, as it would read
 * `worker:profile`): a JSON object in the shape of `HGETALL worker:profile`, field
 * `<engine>:<WIDTHxHEIGHT>:<steps>:<batchSize>` -> `{"seconds", "samples"}` (or that JSON as a
 * string). Between measured batch sizes a batch takes the linear interpolation of its neighbours;
 * above the largest, that size's time per job.
 */
import { readFileSync } from 'node:fs';
import { batchTimes, type ProfileEntry, parseProfileEntry, type ShapeTimes } from '@proteus/arbitrator/profile';

export interface SimProfile {
  entries: ProfileEntry[];
  full: ShapeTimes;
  degraded: ShapeTimes;
  /** seconds of a batch of `size` jobs */
  seconds(size: number, degraded: boolean): number;
}

export const DEFAULT_PROFILE = new URL('./profiles/rtx4000ada-estimate.json', import.meta.url);

export function loadProfile(path: string | URL = DEFAULT_PROFILE): SimProfile {
  const raw = JSON.parse(readFileSync(path, 'utf8')) as Record<string, unknown>;
  const entries: ProfileEntry[] = [];
  for (const [field, value] of Object.entries(raw)) {
    if (field.startsWith('$')) continue;
    const parsed = parseProfileEntry(field, typeof value === 'string' ? value : JSON.stringify(value));
    if (typeof parsed === 'string') throw new Error(`${String(path)}: ${parsed}`);
    entries.push(parsed);
  }
  const times = batchTimes(entries);
  if (!times?.degraded) throw new Error(`${String(path)}: the profile needs a full and a smaller (512 px) shape`);
  const { full, degraded } = times;
  return { entries, full, degraded, seconds: (size, d) => interpolated(d ? degraded : full, size) };
}

function interpolated(times: ShapeTimes, size: number): number {
  const sizes = [...times.seconds.keys()].sort((a, b) => a - b);
  const at = (s: number) => times.seconds.get(s)!;
  const below = sizes.filter((s) => s <= size).at(-1);
  const above = sizes.find((s) => s >= size);
  if (below === undefined) return (at(above!) / above!) * size;
  if (above === undefined) return (at(below) / below) * size;
  if (above === below) return at(below);
  return at(below) + ((size - below) / (above - below)) * (at(above) - at(below));
}

/**
 * Rolling figures of the preview: the cost of each frame (warp update plus render, ms), frames
 * per second, and pose inference time, over the last `size` samples. The mirror shows them on
 * demand and puts them on its stage element, where the benchmark reads them.
 */

export function percentile(values: readonly number[], p: number): number {
  if (!values.length) return Number.NaN;
  const sorted = [...values].sort((a, b) => a - b);
  // nearest rank: the smallest value with at least p of the samples at or below it
  const rank = Math.ceil((p / 100) * sorted.length);
  return sorted[Math.min(sorted.length, Math.max(1, rank)) - 1] as number;
}

export interface RollingWindow {
  push(value: number): void;
  values(): number[];
  readonly count: number;
}

export function rollingWindow(size: number): RollingWindow {
  const buffer: number[] = [];
  let next = 0;
  let total = 0;
  return {
    push(value) {
      if (buffer.length < size) buffer.push(value);
      else buffer[next] = value;
      next = (next + 1) % size;
      total++;
    },
    values: () => [...buffer],
    get count() {
      return total;
    },
  };
}

export interface FrameFigures {
  fps: number;
  frameP95Ms: number;
  frameP50Ms: number;
  inferenceP50Ms: number;
  inferenceP95Ms: number;
  frames: number;
}

export function createFrameStats(size = 240) {
  const frameCosts = rollingWindow(size);
  const frameTimes = rollingWindow(size);
  const inference = rollingWindow(size);
  return {
    frame(costMs: number, atMs: number) {
      frameCosts.push(costMs);
      frameTimes.push(atMs);
    },
    inference(ms: number) {
      inference.push(ms);
    },
    figures(): FrameFigures {
      const times = frameTimes.values().sort((a, b) => a - b);
      const span = times.length > 1 ? (times.at(-1) as number) - (times[0] as number) : 0;
      return {
        fps: span > 0 ? ((times.length - 1) * 1000) / span : 0,
        frameP95Ms: percentile(frameCosts.values(), 95),
        frameP50Ms: percentile(frameCosts.values(), 50),
        inferenceP50Ms: percentile(inference.values(), 50),
        inferenceP95Ms: percentile(inference.values(), 95),
        frames: frameCosts.count,
      };
    },
  };
}

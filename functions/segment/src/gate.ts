/**
 * At most `concurrency` segmentations at once, at most `maxWaiting` queued behind them. Each is
 * CPU-bound (decode, a forward pass that already uses every core, post-processing): running more
 * at once only makes each slower and holds more full-resolution buffers. A full queue answers
 * `Busy` at once so callers retry later (the stream source retries a 503) instead of timing out.
 */

export class Busy extends Error {
  constructor(
    readonly waiting: number,
    /** when the queue should have room again, from the recent time per segmentation */
    readonly retryAfterSeconds: number,
  ) {
    super(`${waiting} segmentations are already waiting; try again in ${retryAfterSeconds} s`);
    this.name = 'Busy';
  }
}

export interface Gate {
  run<T>(work: () => Promise<T>): Promise<T>;
  readonly active: number;
  readonly waiting: number;
  /** moving average of how long one piece of work took, ms (0 before the first) */
  readonly averageMs: number;
}

export function createGate(concurrency: number, maxWaiting: number, now: () => number = () => performance.now()): Gate {
  let active = 0;
  let averageMs = 0;
  const queue: (() => void)[] = [];
  const release = () => {
    active--;
    const next = queue.shift();
    if (next) {
      active++;
      next();
    }
  };
  return {
    get active() {
      return active;
    },
    get waiting() {
      return queue.length;
    },
    get averageMs() {
      return averageMs;
    },
    async run(work) {
      if (active >= concurrency) {
        if (queue.length >= maxWaiting) {
          // the time for the queue ahead to drain through the slots
          throw new Busy(queue.length, Math.max(1, Math.ceil(((queue.length + 1) * averageMs) / concurrency / 1000)));
        }
        await new Promise<void>((resolve) => queue.push(resolve));
      } else {
        active++;
      }
      const started = now();
      try {
        return await work();
      } finally {
        const took = now() - started;
        averageMs = averageMs === 0 ? took : 0.8 * averageMs + 0.2 * took;
        release();
      }
    },
  };
}

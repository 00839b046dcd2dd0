/**
 * The arrival rate of queue:jobs: Redis counts every entry ever added to a stream (XINFO STREAM
 * `entries-added`, Redis 7+); the rate is that counter's growth over a window of the samples the
 * ticks take. A fresh meter is seeded from the entry ids of the last window (their millisecond part
 * is the enqueue time), so the first ticks after a start do not see a rate measured over 500 ms.
 */
export interface Sample {
  at: number;
  added: number;
}

export class ArrivalMeter {
  private samples: Sample[] = [];

  constructor(readonly windowMs: number) {}

  get seeded(): boolean {
    return this.samples.length > 0;
  }

  /** Starts the meter at `at` with `countInWindow` entries enqueued during the window before it. */
  seed(at: number, added: number, countInWindow: number): void {
    this.samples = [
      { at: at - this.windowMs, added: added - countInWindow },
      { at, added },
    ];
  }

  /** Records the counter at `at` and answers jobs/s over (about) the window; undefined until two samples span some time. */
  record(at: number, added: number): number | undefined {
    const last = this.samples.at(-1);
    // a counter that went back means the stream was deleted and created again: start over
    if (last && (added < last.added || at < last.at)) this.samples = [];
    this.samples.push({ at, added });
    // keep one sample at or before the window's start, so the rate spans the whole window
    while (this.samples.length > 2 && this.samples[1]!.at <= at - this.windowMs) this.samples.shift();
    const first = this.samples[0]!;
    if (this.samples.length < 2 || at <= first.at) return undefined;
    return (added - first.added) / ((at - first.at) / 1000);
  }
}

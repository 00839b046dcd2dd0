/**
 * Natural batching of one kind of database work (group commit): what concurrent requests ask
 * for while earlier batches are in flight is sent together, as one statement (or, for the rate
 * limits, one Redis script call). Under load a statement carries dozens of requests' rows, so
 * PostgreSQL parses, plans, commits and flushes its WAL once for all of them, and the api
 * writes one message instead of dozens. A lone request waits for nothing: the batch leaves at
 * the end of the event loop turn it arrived in (setImmediate), as soon as fewer than
 * `maxInFlight` batches are out.
 *
 * `run` answers one output per item, in order. When it throws, a batch of several items is
 * run again item by item, so one bad item (a unique violation, say) fails only its own
 * request; unless `retryAlone` says the error is not about the items (the database is down:
 * a dozen more attempts would only wait for it a dozen times), then every item fails with it.
 */
import { isDatabaseUnavailable } from '@proteus/common/db';

export interface BatcherOptions {
  /** items in one batch at most */
  maxBatch?: number;
  /** batches out at once at most; more waiting items join the next batch */
  maxInFlight?: number;
  /** whether a failed batch is worth running again item by item (default: always) */
  retryAlone?: (error: unknown) => boolean;
}

interface Waiting<I, O> {
  item: I;
  resolve: (output: O) => void;
  reject: (error: unknown) => void;
}

export class Batcher<I, O> {
  readonly #run: (items: readonly I[]) => Promise<readonly O[]>;
  readonly #maxBatch: number;
  readonly #maxInFlight: number;
  readonly #retryAlone: (error: unknown) => boolean;
  #waiting: Waiting<I, O>[] = [];
  #inFlight = 0;
  #scheduled = false;

  constructor(run: (items: readonly I[]) => Promise<readonly O[]>, { maxBatch = 256, maxInFlight = 2, retryAlone = () => true }: BatcherOptions = {}) {
    this.#run = run;
    this.#maxBatch = maxBatch;
    this.#maxInFlight = maxInFlight;
    this.#retryAlone = retryAlone;
  }

  add(item: I): Promise<O> {
    return new Promise<O>((resolve, reject) => {
      this.#waiting.push({ item, resolve, reject });
      this.#schedule();
    });
  }

  #schedule(): void {
    if (this.#scheduled || this.#inFlight >= this.#maxInFlight || this.#waiting.length === 0) return;
    this.#scheduled = true;
    setImmediate(() => {
      this.#scheduled = false;
      while (this.#inFlight < this.#maxInFlight && this.#waiting.length > 0) void this.#send(this.#waiting.splice(0, this.#maxBatch));
    });
  }

  async #send(batch: Waiting<I, O>[]): Promise<void> {
    this.#inFlight++;
    try {
      await this.#settle(batch);
    } finally {
      this.#inFlight--;
      this.#schedule();
    }
  }

  async #settle(batch: Waiting<I, O>[]): Promise<void> {
    let outputs: readonly O[];
    try {
      outputs = await this.#run(batch.map((w) => w.item));
      if (outputs.length !== batch.length) throw new Error(`a batch of ${batch.length} answered ${outputs.length} outputs`);
    } catch (error) {
      if (batch.length > 1 && this.#retryAlone(error)) await Promise.all(batch.map((w) => this.#settle([w])));
      else for (const w of batch) w.reject(error);
      return;
    }
    for (const [i, w] of batch.entries()) w.resolve(outputs[i] as O);
  }
}

/**
 * A batcher per `owner` (a database handle: batches never mix two databases), made on first use:
 * `const accounts = batchersOf((database, ids) => ...)`, then `accounts(database).add(id)`.
 * A batch that failed because the database cannot be reached is not rerun item by item.
 */
export function batchersOf<K extends object, I, O>(
  run: (owner: K, items: readonly I[]) => Promise<readonly O[]>,
  options: BatcherOptions = { retryAlone: (error) => !isDatabaseUnavailable(error) },
): (owner: K) => Batcher<I, O> {
  const batchers = new WeakMap<K, Batcher<I, O>>();
  return (owner) => {
    let batcher = batchers.get(owner);
    if (!batcher) {
      batcher = new Batcher((items) => run(owner, items), options);
      batchers.set(owner, batcher);
    }
    return batcher;
  };
}

/**
 * What this process already knows about verified images, so that a snap of images it checked
 * before costs no request to object storage (Linode allows a bucket 750 requests a second; two
 * HEADs per snap would spend that at 375 snaps a second, across every replica).
 *
 * Safe to keep because a verified copy is immutable: it lives at a key no upload can reach
 * (keys.verifiedObjectKey) and Proteus never rewrites it. Entries still expire (`ttlMs`) so a
 * copy deleted by an operator is noticed, and the map is bounded (least recently used out).
 * Concurrent checks of one key share one run.
 */
import type { VerifiedImage } from './verify.ts';

export interface VerifiedCacheOptions {
  /** entries kept at most; the least recently used goes first */
  maxEntries?: number;
  /** how long an entry is trusted */
  ttlMs?: number;
}

export class VerifiedCache {
  readonly #entries = new Map<string, { image: VerifiedImage; until: number }>();
  readonly #running = new Map<string, Promise<VerifiedImage>>();
  readonly #maxEntries: number;
  readonly #ttlMs: number;

  constructor({ maxEntries = 10_000, ttlMs = 10 * 60_000 }: VerifiedCacheOptions = {}) {
    this.#maxEntries = maxEntries;
    this.#ttlMs = ttlMs;
  }

  get size(): number {
    return this.#entries.size;
  }

  get(key: string): VerifiedImage | undefined {
    const entry = this.#entries.get(key);
    if (!entry) return undefined;
    this.#entries.delete(key);
    if (entry.until < Date.now()) return undefined;
    this.#entries.set(key, entry); // most recently used last
    return entry.image;
  }

  /** Remembers `image` under each of `keys` (the upload's key and its verified copy's). */
  set(keys: readonly string[], image: VerifiedImage): void {
    const until = Date.now() + this.#ttlMs;
    for (const key of keys) {
      this.#entries.delete(key);
      this.#entries.set(key, { image, until });
    }
    while (this.#entries.size > this.#maxEntries) this.#entries.delete(this.#entries.keys().next().value as string);
  }

  /** The cached answer for `key`, else the one run of `check` in flight for it, else a new run. */
  async through(key: string, check: () => Promise<VerifiedImage>): Promise<VerifiedImage> {
    const known = this.get(key);
    if (known) return known;
    const running = this.#running.get(key);
    if (running) return running;
    const run = check().finally(() => this.#running.delete(key));
    this.#running.set(key, run);
    return run;
  }
}

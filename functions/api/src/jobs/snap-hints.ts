/**
 * Snap hints: what a snap's write left its VTON and its photo's mask job as, kept per (user,
 * garment, person photo), so that the next snap of the same images plans from it instead of
 * looking them up (routes/jobs.ts): a shopper or a shop snapping one garment again costs one
 * statement, not two. A hint is only a guess. The write checks it (jobs/submit.ts: the VTON is
 * still the caller's newest of the garment, with the photo and mask the plan rested on; a joined
 * mask job is still queued or running) and writes nothing when it no longer holds; the snap then
 * forgets it and looks up after all. So hints need no invalidation and no sharing between
 * replicas: a stale one costs a withdrawn queue entry and the look-up it would have paid anyway.
 * At most `max` are kept; the least recently written goes first.
 */
import type { DatabaseHandle } from '@proteus/common/db';
import type { PhotoMask, VtonMask } from './person-mask.ts';

export interface SnapHint {
  vton: { id: string } & VtonMask;
  photoMask: PhotoMask | undefined;
}

/** hints kept per database handle: at about 300 bytes each, a few MB */
export const SNAP_HINTS_KEPT = 10_000;

export class SnapHints {
  readonly #hints = new Map<string, SnapHint>();

  constructor(readonly max = SNAP_HINTS_KEPT) {}

  /** The key of a snap: its user and the verified keys of its garment and person photo. */
  static key(userId: string, garmentKey: string, photoKey: string): string {
    return `${userId}\n${garmentKey}\n${photoKey}`;
  }

  get(key: string): SnapHint | undefined {
    return this.#hints.get(key);
  }

  set(key: string, hint: SnapHint): void {
    // a Map iterates in insertion order: re-inserted, it is the newest
    this.#hints.delete(key);
    this.#hints.set(key, hint);
    if (this.#hints.size > this.max) this.#hints.delete(this.#hints.keys().next().value as string);
  }

  delete(key: string): void {
    this.#hints.delete(key);
  }

  get size(): number {
    return this.#hints.size;
  }
}

const byDatabase = new WeakMap<DatabaseHandle, SnapHints>();

/** The hints of one database (a test's database never sees another's). */
export function snapHintsOf(database: DatabaseHandle): SnapHints {
  let hints = byDatabase.get(database);
  if (!hints) {
    hints = new SnapHints();
    byDatabase.set(database, hints);
  }
  return hints;
}

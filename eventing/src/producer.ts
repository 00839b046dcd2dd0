/**
 * The producer: `emit` validates an event against its contract and XADDs it as one field
 * holding structured JSON. Streams stay bounded without ever trimming an entry a consumer
 * group still needs: XADD trims with `MINID ~` below the safe point, the smallest id any group
 * has pending or not yet read. A stream with no group is never trimmed (nobody said what it
 * needs), and a retention window keeps recent history for inspection and replay.
 */
import type { Redis } from 'ioredis';
import { isValidated, type ProteusEvent, parseEvent } from './events.ts';
import { entryField } from './keys.ts';

export interface Producer {
  /** Validates and appends the event; resolves to the stream entry id. Writes nothing when invalid. */
  emit(stream: string, event: ProteusEvent): Promise<string>;
  /**
   * Takes back an entry whose reason to exist failed to commit (XDEL). A consumer that already
   * read it keeps it; consumers handle an event whose job is unknown anyway.
   */
  withdraw(stream: string, id: string): Promise<void>;
}

export interface ProducerOptions {
  /** entries younger than this are never trimmed */
  retentionMs?: number;
  /** the safe point is recomputed at most this often per stream; between, the cached (older, so safe) one is used */
  refreshMs?: number;
  now?: () => number;
}

/** The id right after `id` (same millisecond, next sequence). */
export function nextId(id: string): string {
  const [ms, seq] = id.split('-');
  return `${ms}-${BigInt(seq ?? '0') + 1n}`;
}

/** Orders two stream ids. */
export function compareIds(a: string, b: string): number {
  const [am = 0n, as = 0n] = a.split('-').map(BigInt);
  const [bm = 0n, bs = 0n] = b.split('-').map(BigInt);
  return am === bm ? (as === bs ? 0 : as < bs ? -1 : 1) : am < bm ? -1 : 1;
}

/**
 * The smallest id some group of `stream` still needs: its oldest pending entry, else the first
 * entry after its last-delivered id. Undefined when the stream has no group (or does not exist).
 */
export async function safeTrimId(redis: Redis, stream: string): Promise<string | undefined> {
  let groups: unknown[][];
  try {
    groups = (await redis.xinfo('GROUPS', stream)) as unknown[][];
  } catch (error) {
    if (String((error as Error).message).includes('no such key')) return undefined;
    throw error;
  }
  let safe: string | undefined;
  for (const fields of groups) {
    const group = fieldMap(fields);
    const [count, minPending] = (await redis.xpending(stream, String(group.name))) as [number, string | null, string | null, unknown];
    const needed = count > 0 && minPending ? minPending : nextId(String(group['last-delivered-id']));
    if (!safe || compareIds(needed, safe) < 0) safe = needed;
  }
  return safe;
}

export function createProducer(redis: Redis, { retentionMs = 10 * 60_000, refreshMs = 1000, now = Date.now }: ProducerOptions = {}): Producer {
  const cache = new Map<string, { at: number; id: Promise<string | undefined> }>();

  function trimPoint(stream: string): Promise<string | undefined> {
    const cached = cache.get(stream);
    if (cached && now() - cached.at < refreshMs) return cached.id;
    const id = safeTrimId(redis, stream).then((safe) => {
      if (!safe) return undefined;
      const retained = `${Math.max(0, now() - retentionMs)}-0`;
      return compareIds(retained, safe) < 0 ? retained : safe;
    });
    // a failed look-up is not cached: the next emit asks again
    id.catch(() => cache.delete(stream));
    cache.set(stream, { at: now(), id });
    return id;
  }

  return {
    async emit(stream, event) {
      // an event made by createEvent or parseEvent was checked then; anything else is checked here
      const json = JSON.stringify(isValidated(event) ? event : parseEvent(event));
      const minId = await trimPoint(stream).catch(() => undefined);
      const id = minId ? await redis.xadd(stream, 'MINID', '~', minId, '*', entryField, json) : await redis.xadd(stream, '*', entryField, json);
      if (!id) throw new Error(`XADD to ${stream} returned no id`);
      return id;
    },
    async withdraw(stream, id) {
      await redis.xdel(stream, id);
    },
  };
}

/** A Redis reply of alternating names and values (XINFO, a stream entry's fields) as an object. */
export function fieldMap(fields: unknown[]): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (let i = 0; i + 1 < fields.length; i += 2) out[String(fields[i])] = fields[i + 1];
  return out;
}

import { keys } from '@proteus/eventing';
import type { Redis } from 'ioredis';
import type { QueueMetrics } from './policy.ts';

/** Counting undelivered entries by hand stops here; the policy saturates long before. */
const LAG_COUNT_CAP = 10_000;

/** The millisecond part of a stream entry id is its enqueue time. */
export const entryTimeMs = (id: string) => Number(id.split('-')[0]);

/**
 * Queue depth = lag + pending of the weavers group; wait = age of the oldest job nobody has
 * picked up yet (issue #7 adds recent completions and the arrival rate).
 */
export async function readQueueMetrics(redis: Redis, now = Date.now()): Promise<QueueMetrics> {
  const stream = keys.streams.jobs;
  let info: unknown[][];
  try {
    info = (await redis.xinfo('GROUPS', stream)) as unknown[][];
  } catch (error) {
    if (String((error as Error).message).includes('no such key')) return { queueDepth: 0, avgWaitMs: 0 };
    throw error;
  }
  const group = info.map((fields) => Object.fromEntries(pairs(fields))).find((g) => g.name === keys.groups.weavers);
  if (!group) {
    // no worker has started yet: every job is waiting, the first one longest
    const first = await redis.xrange(stream, '-', '+', 'COUNT', 1);
    return { queueDepth: await redis.xlen(stream), avgWaitMs: waitOf(first[0]?.[0], now) };
  }
  const after = `(${String(group['last-delivered-id'])}`;
  // Redis reports no lag after entries were deleted mid-stream: count what is left to deliver
  const lag = group.lag === null || group.lag === undefined ? (await redis.xrange(stream, after, '+', 'COUNT', LAG_COUNT_CAP)).length : Number(group.lag);
  const queueDepth = lag + Number(group.pending ?? 0);
  const next = await redis.xrange(stream, after, '+', 'COUNT', 1);
  return { queueDepth, avgWaitMs: waitOf(next[0]?.[0], now) };
}

const waitOf = (oldest: string | undefined, now: number) => (oldest ? Math.max(0, now - entryTimeMs(oldest)) : 0);

function pairs(fields: unknown[]): [string, unknown][] {
  const out: [string, unknown][] = [];
  for (let i = 0; i + 1 < fields.length; i += 2) out.push([String(fields[i]), fields[i + 1]]);
  return out;
}

import { createRedis } from '@proteus/common';
import { keys } from '@proteus/eventing';
import { isolatedRedisUrl } from '@proteus/testkit';
import type { Redis } from 'ioredis';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { entryTimeMs, readQueueMetrics } from './metrics.ts';

let redis: Redis;
beforeAll(async () => {
  redis = createRedis(await isolatedRedisUrl(), 'arbitrator-test');
});
afterAll(() => redis.disconnect());
beforeEach(async () => {
  await redis.flushdb();
});

const stream = keys.streams.jobs;
const group = keys.groups.weavers;
const now = Date.now();

/** Adds jobs enqueued `agesMs` ago (oldest first), with explicit ids. */
async function enqueue(...agesMs: number[]) {
  for (const [i, age] of agesMs.entries()) await redis.xadd(stream, `${now - age}-${i}`, keys.entryField, '{}');
}
const createGroup = () => redis.xgroup('CREATE', stream, group, '0', 'MKSTREAM');

describe('readQueueMetrics on queue:jobs', () => {
  it('reads 0/0 when the stream does not exist', async () => {
    expect(await readQueueMetrics(redis, now)).toEqual({ queueDepth: 0, avgWaitMs: 0 });
  });

  it('reads 0/0 for an empty stream with its group', async () => {
    await createGroup();
    expect(await readQueueMetrics(redis, now)).toEqual({ queueDepth: 0, avgWaitMs: 0 });
  });

  it('counts pending once when Redis reports no lag (an entry deleted mid-stream)', async () => {
    await createGroup();
    await enqueue(6000, 5000, 4000, 3000, 2000, 1000);
    await redis.xreadgroup('GROUP', group, 'w1', 'COUNT', 2, 'STREAMS', stream, '>');
    const ids = (await redis.xrange(stream, '-', '+')).map(([id]) => id);
    await redis.xdel(stream, ids[3]!);
    // 2 pending + 3 still to deliver (one of the 4 was deleted)
    expect(await readQueueMetrics(redis, now)).toEqual({ queueDepth: 5, avgWaitMs: 4000 });
  });

  it('counts N undelivered jobs and waits as long as the oldest', async () => {
    await createGroup();
    await enqueue(5000, 4000, 3000, 1000);
    expect(await readQueueMetrics(redis, now)).toEqual({ queueDepth: 4, avgWaitMs: 5000 });
  });

  it('uses the clock by default', async () => {
    await createGroup();
    await enqueue(5000);
    const { avgWaitMs } = await readQueueMetrics(redis);
    expect(avgWaitMs).toBeGreaterThanOrEqual(5000);
    expect(avgWaitMs).toBeLessThan(7000);
  });

  it('counts read-but-unacked (pending) jobs in the depth; the wait is of the oldest not yet picked up', async () => {
    await createGroup();
    await enqueue(5000, 4000, 3000);
    await redis.xreadgroup('GROUP', group, 'w1', 'COUNT', 2, 'STREAMS', stream, '>');
    expect(await readQueueMetrics(redis, now)).toEqual({ queueDepth: 3, avgWaitMs: 3000 });
  });

  it('drops acknowledged jobs from the depth', async () => {
    await createGroup();
    await enqueue(5000, 4000, 3000);
    const read = (await redis.xreadgroup('GROUP', group, 'w1', 'COUNT', 2, 'STREAMS', stream, '>')) as [string, [string, string[]][]][];
    const ids = read[0]?.[1].map(([id]) => id) ?? [];
    expect(ids).toHaveLength(2);
    await redis.xack(stream, group, ...ids);
    expect(await readQueueMetrics(redis, now)).toEqual({ queueDepth: 1, avgWaitMs: 3000 });
  });

  it('waits 0 when every job is picked up', async () => {
    await createGroup();
    await enqueue(5000, 4000);
    await redis.xreadgroup('GROUP', group, 'w1', 'COUNT', 10, 'STREAMS', stream, '>');
    expect(await readQueueMetrics(redis, now)).toEqual({ queueDepth: 2, avgWaitMs: 0 });
  });

  it('counts every entry when no worker has created the group yet, waiting as long as the oldest', async () => {
    await enqueue(8000, 2000);
    expect(await readQueueMetrics(redis, now)).toEqual({ queueDepth: 2, avgWaitMs: 8000 });
  });

  it('ignores other groups on the stream', async () => {
    await createGroup();
    await redis.xgroup('CREATE', stream, 'someone-else', '$');
    await enqueue(1000);
    expect(await readQueueMetrics(redis, now)).toEqual({ queueDepth: 1, avgWaitMs: 1000 });
  });

  it('reads the enqueue time from an entry id', () => {
    expect(entryTimeMs('1764378000000-3')).toBe(1764378000000);
  });
});

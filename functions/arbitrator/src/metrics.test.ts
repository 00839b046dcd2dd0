import { createRedis } from '@proteus/common';
import { createEvent, keys } from '@proteus/eventing';
import { isolatedRedisUrl } from '@proteus/testkit';
import type { Redis } from 'ioredis';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { ArrivalMeter } from './arrivals.ts';
import {
  countWorkers,
  entryTimeMs,
  MetricsError,
  readArrivalRate,
  readPolicyMetrics,
  readProfile,
  readQueue,
  readRecentWaits,
  type Skipped,
} from './metrics.ts';

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
const options = { rateWindowMs: 10_000, waitWindowMs: 60_000, waitSamples: 50 };

/** Adds jobs enqueued `agesMs` ago (oldest first), with explicit ids. */
async function enqueue(...agesMs: number[]) {
  for (const [i, age] of agesMs.entries()) await redis.xadd(stream, `${now - age}-${i}`, keys.entryField, '{}');
}
const createGroup = () => redis.xgroup('CREATE', stream, group, '0', 'MKSTREAM');

const completed = (jobId: string, waitMs: number) =>
  createEvent('dev.proteus.tryon.completed', 'gpu-worker', {
    jobId,
    userId: 'u1',
    vtonId: 'v1',
    resultKey: `users/u1/results/${jobId}.png`,
    attempts: 1,
    engine: 'catvton',
    resolution: '768x1024',
    batchSize: 1,
    waitMs,
    runMs: 900,
  });
const lifecycle = (agoMs: number, seq: number, text: string) => redis.xadd(keys.streams.lifecycle, `${now - agoMs}-${seq}`, keys.entryField, text);

describe('readQueue on queue:jobs', () => {
  it('reads 0/0 when the stream does not exist', async () => {
    expect(await readQueue(redis, now)).toEqual({ queueDepth: 0, oldestWaitMs: 0 });
  });

  it('reads 0/0 for an empty stream with its group', async () => {
    await createGroup();
    expect(await readQueue(redis, now)).toEqual({ queueDepth: 0, oldestWaitMs: 0 });
  });

  it('counts pending once when Redis reports no lag (an entry deleted mid-stream)', async () => {
    await createGroup();
    await enqueue(6000, 5000, 4000, 3000, 2000, 1000);
    await redis.xreadgroup('GROUP', group, 'w1', 'COUNT', 2, 'STREAMS', stream, '>');
    const ids = (await redis.xrange(stream, '-', '+')).map(([id]) => id);
    await redis.xdel(stream, ids[3]!);
    // 2 pending + 3 still to deliver (one of the 4 was deleted)
    expect(await readQueue(redis, now)).toEqual({ queueDepth: 5, oldestWaitMs: 4000 });
  });

  it('counts N undelivered jobs and waits as long as the oldest', async () => {
    await createGroup();
    await enqueue(5000, 4000, 3000, 1000);
    expect(await readQueue(redis, now)).toEqual({ queueDepth: 4, oldestWaitMs: 5000 });
  });

  it('counts read-but-unacked (pending) jobs in the depth; the wait is of the oldest not yet picked up', async () => {
    await createGroup();
    await enqueue(5000, 4000, 3000);
    await redis.xreadgroup('GROUP', group, 'w1', 'COUNT', 2, 'STREAMS', stream, '>');
    expect(await readQueue(redis, now)).toEqual({ queueDepth: 3, oldestWaitMs: 3000 });
  });

  it('drops acknowledged jobs from the depth', async () => {
    await createGroup();
    await enqueue(5000, 4000, 3000);
    const read = (await redis.xreadgroup('GROUP', group, 'w1', 'COUNT', 2, 'STREAMS', stream, '>')) as [string, [string, string[]][]][];
    const ids = read[0]?.[1].map(([id]) => id) ?? [];
    await redis.xack(stream, group, ...ids);
    expect(await readQueue(redis, now)).toEqual({ queueDepth: 1, oldestWaitMs: 3000 });
  });

  it('waits 0 when every job is picked up', async () => {
    await createGroup();
    await enqueue(5000, 4000);
    await redis.xreadgroup('GROUP', group, 'w1', 'COUNT', 10, 'STREAMS', stream, '>');
    expect(await readQueue(redis, now)).toEqual({ queueDepth: 2, oldestWaitMs: 0 });
  });

  it('counts every entry when no worker has created the group yet, waiting as long as the oldest', async () => {
    await enqueue(8000, 2000);
    expect(await readQueue(redis, now)).toEqual({ queueDepth: 2, oldestWaitMs: 8000 });
  });

  it('ignores other groups on the stream', async () => {
    await createGroup();
    await redis.xgroup('CREATE', stream, 'someone-else', '$');
    await enqueue(1000);
    expect(await readQueue(redis, now)).toEqual({ queueDepth: 1, oldestWaitMs: 1000 });
  });

  it('reads the enqueue time from an entry id', () => {
    expect(entryTimeMs('1764378000000-3')).toBe(1764378000000);
  });
});

/** A Redis whose replies are not what Redis 7 answers (a proxy, an older server, a bug). */
const answering = (replies: Record<string, unknown>) =>
  new Proxy({} as Redis, {
    get:
      (_target, name: string) =>
      async (...args: unknown[]) => {
        const reply = replies[`${name} ${String(args[0])}`] ?? replies[name];
        if (reply instanceof Error) throw reply;
        return reply;
      },
  });

describe('readQueue with replies it cannot trust: a MetricsError naming queue-depth', () => {
  const groupReply = (fields: Record<string, unknown>) => [Object.entries({ name: group, ...fields }).flat()];

  it.each([
    ['not a list', { xinfo: 'OK' }],
    ['groups that are not lists', { xinfo: ['weavers'] }],
    ['pending that is not a count', { xinfo: groupReply({ pending: 'many', 'last-delivered-id': '1-0', lag: 0 }) }],
    ['a negative lag', { xinfo: groupReply({ pending: 0, 'last-delivered-id': '1-0', lag: -4 }) }],
    ['a last-delivered-id that is not an id', { xinfo: groupReply({ pending: 0, 'last-delivered-id': '$', lag: 0 }) }],
  ])('%s', async (_what, replies) => {
    const error = await readQueue(answering(replies), now).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(MetricsError);
    expect((error as MetricsError).metric).toBe('queue-depth');
  });
});

describe('readRecentWaits: waitMs of recent tryon.completed events on events:jobs', () => {
  it('averages nothing when the stream does not exist', async () => {
    const skipped: Skipped[] = [];
    expect(await readRecentWaits(redis, options, now, skipped)).toEqual([]);
    expect(skipped).toEqual([]);
  });

  it('reads completions of the window only, newest first, and ignores other event types', async () => {
    await lifecycle(120_000, 0, JSON.stringify(completed('old', 99_000)));
    await lifecycle(30_000, 0, JSON.stringify(completed('a', 1000)));
    await lifecycle(20_000, 0, JSON.stringify(createEvent('dev.proteus.tryon.progress', 'gpu-worker', { jobId: 'b', userId: 'u1', step: 0, steps: 50 })));
    await lifecycle(10_000, 0, JSON.stringify(completed('b', 3000)));
    const skipped: Skipped[] = [];
    expect(await readRecentWaits(redis, options, now, skipped)).toEqual([3000, 1000]);
    expect(skipped).toEqual([]);
  });

  it('reads at most waitSamples entries', async () => {
    for (let i = 0; i < 10; i++) await lifecycle(10_000 - i, 0, JSON.stringify(completed(`j${i}`, i)));
    expect(await readRecentWaits(redis, { ...options, waitSamples: 3 }, now, [])).toEqual([9, 8, 7]);
  });

  it('leaves out and reports entries that are not JSON or completions without a usable waitMs', async () => {
    const bad = { ...completed('c', 1), data: { ...completed('c', 1).data, waitMs: 'soon' } };
    const negative = { ...completed('d', 1), data: { ...completed('d', 1).data, waitMs: -5 } };
    await lifecycle(5000, 0, '{broken');
    await lifecycle(5000, 1, JSON.stringify(bad));
    await lifecycle(5000, 2, JSON.stringify(negative));
    await redis.xadd(keys.streams.lifecycle, `${now - 5000}-3`, 'other', 'x');
    await lifecycle(4000, 0, JSON.stringify(completed('e', 2500)));
    const skipped: Skipped[] = [];
    expect(await readRecentWaits(redis, options, now, skipped)).toEqual([2500]);
    expect(skipped).toEqual([
      { metric: 'wait', detail: `lifecycle entry ${now - 5000}-3 is not JSON` },
      { metric: 'wait', detail: `completion ${now - 5000}-2 has waitMs -5` },
      { metric: 'wait', detail: `completion ${now - 5000}-1 has waitMs "soon"` },
      { metric: 'wait', detail: `lifecycle entry ${now - 5000}-0 is not JSON` },
    ]);
  });
});

describe('readArrivalRate', () => {
  it('is 0 for a stream that does not exist, and counts what arrives once it does', async () => {
    const meter = new ArrivalMeter(10_000);
    expect(await readArrivalRate(redis, meter, now)).toBe(0);
    for (let i = 0; i < 6; i++) await redis.xadd(stream, '*', keys.entryField, '{}');
    // the seed said none arrived in the window before: 6 over the 12 s since its start
    expect(await readArrivalRate(redis, meter, now + 2000)).toBeCloseTo(6 / 12, 9);
  });

  it('seeds a fresh meter from the entry ids of the last window', async () => {
    await enqueue(25_000, 9000, 6000, 3000, 1000);
    const meter = new ArrivalMeter(10_000);
    expect(await readArrivalRate(redis, meter, now)).toBe(0.4);
    await redis.xadd(stream, `${now + 500}-0`, keys.entryField, '{}');
    expect(await readArrivalRate(redis, meter, now + 500)).toBeCloseTo(5 / 10.5, 9);
  });

  it('counts entries that were acked and trimmed since: entries-added never goes down', async () => {
    const meter = new ArrivalMeter(10_000);
    await readArrivalRate(redis, meter, now);
    for (let i = 0; i < 4; i++) await redis.xadd(stream, '*', keys.entryField, '{}');
    await redis.xtrim(stream, 'MAXLEN', 0);
    expect(await readArrivalRate(redis, meter, now + 1000)).toBeCloseTo(4 / 11, 9);
  });

  it.each([
    ['Redis 6 (no entries-added)', ['length', 3, 'last-generated-id', '1-0']],
    ['a negative count', ['entries-added', -1]],
  ])('throws a MetricsError naming arrival-rate on %s', async (_what, reply) => {
    const error = await readArrivalRate(answering({ xinfo: reply }), new ArrivalMeter(10_000), now).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(MetricsError);
    expect((error as MetricsError).metric).toBe('arrival-rate');
  });
});

describe('countWorkers and readProfile', () => {
  it('counts live heartbeat keys only', async () => {
    expect(await countWorkers(redis)).toBe(0);
    for (const name of ['w1', 'w2', 'w3']) await redis.set(keys.workerHeartbeat(name), '{}', 'PX', 60_000);
    await redis.hset(keys.worker.profile, 'catvton:768x1024:50:1', '{"seconds":1}');
    expect(await countWorkers(redis)).toBe(3);
  });

  it('reads the profile and reports malformed fields', async () => {
    await redis.hset(keys.worker.profile, {
      'catvton:768x1024:50:1': JSON.stringify({ seconds: 9.5, samples: 12, at: 'x' }),
      'catvton:768x1024:50:2': '{"seconds":"fast"}',
      junk: '{}',
    });
    const skipped: Skipped[] = [];
    expect(await readProfile(redis, skipped)).toEqual([{ engine: 'catvton', resolution: '768x1024', steps: 50, batchSize: 1, seconds: 9.5, samples: 12 }]);
    expect(skipped.map((s) => s.metric)).toEqual(['profile', 'profile']);
  });
});

describe('readPolicyMetrics', () => {
  it('reads every metric in one go', async () => {
    await createGroup();
    await enqueue(4000, 2000);
    await lifecycle(3000, 0, JSON.stringify(completed('a', 1000)));
    await lifecycle(2000, 0, JSON.stringify(completed('b', 2001)));
    await redis.set(keys.workerHeartbeat('w1'), '{}', 'PX', 60_000);
    await redis.hset(keys.worker.profile, 'catvton:768x1024:50:1', JSON.stringify({ seconds: 9.5, samples: 12 }));
    const { metrics, skipped } = await readPolicyMetrics(redis, new ArrivalMeter(10_000), options, now);
    expect(metrics).toEqual({
      at: now,
      queueDepth: 2,
      oldestWaitMs: 4000,
      avgWaitMs: 1501,
      completions: 2,
      arrivalRate: 0.2,
      workers: 1,
      profile: [{ engine: 'catvton', resolution: '768x1024', steps: 50, batchSize: 1, seconds: 9.5, samples: 12 }],
    });
    expect(skipped).toEqual([]);
  });
});

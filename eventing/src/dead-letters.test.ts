import { isolatedRedisUrl } from '@proteus/testkit';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { listDeadLetters, RedriveError, redrive, redriveAll, redriveScript } from './dead-letters.ts';
import { createEvent } from './events.ts';
import { entryField, groups, streams } from './keys.ts';

let redis: Redis;
beforeAll(async () => {
  redis = new Redis(await isolatedRedisUrl());
});
beforeEach(async () => {
  await redis.flushdb();
});
afterAll(() => redis.disconnect());

const segmentRequest = (jobId: string) =>
  JSON.stringify(
    createEvent('dev.proteus.segment.requested', 'api', { jobId, userId: 'u1', vtonId: 'v1', imageKey: 'users/u1/garment/g1.jpg', purpose: 'garment' }),
  );
const progress = (jobId: string) => JSON.stringify(createEvent('dev.proteus.tryon.progress', 'gpu-worker', { jobId, userId: 'u1', step: 1, steps: 2 }));

/** Parks a dead letter the way the stream source writes one; `omit` leaves out fields older entries lack. */
async function park(
  fields: { event: string; stream: string; reason?: string; status?: string; attempts?: string; at?: string; route?: string; group?: string },
  omit: string[] = [],
): Promise<string> {
  const all: Record<string, string> = {
    [entryField]: fields.event,
    reason: fields.reason ?? 'sink answered 503',
    stream: fields.stream,
    group: fields.group ?? groups.tailors,
    route: fields.route ?? 'segment-requests',
    entry: '1700000000000-0',
    status: fields.status ?? '503',
    attempts: fields.attempts ?? '6',
    at: fields.at ?? '2026-01-02T03:04:05.000Z',
  };
  const flat = Object.entries(all)
    .filter(([k]) => !omit.includes(k))
    .flat();
  return (await redis.xadd(streams.dead, '*', ...flat))!;
}

const deadIds = async () => (await redis.xrange(streams.dead, '-', '+')).map(([id]) => id);
const eventsIn = async (stream: string) => (await redis.xrange(stream, '-', '+')).map(([, f]) => f);

describe('listDeadLetters (real Redis)', () => {
  it('parses every field, and leniently an old entry without group, route and at', async () => {
    const event = segmentRequest('j1');
    const full = await park({ event, stream: streams.segment });
    const old = await park({ event: '{not json', stream: streams.lifecycle, reason: 'malformed entry: not JSON', status: '', attempts: '0' }, [
      'group',
      'route',
      'at',
    ]);
    const [a, b] = await listDeadLetters(redis);
    expect(a).toEqual({
      id: full,
      at: '2026-01-02T03:04:05.000Z',
      reason: 'sink answered 503',
      stream: streams.segment,
      group: groups.tailors,
      route: 'segment-requests',
      entry: '1700000000000-0',
      status: 503,
      attempts: 6,
      type: 'dev.proteus.segment.requested',
      eventId: JSON.parse(event).id,
      event,
    });
    expect(b).toMatchObject({
      id: old,
      stream: streams.lifecycle,
      status: undefined,
      attempts: 0,
      type: undefined,
      eventId: undefined,
      group: undefined,
      route: undefined,
    });
    // no `at`: the time of the dead entry's id
    expect(b!.at).toBe(new Date(Number(old.split('-')[0])).toISOString());
  });

  it('filters by stream and stops at the limit, oldest first, across pages', async () => {
    const segment: string[] = [];
    for (let i = 0; i < 150; i++) {
      await park({ event: progress(`p${i}`), stream: streams.lifecycle });
      if (i % 2 === 0) segment.push(await park({ event: segmentRequest(`s${i}`), stream: streams.segment }));
    }
    const all = await listDeadLetters(redis, { stream: streams.segment, limit: 1000 });
    expect(all.map((l) => l.id)).toEqual(segment);
    const first = await listDeadLetters(redis, { stream: streams.segment, limit: 3 });
    expect(first.map((l) => l.id)).toEqual(segment.slice(0, 3));
    expect((await listDeadLetters(redis, { limit: 2 })).length).toBe(2);
    expect((await listDeadLetters(redis, { stream: streams.segment, from: segment[70]! })).map((l) => l.id)).toEqual(segment.slice(70));
    expect((await listDeadLetters(redis)).length).toBe(100);
    await expect(listDeadLetters(redis, { limit: 0 })).rejects.toThrow(/limit 0 must be a whole number of at least 1/);
  });
});

describe('redrive (real Redis)', () => {
  it('moves exactly one entry back with the same event text; a second redrive finds nothing and changes nothing', async () => {
    const event = segmentRequest('j1');
    const other = await park({ event: segmentRequest('j2'), stream: streams.segment });
    const deadId = await park({ event, stream: streams.segment });

    const moved = await redrive(redis, deadId);
    expect(moved).toEqual({ deadId, stream: streams.segment, newId: expect.stringMatching(/^\d+-\d+$/) });
    expect(await deadIds()).toEqual([other]);
    expect(await redis.xrange(streams.segment, '-', '+')).toEqual([[moved.newId, [entryField, event]]]);

    const again = redrive(redis, deadId);
    await expect(again).rejects.toThrow(RedriveError);
    await expect(again).rejects.toThrow(/no such dead letter/);
    expect(await deadIds()).toEqual([other]);
    expect(await eventsIn(streams.segment)).toEqual([[entryField, event]]);
  });

  it('the script refuses a target that is not the stream the entry came from, and a missing entry', async () => {
    const event = segmentRequest('j1');
    const deadId = await park({ event, stream: streams.segment });
    await expect(redis.eval(redriveScript, 2, streams.dead, streams.jobs, deadId, entryField)).rejects.toThrow(
      'the dead letter came from queue:segment, not queue:jobs',
    );
    // an id without its sequence part would be a range in XRANGE: the script wants the exact id
    await expect(redis.eval(redriveScript, 2, streams.dead, streams.segment, deadId.split('-')[0]!, entryField)).rejects.toThrow('no such dead letter');
    expect(await deadIds()).toEqual([deadId]);
    expect(await redis.exists(streams.jobs)).toBe(0);
    expect(await redis.exists(streams.segment)).toBe(0);

    const newId = await redis.eval(redriveScript, 2, streams.dead, streams.segment, deadId, entryField);
    expect(await redis.xrange(streams.segment, '-', '+')).toEqual([[newId, [entryField, event]]]);
    expect(await deadIds()).toEqual([]);
  });

  it('the script refuses an entry without an event', async () => {
    const deadId = await park({ event: '', stream: streams.segment, reason: 'malformed entry: entry has no event field' });
    await expect(redis.eval(redriveScript, 2, streams.dead, streams.segment, deadId, entryField)).rejects.toThrow(
      'nothing to re-drive: the entry had no event',
    );
    await expect(redrive(redis, deadId)).rejects.toThrow('nothing to re-drive: the entry had no event');
    expect(await deadIds()).toEqual([deadId]);
  });

  it.each([
    ['not JSON', '{"specversion":', /not JSON/],
    ['an unknown type', JSON.stringify({ specversion: '1.0', id: 'e1', type: 'dev.proteus.nope' }), /unknown event type "dev.proteus.nope"/],
    [
      'a contract breach',
      JSON.stringify({ ...JSON.parse(segmentRequest('j1')), data: { jobId: 'j1' } }),
      /invalid dev.proteus.segment.requested event: data.userId/,
    ],
  ])('refuses an entry holding %s and leaves it in the dead-letter stream', async (_, event, why) => {
    const deadId = await park({ event, stream: streams.segment, reason: 'malformed entry' });
    const attempt = redrive(redis, deadId);
    await expect(attempt).rejects.toThrow(why);
    await expect(attempt).rejects.toThrow(/re-driving it would only dead-letter it again/);
    expect(await deadIds()).toEqual([deadId]);
    expect(await redis.exists(streams.segment)).toBe(0);
  });

  it('refuses an entry whose stream is not one it can go back to, and a malformed id', async () => {
    const deadId = await park({ event: segmentRequest('j1'), stream: streams.dead });
    await expect(redrive(redis, deadId)).rejects.toThrow(/came from "queue:dead", not one of the streams it can go back to/);
    await expect(redrive(redis, 'nope')).rejects.toThrow(/dead letter id "nope" is not a stream entry id/);
    expect(await deadIds()).toEqual([deadId]);
  });
});

describe('redriveAll (real Redis)', () => {
  it('re-drives the valid ones matching stream and reason, and reports the skipped ones with why', async () => {
    const unavailable = await park({ event: segmentRequest('j1'), stream: streams.segment, reason: 'sink answered 503' });
    const rejected = await park({ event: segmentRequest('j2'), stream: streams.segment, reason: 'sink answered 400', status: '400' });
    const progressEvent = progress('p1');
    const lifecycle = await park({ event: progressEvent, stream: streams.lifecycle, reason: 'sink answered 503' });
    const malformed = await park({ event: '{bad', stream: streams.segment, reason: 'malformed entry: not JSON; sink answered 503 never' });
    const unreachable = await park({ event: segmentRequest('j3'), stream: streams.segment, reason: 'sink unreachable: fetch failed' });

    const first = await redriveAll(redis, { stream: streams.segment, reason: 'sink answered 503' });
    expect(first.redriven.map((r) => r.deadId)).toEqual([unavailable]);
    expect(first.skipped).toEqual([{ deadId: malformed, stream: streams.segment, reason: expect.stringMatching(/^its event is invalid \(not JSON/) }]);
    expect(await deadIds()).toEqual([rejected, lifecycle, malformed, unreachable]);

    const rest = await redriveAll(redis);
    expect(rest.redriven).toEqual([
      { deadId: rejected, stream: streams.segment, newId: expect.any(String) },
      { deadId: lifecycle, stream: streams.lifecycle, newId: expect.any(String) },
      { deadId: unreachable, stream: streams.segment, newId: expect.any(String) },
    ]);
    expect(rest.skipped.map((s) => s.deadId)).toEqual([malformed]);
    expect(await deadIds()).toEqual([malformed]);
    expect((await eventsIn(streams.segment)).map((f) => JSON.parse(f[1]!).data.jobId)).toEqual(['j1', 'j2', 'j3']);
    expect(await eventsIn(streams.lifecycle)).toEqual([[entryField, progressEvent]]);

    expect(await redriveAll(redis, { reason: 'no such reason' })).toEqual({ redriven: [], skipped: [] });
  });

  it('does nothing on an empty dead-letter stream', async () => {
    expect(await redriveAll(redis)).toEqual({ redriven: [], skipped: [] });
  });
});

import { isolatedRedisUrl } from '@proteus/testkit';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { invalidVectors, validVectors } from '../test/vectors.ts';
import { createEvent, EventValidationError, isValidated, type ProteusEvent, parseEvent } from './events.ts';
import { entryField, streams } from './keys.ts';
import { compareIds, createProducer, nextId, safeTrimId } from './producer.ts';

let redis: Redis;
beforeAll(async () => {
  redis = new Redis(await isolatedRedisUrl());
});
afterAll(() => redis.disconnect());

describe('producer (real Redis)', () => {
  it('XADDs one field holding the structured JSON event', async () => {
    const event = createEvent('dev.proteus.tryon.progress', 'gpu-worker', { jobId: 'j1', userId: 'u1', step: 1, steps: 2 });
    const id = await createProducer(redis).emit(streams.lifecycle, event);
    const entries = await redis.xrange(streams.lifecycle, id, id);
    expect(entries).toEqual([[id, [entryField, JSON.stringify(event)]]]);
  });

  it('writes nothing when the event breaks its contract', async () => {
    const producer = createProducer(redis);
    const before = await redis.xlen(streams.jobs);
    for (const { value } of invalidVectors) {
      await expect(producer.emit(streams.jobs, value.event as ProteusEvent)).rejects.toThrow();
    }
    expect(await redis.xlen(streams.jobs)).toBe(before);
    const good = validVectors.find((v) => v.name === 'tryon-requested-full')!.value as ProteusEvent;
    await producer.emit(streams.jobs, good);
    expect(await redis.xlen(streams.jobs)).toBe(before + 1);
  });
});

describe('producer trimming (real Redis)', () => {
  const tick = (i: number) => createEvent('dev.proteus.arbitrator.tick', 'eventing', { seq: i, skipped: 0 });
  const ids = async (stream: string) => (await redis.xrange(stream, '-', '+')).map(([id]) => id);

  it('never trims a stream without a consumer group', async () => {
    const producer = createProducer(redis, { retentionMs: 0, refreshMs: 0 });
    for (let i = 0; i < 300; i++) await producer.emit('trim:no-group', tick(i));
    expect(await redis.xlen('trim:no-group')).toBe(300);
    expect(await safeTrimId(redis, 'trim:no-group')).toBeUndefined();
    expect(await safeTrimId(redis, 'trim:missing')).toBeUndefined();
  });

  it('trims acked entries but never pending or undelivered ones, bounded by the slowest group', async () => {
    const stream = 'trim:groups';
    const producer = createProducer(redis, { retentionMs: 0, refreshMs: 0 });
    await redis.xgroup('CREATE', stream, 'fast', '0', 'MKSTREAM');
    await redis.xgroup('CREATE', stream, 'slow', '0');
    for (let i = 0; i < 600; i++) await producer.emit(stream, tick(i));
    const all = await ids(stream);
    // fast: reads and acks 500; slow: reads 400, acks the first 300, leaves 100 pending
    const fast = (await redis.xreadgroup('GROUP', 'fast', 'c', 'COUNT', 500, 'STREAMS', stream, '>')) as [string, [string, string[]][]][];
    await redis.xack(stream, 'fast', ...fast[0]![1].map(([id]) => id));
    const slow = (await redis.xreadgroup('GROUP', 'slow', 'c', 'COUNT', 400, 'STREAMS', stream, '>')) as [string, [string, string[]][]][];
    await redis.xack(stream, 'slow', ...slow[0]![1].slice(0, 300).map(([id]) => id));
    const mustStay = all.slice(300); // 100 pending in slow, 200 undelivered to slow (100 of them to fast)
    expect(await safeTrimId(redis, stream)).toBe(all[300]);

    for (let i = 0; i < 50; i++) await producer.emit(stream, tick(i));
    const left = new Set(await ids(stream));
    expect(mustStay.filter((id) => !left.has(id))).toEqual([]);
    // MINID ~ trims whole macro nodes only: it may keep some extra, but most acked entries go
    expect(left.size).toBeLessThan(600);
  });

  it('keeps entries younger than the retention window', async () => {
    const stream = 'trim:retained';
    const producer = createProducer(redis, { retentionMs: 60_000, refreshMs: 0 });
    await redis.xgroup('CREATE', stream, 'g', '0', 'MKSTREAM');
    for (let i = 0; i < 300; i++) await producer.emit(stream, tick(i));
    const read = (await redis.xreadgroup('GROUP', 'g', 'c', 'COUNT', 300, 'STREAMS', stream, '>')) as [string, [string, string[]][]][];
    await redis.xack(stream, 'g', ...read[0]![1].map(([id]) => id));
    for (let i = 0; i < 10; i++) await producer.emit(stream, tick(i));
    expect(await redis.xlen(stream)).toBe(310);
  });
});

describe('stream ids', () => {
  it('orders and steps ids numerically', () => {
    expect(compareIds('1-10', '1-9')).toBe(1);
    expect(compareIds('9-0', '10-0')).toBe(-1);
    expect(compareIds('5-5', '5-5')).toBe(0);
    expect(nextId('1700000000000-41')).toBe('1700000000000-42');
  });

  it('checks again anything that is not the very object createEvent or parseEvent answered', async () => {
    const producer = createProducer(redis);
    const made = parseEvent(validVectors.find((v) => v.name === 'tryon-requested-full')!.value);
    expect(isValidated(made)).toBe(true);
    const tampered = { ...made, data: { ...made.data, jobId: 'not a uuid' } } as ProteusEvent;
    expect(isValidated(tampered)).toBe(false);
    const before = await redis.xlen(streams.jobs);
    await expect(producer.emit(streams.jobs, tampered)).rejects.toThrow(EventValidationError);
    expect(await redis.xlen(streams.jobs)).toBe(before);
  });
});

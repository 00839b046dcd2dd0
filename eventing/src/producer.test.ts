import { isolatedRedisUrl } from '@proteus/testkit';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { invalidVectors, validVectors } from '../test/vectors.ts';
import { createEvent, type ProteusEvent } from './events.ts';
import { entryField, streams } from './keys.ts';
import { createProducer } from './producer.ts';

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

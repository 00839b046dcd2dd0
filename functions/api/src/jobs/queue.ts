/**
 * The api's side of the job streams: one producer per Redis connection (its trim-point cache is
 * per producer) shared by submissions and by the /events sink that releases waiting try-ons, and
 * the one answer both give when Redis refuses an XADD.
 */
import { problem } from '@proteus/common';
import { createProducer, type Producer } from '@proteus/eventing';
import type { Redis } from 'ioredis';
import type { ApiDeps } from '../env.ts';

export const queueUnavailable = () =>
  problem(
    503,
    'queue-unavailable',
    'Job queue unavailable',
    { detail: 'the job could not be queued; nothing was recorded, retry later' },
    { 'retry-after': '1' },
  );

const producers = new WeakMap<Redis, Producer>();

/** The deps' producer, else one per Redis connection. */
export function producerOf(deps: Pick<ApiDeps, 'producer' | 'redis'>): Producer {
  if (deps.producer) return deps.producer;
  let producer = producers.get(deps.redis);
  if (!producer) {
    producer = createProducer(deps.redis);
    producers.set(deps.redis, producer);
  }
  return producer;
}

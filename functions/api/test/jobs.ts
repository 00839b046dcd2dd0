/** Images and stream readers for the VTON and job tests. */
import { randomUUID } from 'node:crypto';
import type { DatabaseHandle } from '@proteus/common/db';
import type { ObjectStorage } from '@proteus/common/storage';
import { keys, type ProteusEvent, parseEvent } from '@proteus/eventing';
import type { Redis } from 'ioredis';
import { expect } from 'vitest';
import { fixtures, putObject } from './images.ts';

/** Stores a real image under the user's prefix and answers its key. */
export async function storeImage(storage: ObjectStorage, userId: string, kind: keys.ObjectKind = 'garment', format: 'jpeg' | 'png' = 'jpeg'): Promise<string> {
  const key = keys.objectKey(userId, kind, randomUUID(), format === 'jpeg' ? 'jpg' : 'png');
  await putObject(storage, key, await fixtures[format](), `image/${format}`);
  return key;
}

/** Every event on the stream, validated against the contract. */
export async function streamEvents(redis: Redis, stream: string): Promise<ProteusEvent[]> {
  const entries = await redis.xrange(stream, '-', '+');
  return entries.map(([, fields]) => {
    if (fields[0] !== keys.entryField) throw new Error(`entry field ${fields[0]}, expected ${keys.entryField}`);
    return parseEvent(JSON.parse(fields[1] as string));
  });
}

/** The stream's events of one user. */
export async function eventsOf(redis: Redis, stream: string, userId: string): Promise<ProteusEvent[]> {
  return (await streamEvents(redis, stream)).filter((e) => (e.data as { userId?: string }).userId === userId);
}

/** 33 MediaPipe landmarks. */
export const landmarks = (n = 33) => Array.from({ length: n }, (_, i) => ({ x: i / 33, y: 1 - i / 33, z: 0, visibility: 0.9 }));

/** The tryon.requested events kept on try-ons waiting for their person mask, oldest first, validated against the contract. */
export async function pendingRequests(database: DatabaseHandle): Promise<ProteusEvent<'dev.proteus.tryon.requested'>[]> {
  const rows = await database.db
    .selectFrom('jobs')
    .select('pending_event')
    .where('pending_event', 'is not', null)
    .orderBy('enqueued_at')
    .orderBy('id')
    .execute();
  return rows.map((r) => {
    const event = parseEvent(JSON.parse(r.pending_event as string));
    if (event.type !== 'dev.proteus.tryon.requested') throw new Error(`kept a ${event.type}`);
    return event;
  });
}

/** A submission's 202 answer, as the tests read it. */
export interface Submitted {
  job_id: string;
  status: string;
  kind: string;
  vton_id: string;
}

/** Expects 202 (showing the body otherwise) and answers the submitted job. */
export async function accepted(response: Response): Promise<Submitted> {
  expect(response.status, await response.clone().text()).toBe(202);
  return (await response.json()) as Submitted;
}

/**
 * Recording what happened to a job: the sink side of `events:jobs`. Each lifecycle event
 * updates the job and its VTON once (delivery is at-least-once: (source, id) is recorded in
 * the same transaction), never moves a finished job back, and is then told to its owner on
 * `events:job_done`, in the original design's fields (`job_id`, `status`, `result_url`) next to ours.
 * The end of a segmentation job also queues the try-ons waiting for its mask (release.ts).
 */
import type { Logger } from '@proteus/common';
import type { Database, JobStatus, VtonStatus } from '@proteus/common/db';
import type { ObjectStorage } from '@proteus/common/storage';
import { keys, type Producer, type ProteusEvent } from '@proteus/eventing';
import type { Redis } from 'ioredis';
import { type Kysely, type RawBuilder, sql, type Transaction } from 'kysely';
import { presignDownload } from '../images/presign.ts';
import type { ImageSettings } from '../images/settings.ts';
import { kindOfKey } from '../jobs/fields.ts';
import { type QueuedEntry, type ReleaseContext, releaseWaiting } from './release.ts';

/** What the owner is told, on every socket of theirs. */
export interface JobUpdate {
  type: 'job' | 'progress';
  userId: string;
  job_id: string;
  status: JobStatus | 'running';
  result_url: string | null;
  vton_id?: string | null;
  kind?: 'segment' | 'tryon';
  error?: string;
  step?: number;
  steps?: number;
  engine?: string;
  resolution?: string;
}

/** An update still holding the result's object key, which publishing turns into `result_url`. */
export type PendingUpdate = JobUpdate & { resultKey?: string };

export type RecordOutcome =
  | { kind: 'duplicate' }
  /** released: waiting try-ons this event queued */
  | { kind: 'recorded'; update: PendingUpdate | undefined; released: number }
  | { kind: 'unknown-job' };

export interface RecordDeps {
  db: Kysely<Database>;
  /** queues the try-ons a segmentation job releases */
  producer: Producer;
  log: Logger;
}

const lifecycleTypes = new Set([
  'dev.proteus.segment.completed',
  'dev.proteus.segment.failed',
  'dev.proteus.tryon.completed',
  'dev.proteus.tryon.failed',
  'dev.proteus.tryon.progress',
]);
export const isLifecycleEvent = (type: string) => lifecycleTypes.has(type);

/** The object kind of a key (users/<u>/<kind>/<id>.<ext>). */
/**
 * Applies one lifecycle event in one transaction. `unknown-job` when no job of that owner
 * exists (yet: the submission may commit after its event was enqueued), so the caller answers
 * 404 and the stream source retries.
 */
export async function recordEvent({ db, producer, log }: RecordDeps, event: ProteusEvent): Promise<RecordOutcome> {
  const queued: QueuedEntry[] = [];
  try {
    return await db.transaction().execute(async (trx): Promise<RecordOutcome> => {
      const inserted = await trx
        .insertInto('processed_events')
        .values({ source: event.source, id: event.id, type: event.type })
        .onConflict((oc) => oc.columns(['source', 'id']).doNothing())
        .executeTakeFirst();
      if (inserted.numInsertedOrUpdatedRows === 0n) return { kind: 'duplicate' };
      const data = event.data as { jobId: string; userId: string };
      const job = await trx
        .selectFrom('jobs')
        .select(['id', 'vton_id', 'kind', 'status', 'image_key'])
        .where('id', '=', data.jobId)
        .where('user_id', '=', data.userId)
        .forUpdate()
        .executeTakeFirst();
      if (!job) {
        // undo the (source, id) record too: the retry must find it unrecorded
        throw new UnknownJob();
      }
      const update = await apply(trx, event, job, { producer, log, queued });
      return { kind: 'recorded', update, released: queued.length };
    });
  } catch (error) {
    // queued for a transaction that did not commit: taken back, so the retry queues them once
    for (const { stream, id } of queued.splice(0)) {
      await producer.withdraw(stream, id).catch((withdrawError) => log.warn('released try-on not withdrawn', { error: withdrawError, stream, entry: id }));
    }
    if (error instanceof UnknownJob) return { kind: 'unknown-job' };
    throw error;
  }
}

class UnknownJob extends Error {}

type JobRow = { id: string; vton_id: string | null; kind: 'segment' | 'tryon'; status: JobStatus; image_key: string | null };

type VtonValues = { status?: VtonStatus; cloth_clean_key?: string; mask_key?: string | RawBuilder<string | null>; result_key?: string };

/** The mask for the VTON: only while its person photo is still the one the mask was made from (unknown for rows from before #6). */
const maskFor = (maskKey: string, imageKey: string | null): string | RawBuilder<string | null> =>
  imageKey === null ? maskKey : sql<string | null>`case when person_key = ${imageKey} then ${maskKey} else mask_key end`;

async function apply(trx: Transaction<Database>, event: ProteusEvent, job: JobRow, release: ReleaseContext): Promise<PendingUpdate | undefined> {
  const finished = job.status === 'completed' || job.status === 'failed';
  const now = new Date();
  const userId = (event.data as { userId: string }).userId;
  const base = { type: 'job' as const, userId, job_id: job.id, vton_id: job.vton_id, kind: job.kind };
  const setVton = async (values: VtonValues) => {
    if (job.vton_id)
      await trx
        .updateTable('vtons')
        .set({ ...values, updated_at: now })
        .where('id', '=', job.vton_id)
        .execute();
  };
  const releaseWaiters = (maskKey: string | undefined) => releaseWaiting(trx, release, { segmentJobId: job.id, maskKey, now });

  switch (event.type) {
    case 'dev.proteus.tryon.progress': {
      // progress only moves a job from queued to running; it is told to the owner as it is
      if (job.status === 'queued') {
        await trx.updateTable('jobs').set({ status: 'running', started_at: now, updated_at: now }).where('id', '=', job.id).execute();
        await setVton({ status: 'running' });
      }
      if (finished) return undefined;
      return { ...base, type: 'progress', status: 'running', result_url: null, step: event.data.step, steps: event.data.steps };
    }
    case 'dev.proteus.segment.completed':
    case 'dev.proteus.tryon.completed': {
      // a finished job keeps its first outcome: a late duplicate from another worker changes nothing
      if (finished) return undefined;
      const d = event.data;
      const tryon = event.type === 'dev.proteus.tryon.completed' ? event.data : undefined;
      await trx
        .updateTable('jobs')
        .set({
          status: 'completed',
          finished_at: now,
          updated_at: now,
          result_key: d.resultKey,
          ...(tryon
            ? {
                engine: tryon.engine,
                resolution: tryon.resolution,
                batch_size: tryon.batchSize,
                attempts: tryon.attempts,
                wait_ms: tryon.waitMs,
                run_ms: tryon.runMs,
              }
            : {}),
        })
        .where('id', '=', job.id)
        .execute();
      if (tryon) await setVton({ status: 'completed', result_key: d.resultKey });
      else {
        const isMask = kindOfKey(d.resultKey) === 'mask';
        // a mask outside its owner's folder is nobody's mask: the waiting try-ons go without one
        const mask = isMask && d.resultKey.startsWith(keys.userPrefix(userId)) ? d.resultKey : undefined;
        if (isMask && !mask) release.log.warn('segmentation result outside its owner’s folder not used as a mask', { jobId: job.id, resultKey: d.resultKey });
        const released = await releaseWaiters(mask);
        // once a try-on is queued, it is what the VTON's status tells
        const status: VtonValues = released.length ? {} : { status: 'ready' };
        if (!isMask) await setVton({ ...status, cloth_clean_key: d.resultKey });
        else await setVton({ ...status, ...(mask ? { mask_key: maskFor(mask, job.image_key) } : {}) });
        // try-ons of the photo for other garments (other VTONs) waited for it too: the mask is theirs
        // as well, while the photo is still theirs
        const others = [...new Set(released)].filter((id): id is string => id !== null && id !== job.vton_id);
        if (mask && job.image_key && others.length) {
          await trx
            .updateTable('vtons')
            .set({ mask_key: mask, updated_at: now })
            .where('id', 'in', others)
            .where('user_id', '=', userId)
            .where('person_key', '=', job.image_key)
            .execute();
        }
      }
      return {
        ...base,
        status: 'completed',
        result_url: null,
        ...(tryon ? { engine: tryon.engine, resolution: tryon.resolution } : {}),
        resultKey: d.resultKey,
      };
    }
    case 'dev.proteus.segment.failed':
    case 'dev.proteus.tryon.failed': {
      if (finished) return undefined;
      const attempts = event.type === 'dev.proteus.tryon.failed' ? event.data.attempts : undefined;
      await trx
        .updateTable('jobs')
        .set({ status: 'failed', finished_at: now, updated_at: now, error: event.data.error, ...(attempts ? { attempts } : {}) })
        .where('id', '=', job.id)
        .execute();
      // try-ons waiting for this mask go on without it: then the VTON has not failed
      const released = event.type === 'dev.proteus.segment.failed' ? (await releaseWaiters(undefined)).length : 0;
      if (!released) await setVton({ status: 'failed' });
      return { ...base, status: 'failed', result_url: null, error: event.data.error };
    }
    default:
      return undefined;
  }
}

/** Tells the owner, with a download URL for a result. A failure here loses no state: clients resync from /api/jobs. */
export async function publishUpdate(redis: Redis, storage: ObjectStorage, images: ImageSettings, update: PendingUpdate, log: Logger): Promise<void> {
  const { resultKey, ...message } = update;
  try {
    if (resultKey) message.result_url = (await presignDownload(storage, images, { userId: update.userId, key: resultKey })).url;
    await redis.publish(keys.channels.jobDone, JSON.stringify(message));
  } catch (error) {
    log.warn('could not tell the owner about a job', { jobId: update.job_id, error: (error as Error).message });
  }
}

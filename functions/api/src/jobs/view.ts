/**
 * A job as clients read it (`GET /api/status/:job_id`, `GET /api/jobs`), in the original design's
 * field names. A try-on waiting for its person mask is `queued`, with `waiting_for` naming the mask's job.
 */
import type { JobsTable } from '@proteus/common/db';
import type { Selectable } from 'kysely';
import type { ApiDeps } from '../env.ts';
import { presignDownload } from '../images/presign.ts';
import { ImageRejected } from '../images/rejected.ts';

export const JOB_COLUMNS = [
  'id',
  'user_id',
  'vton_id',
  'kind',
  'status',
  'result_key',
  'error',
  'engine',
  'resolution',
  'batch_size',
  'attempts',
  'waiting_for',
  'enqueued_at',
  'started_at',
  'finished_at',
  'updated_at',
] as const;

export type JobRow = Pick<Selectable<JobsTable>, (typeof JOB_COLUMNS)[number]>;

const iso = (d: Date | null) => d?.toISOString() ?? null;

/** A presigned GET of the result once the job completed; null before, or when the object is gone. */
async function resultUrl(deps: ApiDeps, row: JobRow): Promise<string | null> {
  if (row.status !== 'completed' || !row.result_key) return null;
  try {
    return (await presignDownload(deps.storage, deps.images, { userId: row.user_id, key: row.result_key })).url;
  } catch (error) {
    if (error instanceof ImageRejected) return null;
    throw error;
  }
}

export async function jobView(deps: ApiDeps, row: JobRow) {
  return {
    job_id: row.id,
    status: row.status,
    kind: row.kind,
    vton_id: row.vton_id,
    result_url: await resultUrl(deps, row),
    error: row.error,
    engine: row.engine,
    resolution: row.resolution,
    batch_size: row.batch_size,
    attempts: row.attempts,
    /** the segmentation job making this try-on's person mask; the try-on is queued when it ends */
    waiting_for: row.waiting_for,
    enqueued_at: iso(row.enqueued_at),
    started_at: iso(row.started_at),
    finished_at: iso(row.finished_at),
    updated_at: iso(row.updated_at),
  };
}

/**
 * Whether a try-on waits for a person mask (#6). CatVTON repaints the region a mask of the person
 * marks, so a try-on without one asks the segment function for it (`purpose: person-mask`) and
 * is queued when it is made (lifecycle/release.ts), unless the request names a mask, the engine
 * is `warp`, which needs none, or a mask of this very person photo exists already: the VTON's
 * own, or one made for any of the owner's try-ons of the photo. One still being made is waited
 * for with the try-ons already waiting on it: a shopper who snaps ten garments in one photo
 * costs one segmentation, not ten. The worker builds a mask from the landmarks when none comes,
 * so a failed mask costs quality, never the try-on.
 */
import { type DatabaseHandle, type JobStatus, prepared } from '@proteus/common/db';
import { keys } from '@proteus/eventing';
import { sql } from 'kysely';
import { batchersOf } from '../batcher.ts';
import { kindOfKey } from './fields.ts';
import type { SegmentWork, TryonWork } from './submit.ts';

/** What the target VTON holds, read with its ownership check: its person photo and that photo's mask. */
export interface VtonMask {
  personKey: string | null;
  maskKey: string | null;
}

/** The newest person-mask job of a photo that has not failed. */
export interface PhotoMask {
  jobId: string;
  status: JobStatus;
  resultKey: string | null;
}

export type MaskPlan =
  /** not a try-on, a mask given, or the warp engine: queued as it is */
  | { kind: 'none' }
  /** a mask made from the same (verified) person photo: the VTON's, or the photo's newest */
  | { kind: 'reuse'; maskKey: string }
  /** the photo's mask job is queued or running: the try-on waits for it too */
  | { kind: 'join'; maskJobId: string }
  /** a new segmentation job makes the mask first; the try-on waits for it */
  | { kind: 'wait' };

/**
 * The plan from what is known: `photoMask` is looked up (photoMasks) only when the VTON has no
 * mask of the photo, so without it the answer is `wait` where a look-up could still help.
 */
export function planMask(work: SegmentWork | TryonWork, vton: VtonMask | undefined, photoMask?: PhotoMask): MaskPlan {
  if (work.kind !== 'tryon' || work.maskKey !== undefined || work.engine === 'warp') return { kind: 'none' };
  // VTONs and jobs hold verified keys; the request may name the upload
  if (vton?.maskKey && vton.personKey === keys.verifiedObjectKey(work.personKey)) return { kind: 'reuse', maskKey: vton.maskKey };
  if (photoMask?.status === 'completed' && photoMask.resultKey && kindOfKey(photoMask.resultKey) === 'mask') {
    return { kind: 'reuse', maskKey: photoMask.resultKey };
  }
  if (photoMask?.status === 'queued' || photoMask?.status === 'running') return { kind: 'join', maskJobId: photoMask.jobId };
  return { kind: 'wait' };
}

/**
 * A LATERAL subquery: the newest person-mask job (not failed) of `c.user_id`'s photo `c.photo`
 * (a verified key); indexed (migration 0006). Also part of the snap's VTON look-up (routes/jobs.ts).
 */
export const newestPhotoMask = sql`
  select id, status, result_key from jobs
  where user_id = c.user_id and image_key = c.photo and purpose = 'person-mask' and status <> 'failed'
  order by enqueued_at desc, id desc
  limit 1`;

export type PhotoMaskRow = { mask_id: string | null; mask_status: JobStatus | null; mask_result_key: string | null };

export const photoMaskOf = (row: PhotoMaskRow): PhotoMask | undefined =>
  row.mask_id && row.mask_status ? { jobId: row.mask_id, status: row.mask_status, resultKey: row.mask_result_key } : undefined;

/** The photo masks of many concurrent submissions in one query (../batcher.ts). */
export const photoMasks = batchersOf(
  async (database: DatabaseHandle, asked: readonly { userId: string; photo: string }[]): Promise<(PhotoMask | undefined)[]> => {
    const { rows } = await sql<{ n: number } & PhotoMaskRow>`${prepared}
    select c.n, m.id as mask_id, m.status as mask_status, m.result_key as mask_result_key
    from jsonb_to_recordset(cast(${JSON.stringify(asked.map((a, n) => ({ n, user_id: a.userId, photo: a.photo })))} as jsonb))
      as c(n int, user_id text, photo text)
    cross join lateral (${newestPhotoMask}) as m`.execute(database.db);
    const found: (PhotoMask | undefined)[] = asked.map(() => undefined);
    for (const row of rows) found[row.n] = photoMaskOf(row);
    return found;
  },
);

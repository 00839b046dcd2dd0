/**
 * One job submission under every route that creates work: the images are verified, the
 * CloudEvent is XADDed, then the job rows and their VTON change are written in one statement.
 * If Redis refuses the XADD nothing is written (503): no row without its queue entry; should the
 * write fail, the entry is withdrawn. The reverse (an entry whose row never commits) needs the
 * XADD to succeed and the write to fail; consumers treat an unknown job as stale.
 *
 * A try-on that needs a person mask (jobs/person-mask.ts) is two rows of the same statement: the
 * mask's segmentation job, whose request is the entry XADDed now, and the try-on waiting for it
 * with its tryon.requested kept on the row, which the /events sink queues when the mask is done
 * (lifecycle/release.ts). The answer is the try-on, as for any other.
 */
import { randomInt, randomUUID } from 'node:crypto';
import { problem } from '@proteus/common';
import type { Database, DatabaseHandle, JobsTable, VtonStatus } from '@proteus/common/db';
import { createEvent, type EventData, keys, type ProteusEvent } from '@proteus/eventing';
import { type Kysely, type Selectable, sql } from 'kysely';
import { batchersOf } from '../batcher.ts';
import type { ApiDeps } from '../env.ts';
import { ImageRejected } from '../images/rejected.ts';
import { verifyImage } from '../images/verify.ts';
import { kindOfKey } from './fields.ts';
import { type Idempotency, idempotencyKeyReused, isIdempotencyConflict } from './idempotency.ts';
import { type MaskPlan, planMask, type VtonMask } from './person-mask.ts';
import { producerOf, queueUnavailable } from './queue.ts';

export type SegmentWork = { kind: 'segment' } & Pick<EventData<'dev.proteus.segment.requested'>, 'imageKey' | 'purpose'>;
/** `seed` omitted: a random uint32 is drawn */
export type TryonWork = { kind: 'tryon' } & Omit<EventData<'dev.proteus.tryon.requested'>, 'jobId' | 'userId' | 'vtonId' | 'seed'> & {
    seed?: number | undefined;
  };

export interface Submission {
  userId: string;
  /** one of the caller's VTONs; undefined creates one */
  vtonId?: string | undefined;
  /** vtonId was just read from the caller's own VTONs, with its person photo and mask: no look-up before the images are checked */
  ownedVton?: VtonMask | undefined;
  work: SegmentWork | TryonWork;
  idempotency?: Idempotency | undefined;
}

/** The answer to a submission, in the original design's field names. */
export interface SubmittedJob {
  job_id: string;
  status: 'queued';
  kind: 'segment' | 'tryon';
  vton_id: string | null;
}

export interface SubmitResult {
  job: SubmittedJob;
  /** true when an earlier request with the same Idempotency-Key made the job */
  replayed: boolean;
}

export const noSuchVton = (id: string) => problem(404, 'not-found', 'Not found', { detail: `no VTON ${JSON.stringify(id)}` });

const submitted = (row: Pick<Selectable<JobsTable>, 'id' | 'kind' | 'vton_id'>): SubmittedJob => ({
  job_id: row.id,
  status: 'queued',
  kind: row.kind,
  vton_id: row.vton_id,
});

async function earlierJob(deps: ApiDeps, userId: string, idempotency: Idempotency): Promise<SubmitResult | undefined> {
  const row = await deps.database.db
    .selectFrom('jobs')
    .select(['id', 'kind', 'vton_id', 'request_hash'])
    .where('user_id', '=', userId)
    .where('idempotency_key', '=', idempotency.key)
    .executeTakeFirst();
  if (!row) return undefined;
  if (row.request_hash !== idempotency.requestHash) throw idempotencyKeyReused(idempotency.key);
  return { job: submitted(row), replayed: true };
}

type VtonKeys = Partial<Record<'garment_key' | 'cloth_clean_key' | 'person_key' | 'mask_key' | 'result_key', string | null>>;

export interface VtonChange {
  status: VtonStatus;
  keys: VtonKeys;
  /** the VTON keeps its mask only if this is already its person photo (a mask fits the photo it was made from) */
  keepMaskOf?: string;
}

/** What the VTON becomes when this work is queued for it (`waits`: the try-on waits for a new mask). */
function vtonChange(work: SegmentWork | TryonWork, waits: boolean): VtonChange {
  if (work.kind === 'segment') {
    // a new garment makes the old clean cut stale; a new person photo, the old mask
    return work.purpose === 'garment'
      ? { status: 'segmenting', keys: { garment_key: work.imageKey, cloth_clean_key: null } }
      : { status: 'segmenting', keys: { person_key: work.imageKey, mask_key: null } };
  }
  const changed: VtonKeys = { person_key: work.personKey, result_key: null };
  if (kindOfKey(work.garmentKey) === 'cloth_clean') changed.cloth_clean_key = work.garmentKey;
  else changed.garment_key = work.garmentKey;
  if (work.maskKey) return { status: 'queued', keys: { ...changed, mask_key: work.maskKey } };
  if (waits) return { status: 'queued', keys: { ...changed, mask_key: null } };
  return { status: 'queued', keys: changed, keepMaskOf: work.personKey };
}

function eventOf(work: SegmentWork | TryonWork, ids: { jobId: string; userId: string; vtonId: string }): { stream: string; event: ProteusEvent } {
  if (work.kind === 'segment') {
    const data = { ...ids, imageKey: work.imageKey, purpose: work.purpose };
    return { stream: keys.streams.segment, event: createEvent('dev.proteus.segment.requested', 'api', data) };
  }
  const { kind: _, seed, ...rest } = work;
  const data = { ...ids, ...rest, seed: seed ?? randomInt(2 ** 32) };
  const defined = Object.fromEntries(Object.entries(data).filter(([, v]) => v !== undefined)) as EventData<'dev.proteus.tryon.requested'>;
  return { stream: keys.streams.jobs, event: createEvent('dev.proteus.tryon.requested', 'api', defined) };
}

/** The work with every image key replaced by its verified copy's (the first rejection in the order given is the answer). */
async function verifiedWork<W extends SegmentWork | TryonWork>(deps: ApiDeps, userId: string, work: W): Promise<W> {
  const given = work.kind === 'segment' ? [work.imageKey] : [work.personKey, work.garmentKey, ...(work.maskKey ? [work.maskKey] : [])];
  const results = await Promise.allSettled(given.map((key) => verifyImage(deps.storage, deps.images, { userId, key }, deps.verifiedImages)));
  const failed = results.find((r) => r.status === 'rejected');
  if (failed) throw (failed as PromiseRejectedResult).reason;
  const [first, second, third] = results.map((r) => (r as PromiseFulfilledResult<{ key: string }>).value.key) as [string, string, string | undefined];
  if (work.kind === 'segment') return { ...work, imageKey: first };
  return { ...work, personKey: first, garmentKey: second, ...(work.maskKey ? { maskKey: third } : {}) };
}

/**
 * The verified work, with the VTON's mask when the plan reuses it; `waits` when a mask job comes
 * first. A reused mask is checked like any image a job names (once, then remembered); one that
 * fails the check is made again instead.
 */
async function preparedWork<W extends SegmentWork | TryonWork>(deps: ApiDeps, userId: string, given: W, plan: MaskPlan): Promise<{ work: W; waits: boolean }> {
  const reused =
    plan.kind === 'reuse'
      ? verifyImage(deps.storage, deps.images, { userId, key: plan.maskKey }, deps.verifiedImages).then(
          (image) => image.key,
          (error: unknown) => {
            if (!(error instanceof ImageRejected)) throw error;
            deps.log.warn('the VTON mask failed its check; a new one is made', { userId, maskKey: plan.maskKey, reason: error.message });
            return undefined;
          },
        )
      : undefined;
  const [work, maskKey] = await Promise.all([verifiedWork(deps, userId, given), reused]);
  if (maskKey !== undefined && work.kind === 'tryon') return { work: { ...work, maskKey }, waits: false };
  return { work, waits: plan.kind !== 'none' };
}

/** A job row to write: a try-on that waits names the job it waits for and keeps its event. */
export interface NewJob {
  id: string;
  kind: 'segment' | 'tryon';
  imageKey?: string | undefined;
  waitingFor?: string | undefined;
  pendingEvent?: string | undefined;
  idempotency?: Idempotency | undefined;
}

/** One submission's rows: its VTON's change (or new VTON) and its job rows. */
export interface JobsWrite {
  userId: string;
  /** the VTON to update; undefined: `targetVton` is created */
  vtonId: string | undefined;
  targetVton: string;
  change: VtonChange;
  jobs: [NewJob, ...NewJob[]];
  at: Date;
}

/**
 * The rows of many submissions in one statement (a data-modifying CTE: atomic, one round trip
 * for all of them; ../batcher.ts groups concurrent submissions). The inputs travel as two JSON
 * parameters, so the statement text is the same whatever the batch: PostgreSQL and PGlite read
 * it alike, and the api builds nothing per request. A VTON key absent from `keys` is left as
 * it is; present with null, it is cleared. `keep_mask_of`: the VTON keeps its mask only if its
 * person photo (before this change: SET reads the old row) is that one.
 * A submission is written when all its job rows are: none are when its VTON is gone (or is
 * another user's). Two submissions to one VTON in a batch both write their jobs, and the VTON
 * takes the change of one of them, as if that one had come last.
 */
export async function writeJobs(db: Kysely<Database>, writes: readonly JobsWrite[]): Promise<boolean[]> {
  const vtons = writes.map((w, n) => ({
    n,
    vton_id: w.targetVton,
    user_id: w.userId,
    existing: w.vtonId !== undefined,
    status: w.change.status,
    keys: w.change.keys,
    keep_mask_of: w.change.keepMaskOf ?? null,
    at: w.at.toISOString(),
  }));
  const jobs = writes.flatMap((w, n) =>
    w.jobs.map((job) => ({
      n,
      id: job.id,
      user_id: w.userId,
      vton_id: w.targetVton,
      kind: job.kind,
      at: w.at.toISOString(),
      idempotency_key: job.idempotency?.key ?? null,
      request_hash: job.idempotency?.requestHash ?? null,
      image_key: job.imageKey ?? null,
      waiting_for: job.waitingFor ?? null,
      pending_event: job.pendingEvent ?? null,
    })),
  );
  const kept = (column: string) => sql.raw(`case when c.keys ? '${column}' then c.keys->>'${column}' else v.${column} end`);
  const { rows } = await sql<{ id: string }>`
    with c as (
      select * from jsonb_to_recordset(cast(${JSON.stringify(vtons)} as jsonb))
        as c(n int, vton_id text, user_id text, existing boolean, status text, keys jsonb, keep_mask_of text, at timestamptz)
    ),
    updated as (
      update vtons as v set
        garment_key = ${kept('garment_key')},
        cloth_clean_key = ${kept('cloth_clean_key')},
        person_key = ${kept('person_key')},
        result_key = ${kept('result_key')},
        mask_key = case
          when c.keys ? 'mask_key' then c.keys->>'mask_key'
          when c.keep_mask_of is not null and v.person_key is distinct from c.keep_mask_of then null
          else v.mask_key end,
        status = c.status,
        updated_at = c.at
      from c
      where c.existing and v.id = c.vton_id and v.user_id = c.user_id
      returning v.id, v.user_id
    ),
    inserted as (
      insert into vtons (id, user_id, garment_key, cloth_clean_key, person_key, mask_key, result_key, status, created_at, updated_at)
      select vton_id, user_id, keys->>'garment_key', keys->>'cloth_clean_key', keys->>'person_key', keys->>'mask_key', keys->>'result_key', status, at, at
      from c where not c.existing
      returning id
    ),
    -- by submission, not by VTON id: an id alone would let one user's jobs ride on another's VTON
    written as (
      select c.n from c join updated as u on u.id = c.vton_id and u.user_id = c.user_id where c.existing
      union all
      select c.n from c join inserted as i on i.id = c.vton_id where not c.existing
    )
    insert into jobs (id, user_id, vton_id, kind, status, enqueued_at, updated_at, idempotency_key, request_hash, image_key, waiting_for, pending_event)
    select j.id, j.user_id, j.vton_id, j.kind, 'queued', j.at, j.at, j.idempotency_key, j.request_hash, j.image_key, j.waiting_for, j.pending_event
    from jsonb_to_recordset(cast(${JSON.stringify(jobs)} as jsonb))
      as j(n int, id text, user_id text, vton_id text, kind text, at timestamptz, idempotency_key text, request_hash text, image_key text, waiting_for text, pending_event text)
    where j.n in (select n from written)
    returning id`.execute(db);
  const written = new Set(rows.map((r) => r.id));
  return writes.map((w) => w.jobs.every((job) => written.has(job.id)));
}

// concurrent submissions share statements
const jobWrites = batchersOf((database: DatabaseHandle, writes: readonly JobsWrite[]) => writeJobs(database.db, writes));

export async function submitJob(deps: ApiDeps, { userId, vtonId, ownedVton, work: given, idempotency }: Submission): Promise<SubmitResult> {
  const { database, log } = deps;
  if (idempotency) {
    const earlier = await earlierJob(deps, userId, idempotency);
    if (earlier) return earlier;
  }
  // a foreign or missing VTON is refused before any image work; its photo and mask come along
  let vton = ownedVton;
  if (vtonId !== undefined && !vton) {
    const owned = await database.db
      .selectFrom('vtons')
      .select(['person_key', 'mask_key'])
      .where('id', '=', vtonId)
      .where('user_id', '=', userId)
      .executeTakeFirst();
    if (!owned) throw noSuchVton(vtonId);
    vton = { personKey: owned.person_key, maskKey: owned.mask_key };
  }
  const { work, waits } = await preparedWork(deps, userId, given, planMask(given, vton));

  const jobId = randomUUID();
  const targetVton = vtonId ?? randomUUID();
  const ids = { jobId, userId, vtonId: targetVton };
  let queued = eventOf(work, ids);
  let jobs: [NewJob, ...NewJob[]] = [{ id: jobId, kind: work.kind, imageKey: work.kind === 'segment' ? work.imageKey : undefined, idempotency }];
  let maskJobId: string | undefined;
  if (waits && work.kind === 'tryon') {
    // the mask's request is queued now; the try-on's event waits on its row
    maskJobId = randomUUID();
    const pendingEvent = JSON.stringify(queued.event);
    queued = eventOf({ kind: 'segment', imageKey: work.personKey, purpose: 'person-mask' }, { ...ids, jobId: maskJobId });
    jobs = [
      { id: maskJobId, kind: 'segment', imageKey: work.personKey },
      { id: jobId, kind: 'tryon', waitingFor: maskJobId, pendingEvent, idempotency },
    ];
  }
  const { stream, event } = queued;
  let entryId: string;
  try {
    entryId = await producerOf(deps).emit(stream, event);
  } catch (error) {
    log.error('job not queued: XADD failed', { error, stream, jobId, userId });
    throw queueUnavailable();
  }
  try {
    const written = await jobWrites(database).add({ userId, vtonId, targetVton, change: vtonChange(work, maskJobId !== undefined), jobs, at: new Date() });
    // deleted since the check above
    if (!written) throw noSuchVton(vtonId as string);
  } catch (error) {
    await producerOf(deps)
      .withdraw(stream, entryId)
      .catch((withdrawError) => log.warn('queued job not withdrawn; its consumer will find no job', { error: withdrawError, stream, jobId }));
    if (idempotency && isIdempotencyConflict(error)) {
      // a concurrent request with the same key committed first: its job is the answer
      const winner = await earlierJob(deps, userId, idempotency);
      if (winner) return winner;
    }
    throw error;
  }
  deps.metrics?.submissions.inc({ stream });
  log.info('job queued', { jobId, kind: work.kind, userId, vtonId: targetVton, stream, ...(maskJobId ? { waitingFor: maskJobId } : {}) });
  return { job: { job_id: jobId, status: 'queued', kind: work.kind, vton_id: targetVton }, replayed: false };
}

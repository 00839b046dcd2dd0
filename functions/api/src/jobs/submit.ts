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
 * (lifecycle/release.ts). The answer is the try-on, as for any other. A try-on that joins a mask
 * job already queued is its row alone, and nothing is XADDed: the write locks the mask job's row
 * (FOR SHARE) and writes nothing if that job has ended meanwhile, so the sink, which locks the
 * row to record the outcome, either sees the new waiter or came first; then the submission is
 * planned again (the mask is there now, or a new one is asked for).
 *
 * A submission planned from a hint (jobs/snap-hints.ts: what the same snap's last write left)
 * instead of a look-up has its write check the hint: its VTON is still the caller's newest of
 * the garment, with the person photo and mask the plan rested on. When it is not, nothing is
 * written, the entry is withdrawn, and HintStale sends the caller back to the look-up.
 */
import { randomInt, randomUUID } from 'node:crypto';
import { problem } from '@proteus/common';
import { type Database, type DatabaseHandle, type JobsTable, prepared, type VtonStatus } from '@proteus/common/db';
import { createEvent, type EventData, keys, type ProteusEvent } from '@proteus/eventing';
import { type Kysely, type Selectable, sql } from 'kysely';
import { batchersOf } from '../batcher.ts';
import type { ApiDeps } from '../env.ts';
import { ImageRejected } from '../images/rejected.ts';
import { knownImage, verifyImage } from '../images/verify.ts';
import { kindOfKey } from './fields.ts';
import { type Idempotency, idempotencyKeyReused, isIdempotencyConflict } from './idempotency.ts';
import { type MaskPlan, type PhotoMask, photoMasks, planMask, type VtonMask } from './person-mask.ts';
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
  /** the person photo's mask job, looked up with `ownedVton` (a try-on); absent: looked up here if needed */
  photo?: { mask: PhotoMask | undefined } | undefined;
  /** `ownedVton` and `photo` are a hint, not a look-up: the write checks them, and HintStale when they no longer hold */
  hinted?: boolean | undefined;
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
  /** a try-on's VTON and its photo's mask job as its write left them (what the next try-on of the same images may plan from) */
  left?: { vton: { id: string } & VtonMask; photoMask: PhotoMask | undefined } | undefined;
}

/** A hinted submission's VTON changed since the hint (jobs/snap-hints.ts): nothing was written or queued. */
export class HintStale extends Error {
  constructor() {
    super('the VTON changed since the hint');
    this.name = 'HintStale';
  }
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

/** What the VTON becomes when this work is queued for it (`waits`: the try-on waits for a mask to be made). */
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

/**
 * The work's request event. Its data is made of values already checked against the event
 * contract's own field schemas (the routes' bodies and ingested events, keys the api verified,
 * fresh UUIDs), so createEvent takes it as it is (`dataChecked`).
 */
function eventOf(work: SegmentWork | TryonWork, ids: { jobId: string; userId: string; vtonId: string }): { stream: string; event: ProteusEvent } {
  if (work.kind === 'segment') {
    const data = { ...ids, imageKey: work.imageKey, purpose: work.purpose };
    return { stream: keys.streams.segment, event: createEvent('dev.proteus.segment.requested', 'api', data, { dataChecked: true }) };
  }
  const data: EventData<'dev.proteus.tryon.requested'> = {
    ...ids,
    personKey: work.personKey,
    garmentKey: work.garmentKey,
    seed: work.seed ?? randomInt(2 ** 32),
  };
  for (const field of optionalTryonFields) if (work[field] !== undefined) (data as Record<string, unknown>)[field] = work[field];
  return { stream: keys.streams.jobs, event: createEvent('dev.proteus.tryon.requested', 'api', data, { dataChecked: true }) };
}

const optionalTryonFields = ['maskKey', 'landmarks', 'steps', 'engine', 'deadline'] as const satisfies readonly (keyof TryonWork)[];
// every field of a try-on's work reaches its event: a field added to the contract must be added above
type Unlisted = Exclude<keyof TryonWork, 'kind' | 'personKey' | 'garmentKey' | 'seed' | (typeof optionalTryonFields)[number]>;
const everyFieldListed: [Unlisted] extends [never] ? true : Unlisted = true;
void everyFieldListed;

const imageKeysOf = (work: SegmentWork | TryonWork) =>
  work.kind === 'segment' ? [work.imageKey] : [work.personKey, work.garmentKey, ...(work.maskKey ? [work.maskKey] : [])];

/** The work with its image keys (in imageKeysOf's order) replaced by these verified ones. */
function withKeys<W extends SegmentWork | TryonWork>(work: W, [first, second, third]: readonly string[]): W {
  if (work.kind === 'segment') return { ...work, imageKey: first };
  return { ...work, personKey: first, garmentKey: second, ...(work.maskKey ? { maskKey: third } : {}) };
}

/** The work with every image key replaced by its verified copy's (the first rejection in the order given is the answer). */
async function verifiedWork<W extends SegmentWork | TryonWork>(deps: ApiDeps, userId: string, work: W): Promise<W> {
  const results = await Promise.allSettled(imageKeysOf(work).map((key) => verifyImage(deps.storage, deps.images, { userId, key }, deps.verifiedImages)));
  const failed = results.find((r) => r.status === 'rejected');
  if (failed) throw (failed as PromiseRejectedResult).reason;
  return withKeys(
    work,
    results.map((r) => (r as PromiseFulfilledResult<{ key: string }>).value.key),
  );
}

/** verifiedWork when this process knows every image already (a returning shopper's snap): no promise, nothing awaited. */
function knownWork<W extends SegmentWork | TryonWork>(deps: ApiDeps, userId: string, work: W): W | undefined {
  const verified: string[] = [];
  for (const key of imageKeysOf(work)) {
    const image = knownImage(userId, key, deps.verifiedImages);
    if (!image) return undefined;
    verified.push(image.key);
  }
  return withKeys(work, verified);
}

/**
 * The verified work, with the mask when the plan reuses one; `waitFor` when a mask job comes
 * first: a new one, or the one it joins. A reused mask is checked like any image a job names
 * (once, then remembered); one that fails the check is made again instead.
 */
async function preparedWork<W extends SegmentWork | TryonWork>(deps: ApiDeps, userId: string, given: W, plan: MaskPlan): Promise<Prepared<W>> {
  // every image known: decided without a promise
  const known = knownWork(deps, userId, given);
  const knownMask = plan.kind === 'reuse' ? knownImage(userId, plan.maskKey, deps.verifiedImages)?.key : undefined;
  if (known && (plan.kind !== 'reuse' || knownMask !== undefined)) return planned(known, plan, knownMask);
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
  return planned(work, plan, maskKey);
}

type Prepared<W> = { work: W; waitFor?: { kind: 'new' } | { kind: 'join'; maskJobId: string } };

/** The verified work as the plan goes on: with the reused mask, or waiting for a mask job. */
function planned<W extends SegmentWork | TryonWork>(work: W, plan: MaskPlan, maskKey: string | undefined): Prepared<W> {
  if (maskKey !== undefined && work.kind === 'tryon') return { work: { ...work, maskKey } };
  if (plan.kind === 'none') return { work };
  return { work, waitFor: plan.kind === 'join' ? plan : { kind: 'new' } };
}

/** A job row to write: a try-on that waits names the job it waits for and keeps its event. */
export interface NewJob {
  id: string;
  kind: 'segment' | 'tryon';
  imageKey?: string | undefined;
  /** a segmentation job's */
  purpose?: string | undefined;
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
  /** the mask job the try-on joins: nothing is written unless it is still queued or running */
  joins?: string | undefined;
  /** the existing VTON as a hint says it is: nothing is written unless it is still the user's newest of `garmentKey`, with this photo and mask */
  expects?: { garmentKey: string; personKey: string | null; maskKey: string | null } | undefined;
  at: Date;
}

/**
 * The rows of many submissions in one statement (a data-modifying CTE: atomic, one round trip
 * for all of them; ../batcher.ts groups concurrent submissions). The inputs travel as two JSON
 * parameters, so the statement text is the same whatever the batch: PostgreSQL and PGlite read
 * it alike, and the api builds nothing per request. A VTON key absent from `keys` is left as
 * it is; present with null, it is cleared. `keep_mask_of`: the VTON keeps its mask only if its
 * person photo (before this change: SET reads the old row) is that one.
 * A submission is written when all its job rows are: none are (nor its VTON change) when its
 * VTON is gone (or is another user's), or the mask job it joins has ended. Two submissions to
 * one VTON in a batch both write their jobs, and the VTON takes the change of one of them, as if
 * that one had come last. With `expects`, the submission is written only if its VTON is as expected
 * (read as the statement starts, as a look-up before it would have read it).
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
    joins: w.joins ?? null,
    expects: w.expects !== undefined,
    expect_garment: w.expects?.garmentKey ?? null,
    expect_person: w.expects?.personKey ?? null,
    expect_mask: w.expects?.maskKey ?? null,
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
      purpose: job.purpose ?? null,
      waiting_for: job.waitingFor ?? null,
      pending_event: job.pendingEvent ?? null,
    })),
  );
  const kept = (column: string) => sql.raw(`case when c.keys ? '${column}' then c.keys->>'${column}' else v.${column} end`);
  const { rows } = await sql<{ id: string }>`${prepared}
    with given as (
      select * from jsonb_to_recordset(cast(${JSON.stringify(vtons)} as jsonb))
        as c(n int, vton_id text, user_id text, existing boolean, status text, keys jsonb, keep_mask_of text, joins text,
          expects boolean, expect_garment text, expect_person text, expect_mask text, at timestamptz)
    ),
    -- the mask jobs joined, held until commit so their outcome is recorded after this (or before)
    joined as (
      select id from jobs
      where id in (select joins from given where joins is not null) and status in ('queued', 'running')
      for share
    ),
    c as (
      select * from given as g
      where (g.joins is null or g.joins in (select id from joined))
        and (not g.expects or exists (
          select 1 from vtons as v
          where v.id = g.vton_id and v.user_id = g.user_id
            and (v.garment_key = g.expect_garment or v.cloth_clean_key = g.expect_garment)
            and v.person_key is not distinct from g.expect_person and v.mask_key is not distinct from g.expect_mask
            -- the snap's look-up takes the newest VTON of the garment (routes/jobs.ts)
            and not exists (
              select 1 from vtons as newer
              where newer.user_id = g.user_id and (newer.garment_key = g.expect_garment or newer.cloth_clean_key = g.expect_garment)
                and (newer.created_at, newer.id) > (v.created_at, v.id))))
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
    insert into jobs (id, user_id, vton_id, kind, status, enqueued_at, updated_at, idempotency_key, request_hash, image_key, purpose, waiting_for, pending_event)
    select j.id, j.user_id, j.vton_id, j.kind, 'queued', j.at, j.at, j.idempotency_key, j.request_hash, j.image_key, j.purpose, j.waiting_for, j.pending_event
    from jsonb_to_recordset(cast(${JSON.stringify(jobs)} as jsonb))
      as j(n int, id text, user_id text, vton_id text, kind text, at timestamptz, idempotency_key text, request_hash text, image_key text, purpose text, waiting_for text, pending_event text)
    where j.n in (select n from written)
    returning id`.execute(db);
  const written = new Set(rows.map((r) => r.id));
  return writes.map((w) => w.jobs.every((job) => written.has(job.id)));
}

// concurrent submissions share statements
const jobWrites = batchersOf((database: DatabaseHandle, writes: readonly JobsWrite[]) => writeJobs(database.db, writes));

export async function submitJob(deps: ApiDeps, { userId, vtonId, ownedVton, photo, hinted, work, idempotency }: Submission): Promise<SubmitResult> {
  const { database } = deps;
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
  for (let attempt = 1; ; attempt++) {
    let plan = planMask(work, vton);
    let photoMask: PhotoMask | undefined;
    if (plan.kind === 'wait' && work.kind === 'tryon') {
      // what the caller looked up is stale once a mask job ended under the first plan
      photoMask = attempt === 1 && photo ? photo.mask : await photoMasks(database).add({ userId, photo: keys.verifiedObjectKey(work.personKey) });
      plan = planMask(work, vton, photoMask);
      // a third time only if mask jobs keep ending under it: then one of its own
      if (plan.kind === 'join' && attempt > 2) plan = { kind: 'wait' };
    }
    const result = await submitPlanned(deps, { userId, vtonId, work, idempotency }, { plan, vton, photoMask, hinted: hinted === true });
    if (result) return result;
  }
}

/** What a submission was planned from: the plan, its VTON and its photo's mask job as looked up (or hinted). */
interface Planned {
  plan: MaskPlan;
  vton: VtonMask | undefined;
  photoMask: PhotoMask | undefined;
  hinted: boolean;
}

/** The submission as planned; undefined when the mask job it joins ended before the write (plan again). */
async function submitPlanned(
  deps: ApiDeps,
  { userId, vtonId, work: given, idempotency }: Omit<Submission, 'ownedVton' | 'photo' | 'hinted'>,
  { plan, vton, photoMask, hinted }: Planned,
): Promise<SubmitResult | undefined> {
  const { database, log } = deps;
  const { work, waitFor } = await preparedWork(deps, userId, given, plan);

  const jobId = randomUUID();
  const targetVton = vtonId ?? randomUUID();
  const ids = { jobId, userId, vtonId: targetVton };
  let queued: { stream: string; event: ProteusEvent } | undefined = eventOf(work, ids);
  let jobs: [NewJob, ...NewJob[]] = [
    work.kind === 'segment'
      ? { id: jobId, kind: 'segment', imageKey: work.imageKey, purpose: work.purpose, idempotency }
      : { id: jobId, kind: 'tryon', idempotency },
  ];
  let maskJobId: string | undefined;
  if (waitFor && work.kind === 'tryon') {
    // the try-on's event waits on its row; a new mask's request is queued now
    const pendingEvent = JSON.stringify(queued.event);
    if (waitFor.kind === 'join') {
      maskJobId = waitFor.maskJobId;
      queued = undefined;
      jobs = [{ id: jobId, kind: 'tryon', waitingFor: maskJobId, pendingEvent, idempotency }];
    } else {
      maskJobId = randomUUID();
      queued = eventOf({ kind: 'segment', imageKey: work.personKey, purpose: 'person-mask' }, { ...ids, jobId: maskJobId });
      jobs = [
        { id: maskJobId, kind: 'segment', imageKey: work.personKey, purpose: 'person-mask' },
        { id: jobId, kind: 'tryon', waitingFor: maskJobId, pendingEvent, idempotency },
      ];
    }
  }
  let entry: { stream: string; id: string } | undefined;
  if (queued) {
    try {
      entry = { stream: queued.stream, id: await producerOf(deps).emit(queued.stream, queued.event) };
    } catch (error) {
      log.error('job not queued: XADD failed', { error, stream: queued.stream, jobId, userId });
      throw queueUnavailable();
    }
  }
  const joins = waitFor?.kind === 'join' ? waitFor.maskJobId : undefined;
  const change = vtonChange(work, maskJobId !== undefined);
  // the work's keys are the verified copies', as the VTON holds them
  const expects = hinted && vton && work.kind === 'tryon' ? { garmentKey: work.garmentKey, personKey: vton.personKey, maskKey: vton.maskKey } : undefined;
  try {
    const written = await jobWrites(database).add({ userId, vtonId, targetVton, change, jobs, joins, expects, at: new Date() });
    if (!written) {
      // the hint no longer holds (or the joined mask job ended): the caller looks up instead
      if (hinted) throw new HintStale();
      // the joined mask job ended meanwhile: nothing was written, nothing queued
      if (joins) return undefined;
      // deleted since the check above
      throw noSuchVton(vtonId as string);
    }
  } catch (error) {
    if (entry) {
      const { stream, id } = entry;
      await producerOf(deps)
        .withdraw(stream, id)
        .catch((withdrawError) => log.warn('queued job not withdrawn; its consumer will find no job', { error: withdrawError, stream, jobId }));
    }
    if (idempotency && isIdempotencyConflict(error)) {
      // a concurrent request with the same key committed first: its job is the answer
      const winner = await earlierJob(deps, userId, idempotency);
      if (winner) return winner;
    }
    throw error;
  }
  if (entry) deps.metrics?.submissions.inc({ stream: entry.stream });
  log.info('job queued', {
    jobId,
    kind: work.kind,
    userId,
    vtonId: targetVton,
    ...(entry ? { stream: entry.stream } : {}),
    ...(maskJobId ? { waitingFor: maskJobId } : {}),
  });
  const job: SubmittedJob = { job_id: jobId, status: 'queued', kind: work.kind, vton_id: targetVton };
  if (work.kind !== 'tryon') return { job, replayed: false };
  // as the write left them (vtonChange): its photo; the mask given, none while one is made, or the old one if the photo was already its own
  const maskKey = 'mask_key' in change.keys ? (change.keys.mask_key ?? null) : vton?.personKey === work.personKey ? vton.maskKey : null;
  const left = {
    vton: { id: targetVton, personKey: work.personKey, maskKey },
    photoMask: maskJobId && waitFor?.kind === 'new' ? { jobId: maskJobId, status: 'queued' as const, resultKey: null } : photoMask,
  };
  return { job, replayed: false, left };
}

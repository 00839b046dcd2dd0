/**
 * One job submission under every route that creates work: the images are verified, then the
 * job row and its VTON change are written in one transaction that XADDs the CloudEvent before
 * it commits. If Redis refuses the XADD the transaction rolls back (503): no row without its
 * queue entry. The reverse (an entry whose row never commits) needs the XADD to succeed and
 * the COMMIT to fail; consumers treat an unknown job as stale.
 */
import { randomInt, randomUUID } from 'node:crypto';
import { problem } from '@proteus/common';
import type { JobsTable, VtonStatus } from '@proteus/common/db';
import { createEvent, createProducer, type EventData, keys, type Producer, type ProteusEvent } from '@proteus/eventing';
import type { Redis } from 'ioredis';
import type { Selectable } from 'kysely';
import type { ApiDeps } from '../env.ts';
import { verifyImage } from '../images/verify.ts';
import { kindOfKey } from './fields.ts';
import { type Idempotency, idempotencyKeyReused, isIdempotencyConflict } from './idempotency.ts';

export type SegmentWork = { kind: 'segment' } & Pick<EventData<'dev.proteus.segment.requested'>, 'imageKey' | 'purpose'>;
/** `seed` omitted: a random uint32 is drawn */
export type TryonWork = { kind: 'tryon' } & Omit<EventData<'dev.proteus.tryon.requested'>, 'jobId' | 'userId' | 'vtonId' | 'seed'> & {
    seed?: number | undefined;
  };

export interface Submission {
  userId: string;
  /** one of the caller's VTONs; undefined creates one */
  vtonId?: string | undefined;
  /** vtonId was just read from the caller's own VTONs: skip the look-up before the images are checked */
  vtonOwned?: boolean;
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

const queueUnavailable = () =>
  problem(
    503,
    'queue-unavailable',
    'Job queue unavailable',
    { detail: 'the job could not be queued; nothing was recorded, retry later' },
    { 'retry-after': '1' },
  );

const producers = new WeakMap<Redis, Producer>();

/** The deps' producer, else one per Redis connection (its trim-point cache is per producer). */
export function producerOf(deps: ApiDeps): Producer {
  if (deps.producer) return deps.producer;
  let producer = producers.get(deps.redis);
  if (!producer) {
    producer = createProducer(deps.redis);
    producers.set(deps.redis, producer);
  }
  return producer;
}

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

/** What the VTON becomes when this work is queued for it. */
function vtonChange(work: SegmentWork | TryonWork): { status: VtonStatus; keys: VtonKeys } {
  if (work.kind === 'segment') {
    // a new garment makes the old clean cut stale; a new person photo, the old mask
    return work.purpose === 'garment'
      ? { status: 'segmenting', keys: { garment_key: work.imageKey, cloth_clean_key: null } }
      : { status: 'segmenting', keys: { person_key: work.imageKey, mask_key: null } };
  }
  const changed: VtonKeys = { person_key: work.personKey, result_key: null };
  if (kindOfKey(work.garmentKey) === 'cloth_clean') changed.cloth_clean_key = work.garmentKey;
  else changed.garment_key = work.garmentKey;
  if (work.maskKey) changed.mask_key = work.maskKey;
  return { status: 'queued', keys: changed };
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
 * The job row and its VTON's change in one statement (a data-modifying CTE: atomic, one round
 * trip). False when the VTON to update is gone. The event is already queued: should this fail,
 * the caller withdraws it, and a consumer quick enough to read it first meets an unknown job,
 * which the /events sink answers 404 until the row exists (the stream source retries).
 */
async function writeJob(
  deps: ApiDeps,
  {
    jobId,
    userId,
    vtonId,
    targetVton,
    work,
    idempotency,
  }: { jobId: string; userId: string; vtonId: string | undefined; targetVton: string; work: SegmentWork | TryonWork; idempotency: Idempotency | undefined },
): Promise<boolean> {
  const now = new Date();
  const change = vtonChange(work);
  const db = deps.database.db;
  const vton =
    vtonId !== undefined
      ? db.with('v', (q) =>
          q
            .updateTable('vtons')
            .set({ ...change.keys, status: change.status, updated_at: now })
            .where('id', '=', vtonId)
            .where('user_id', '=', userId)
            .returning('id'),
        )
      : db.with('v', (q) =>
          q
            .insertInto('vtons')
            .values({ id: targetVton, user_id: userId, ...change.keys, status: change.status, created_at: now, updated_at: now })
            .returning('id'),
        );
  const inserted = await vton
    .insertInto('jobs')
    .columns(['id', 'user_id', 'vton_id', 'kind', 'status', 'enqueued_at', 'updated_at', 'idempotency_key', 'request_hash'])
    .expression((eb) =>
      eb
        .selectFrom('v')
        .select([
          eb.val(jobId).as('id'),
          eb.val(userId).as('user_id'),
          'v.id as vton_id',
          eb.val(work.kind).as('kind'),
          eb.val('queued').as('status'),
          eb.val(now).as('enqueued_at'),
          eb.val(now).as('updated_at'),
          eb.val(idempotency?.key ?? null).as('idempotency_key'),
          eb.val(idempotency?.requestHash ?? null).as('request_hash'),
        ]),
    )
    // the row itself, not the driver's count: PGlite reports no count for INSERT ... SELECT
    .returning('id')
    .executeTakeFirst();
  return inserted !== undefined;
}

export async function submitJob(deps: ApiDeps, { userId, vtonId, vtonOwned, work: given, idempotency }: Submission): Promise<SubmitResult> {
  const { database, log } = deps;
  if (idempotency) {
    const earlier = await earlierJob(deps, userId, idempotency);
    if (earlier) return earlier;
  }
  // a foreign or missing VTON is refused before any image work
  if (vtonId !== undefined && !vtonOwned) {
    const owned = await database.db.selectFrom('vtons').select('id').where('id', '=', vtonId).where('user_id', '=', userId).executeTakeFirst();
    if (!owned) throw noSuchVton(vtonId);
  }
  const work = await verifiedWork(deps, userId, given);

  const jobId = randomUUID();
  const targetVton = vtonId ?? randomUUID();
  const { stream, event } = eventOf(work, { jobId, userId, vtonId: targetVton });
  let entryId: string;
  try {
    entryId = await producerOf(deps).emit(stream, event);
  } catch (error) {
    log.error('job not queued: XADD failed', { error, stream, jobId, userId });
    throw queueUnavailable();
  }
  try {
    const written = await writeJob(deps, { jobId, userId, vtonId, targetVton, work, idempotency });
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
  log.info('job queued', { jobId, kind: work.kind, userId, vtonId: targetVton, stream });
  return { job: { job_id: jobId, status: 'queued', kind: work.kind, vton_id: targetVton }, replayed: false };
}

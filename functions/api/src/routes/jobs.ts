/**
 * Job submission and status, both route lists of the original design on one implementation
 * (jobs/submit.ts): `segformer/segmentOutfitPic` and `catvton/transferOutfit`, and the short
 * flow `upload/cloth` and `snap`; `status/:job_id` and `jobs?since=` read them back. Mounted at
 * /api; each route carries its own guard, so no wildcard middleware reaches other /api routes.
 */
import { problem } from '@proteus/common';
import { type DatabaseHandle, prepared } from '@proteus/common/db';
import { keys } from '@proteus/eventing';
import { type Context, Hono } from 'hono';
import { sql } from 'kysely';
import { z } from 'zod';
import { accountChecked, readAccount, requireAuth } from '../auth/require-auth.ts';
import type { Auth } from '../auth/settings.ts';
import { batchersOf } from '../batcher.ts';
import type { AppEnv } from '../env.ts';
import { ImageRejected } from '../images/rejected.ts';
import { cursorField, encodeCursor, microIso } from '../jobs/cursor.ts';
import { deadlineField, engineField, idField, landmarksField, objectKeyField, purposeField, seedField, stepsField } from '../jobs/fields.ts';
import { idempotencyOf } from '../jobs/idempotency.ts';
import { newestPhotoMask, type PhotoMask, type PhotoMaskRow, photoMaskOf, type VtonMask } from '../jobs/person-mask.ts';
import { keyOfReference } from '../jobs/references.ts';
import { SnapHints, snapHintsOf } from '../jobs/snap-hints.ts';
import { HintStale, type Submission, type SubmitResult, submitJob, type TryonWork } from '../jobs/submit.ts';
import { JOB_COLUMNS, jobView } from '../jobs/view.ts';
import { invalidRequest, json, jsonRequests, query } from '../validation.ts';

export const segmentBody = z.strictObject({ imageKey: objectKeyField, vtonId: idField.optional(), purpose: purposeField.default('garment') });

const tryonFields = {
  vtonId: idField.optional(),
  landmarks: landmarksField.optional(),
  seed: seedField.optional(),
};

export const transferBody = z.strictObject({
  ...tryonFields,
  personKey: objectKeyField,
  garmentKey: objectKeyField,
  maskKey: objectKeyField.optional(),
  steps: stepsField.optional(),
  engine: engineField.optional(),
  deadline: deadlineField.optional(),
});

export const clothBody = z.strictObject({ key: objectKeyField });

const reference = z.string().min(1).max(4096);
// either form, never a mix: the original design's URLs or our keys
export const snapBody = z
  .strictObject({
    ...tryonFields,
    user_photo_url: reference.optional(),
    cloth_clean_url: reference.optional(),
    personKey: objectKeyField.optional(),
    garmentKey: objectKeyField.optional(),
  })
  .superRefine((body, ctx) => {
    const urls = body.user_photo_url !== undefined || body.cloth_clean_url !== undefined;
    const required = urls ? (['user_photo_url', 'cloth_clean_url'] as const) : (['personKey', 'garmentKey'] as const);
    for (const field of required) if (body[field] === undefined) ctx.addIssue({ code: 'custom', path: [field], message: 'required' });
    if (urls) {
      for (const field of ['personKey', 'garmentKey'] as const) {
        if (body[field] !== undefined)
          ctx.addIssue({ code: 'custom', path: [field], message: 'send either user_photo_url and cloth_clean_url or personKey and garmentKey' });
      }
    }
  });

export const listQuery = z.strictObject({
  since: z.iso.datetime({ offset: true }).optional(),
  cursor: cursorField.optional(),
  limit: z.coerce.number().int().min(1).max(100).default(100),
});

const noSuchJob = (id: string) => problem(404, 'not-found', 'Not found', { detail: `no job ${JSON.stringify(id)}` });

function accepted(c: Context<AppEnv>, { job, replayed }: SubmitResult): Response {
  if (replayed) c.header('idempotent-replayed', 'true');
  return c.json(job, 202);
}

async function submit(c: Context<AppEnv>, submission: Omit<Submission, 'userId' | 'idempotency'>): Promise<Response> {
  const idempotency = await idempotencyOf(c);
  return accepted(c, await submitJob(c.get('deps'), { ...submission, userId: c.get('auth').userId, idempotency }));
}

/** The snap's two images as keys: URLs of our own storage become their keys. */
function snapKeys(c: Context<AppEnv>, body: z.output<typeof snapBody>): { personKey: string; garmentKey: string } {
  if (body.personKey && body.garmentKey) return { personKey: body.personKey, garmentKey: body.garmentKey };
  const { storage } = c.get('deps');
  const personKey = keyOfReference(storage, body.user_photo_url as string);
  const garmentKey = keyOfReference(storage, body.cloth_clean_url as string);
  const message = 'expected an object key or a URL of our storage whose path ends in one';
  const errors = [...(personKey ? [] : [{ path: 'user_photo_url', message }]), ...(garmentKey ? [] : [{ path: 'cloth_clean_url', message }])];
  if (errors.length) throw invalidRequest(errors);
  return { personKey: personKey as string, garmentKey: garmentKey as string };
}

type GarmentVton = { id: string } & VtonMask;
type SnapLookup = { account: { role: Auth['role'] } | undefined; vton: GarmentVton | undefined; photoMask: PhotoMask | undefined };

/**
 * For each snap asked for: its account (requireAuth leaves it to this statement), the newest VTON
 * of its (user, garment key), indexed on both garment columns, and its person photo's newest mask
 * job (jobs/person-mask.ts), in one query for many concurrent snaps (../batcher.ts).
 */
const snapLookups = batchersOf(async (database: DatabaseHandle, asked: readonly { userId: string; key: string; photo: string }[]): Promise<SnapLookup[]> => {
  const { rows } = await sql<
    { n: number; role: Auth['role'] | null; id: string | null; person_key: string | null; mask_key: string | null } & PhotoMaskRow
  >`${prepared}
    select c.n, u.role, v.id, v.person_key, v.mask_key, m.id as mask_id, m.status as mask_status, m.result_key as mask_result_key
    from jsonb_to_recordset(cast(${JSON.stringify(asked.map((a, n) => ({ n, user_id: a.userId, key: a.key, photo: a.photo })))} as jsonb))
      as c(n int, user_id text, key text, photo text)
    left join users as u on u.id = c.user_id
    left join lateral (
      select id, person_key, mask_key from vtons
      where user_id = c.user_id and (garment_key = c.key or cloth_clean_key = c.key)
      order by created_at desc, id desc
      limit 1
    ) as v on true
    left join lateral (${newestPhotoMask}) as m on true`.execute(database.db);
  const found: SnapLookup[] = asked.map(() => ({ account: undefined, vton: undefined, photoMask: undefined }));
  for (const row of rows) {
    found[row.n] = {
      account: row.role ? { role: row.role } : undefined,
      vton: row.id ? { id: row.id, personKey: row.person_key, maskKey: row.mask_key } : undefined,
      photoMask: photoMaskOf(row),
    };
  }
  return found;
});

// VTONs and jobs hold verified keys; the request may name the uploads
const verified = (key: string) => (keys.objectKeyPattern.test(key) ? keys.verifiedObjectKey(key) : key);

/**
 * A snap joins the caller's newest VTON made for this garment (as uploaded or cleaned), with
 * its person photo and mask (a snap of the same photo reuses the mask), and knows the person
 * photo's mask job: from the hint the last snap of these images left (jobs/snap-hints.ts), which
 * its write checks, or else from the look-up, which reads the account too. A stale hint is
 * forgotten and the look-up made after all, as is one whose images are refused meanwhile: a gone
 * account is answered 401 before an image's 404, hint or not.
 */
async function snap(c: Context<AppEnv>, work: TryonWork): Promise<Response> {
  const deps = c.get('deps');
  const { userId } = c.get('auth');
  const idempotency = await idempotencyOf(c);
  const hints = snapHintsOf(deps.database);
  const garment = verified(work.garmentKey);
  const photo = verified(work.personKey);
  const hintKey = SnapHints.key(userId, garment, photo);
  const hint = hints.get(hintKey);
  let result: SubmitResult | undefined;
  if (hint) {
    const { vton, photoMask } = hint;
    try {
      result = await submitJob(deps, { userId, vtonId: vton.id, ownedVton: vton, photo: { mask: photoMask }, hinted: true, work, idempotency });
    } catch (error) {
      if (!(error instanceof HintStale || error instanceof ImageRejected)) throw error;
      hints.delete(hintKey);
    }
  }
  deps.metrics?.snapHints.inc({ outcome: result ? 'hit' : hint ? 'stale' : 'miss' });
  if (!result) {
    const { account, vton, photoMask } = await snapLookups(deps.database).add({ userId, key: garment, photo });
    accountChecked(c, account);
    result = await submitJob(deps, { userId, vtonId: vton?.id, ownedVton: vton, photo: { mask: photoMask }, work, idempotency });
  }
  if (result.left) hints.set(hintKey, result.left);
  return accepted(c, result);
}

export const jobRoutes = new Hono<AppEnv>()
  .post('/segformer/segmentOutfitPic', requireAuth(), jsonRequests, json(segmentBody), (c) => {
    const { imageKey, vtonId, purpose } = c.req.valid('json');
    return submit(c, { vtonId, work: { kind: 'segment', imageKey, purpose } });
  })
  .post('/catvton/transferOutfit', requireAuth(), jsonRequests, json(transferBody), (c) => {
    const { vtonId, ...work } = c.req.valid('json');
    return submit(c, { vtonId, work: { kind: 'tryon', ...work } });
  })
  .post('/upload/cloth', requireAuth(), jsonRequests, json(clothBody), (c) => {
    return submit(c, { work: { kind: 'segment', imageKey: c.req.valid('json').key, purpose: 'garment' } });
  })
  // the look-up reads the account too: a gone one is refused before any effect (and before a foreign garment's 404)
  .post('/snap', requireAuth({ accountInRoute: true }), jsonRequests, json(snapBody), async (c) => {
    const body = c.req.valid('json');
    const { personKey, garmentKey } = snapKeys(c, body);
    const foreign = !garmentKey.startsWith(keys.userPrefix(c.get('auth').userId));
    if (foreign || body.vtonId) await readAccount(c);
    // a garment that is not the caller's answers like a missing one, before any VTON look-up
    if (foreign) throw new ImageRejected('image-not-found', `no image ${JSON.stringify(garmentKey)}`);
    const work = { kind: 'tryon' as const, personKey, garmentKey, landmarks: body.landmarks, seed: body.seed };
    if (body.vtonId) return submit(c, { vtonId: body.vtonId, work });
    // found among the caller's own: no second ownership check (the write is owner-scoped anyway)
    return snap(c, work);
  })
  .get('/status/:job_id', requireAuth(), async (c) => {
    const id = c.req.param('job_id');
    if (!keys.idPattern.test(id)) throw noSuchJob(id);
    const deps = c.get('deps');
    const row = await deps.database.db
      .selectFrom('jobs')
      .select(JOB_COLUMNS)
      .where('id', '=', id)
      .where('user_id', '=', c.get('auth').userId)
      .executeTakeFirst();
    if (!row) throw noSuchJob(id);
    return c.json(await jobView(deps, row));
  })
  .get('/jobs', requireAuth(), query(listQuery), async (c) => {
    const { since, cursor, limit } = c.req.valid('query');
    const deps = c.get('deps');
    let q = deps.database.db
      .selectFrom('jobs')
      .select([...JOB_COLUMNS, microIso('updated_at').as('position')])
      .where('user_id', '=', c.get('auth').userId)
      .orderBy('updated_at')
      .orderBy('id')
      .limit(limit + 1);
    if (since !== undefined) q = q.where('updated_at', '>', new Date(since));
    if (cursor !== undefined) q = q.where(sql<boolean>`(updated_at, id) > (${cursor.at}::timestamptz, ${cursor.id})`);
    const rows = await q.execute();
    const page = rows.slice(0, limit);
    const last = page.at(-1);
    return c.json({
      items: await Promise.all(page.map((row) => jobView(deps, row))),
      // also when no more rows are waiting: a client that reconnects later resumes from here
      nextCursor: last ? encodeCursor({ at: last.position, id: last.id }) : (c.req.query('cursor') ?? null),
      hasMore: rows.length > limit,
    });
  });

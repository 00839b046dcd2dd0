/**
 * /api/vtons: the caller's try-on records. Every query names the owner, so another user's id
 * answers 404 like a missing one. Clients set only the input images; status, the cleaned
 * garment and the result are written by jobs and are read-only here.
 */
import { randomUUID } from 'node:crypto';
import type { VtonsTable } from '@proteus/common/db';
import { keys } from '@proteus/eventing';
import { Hono } from 'hono';
import { type RawBuilder, type Selectable, sql } from 'kysely';
import { z } from 'zod';
import { requireAuth } from '../auth/require-auth.ts';
import type { AppEnv } from '../env.ts';
import { ImageRejected } from '../images/rejected.ts';
import { cursorField, encodeCursor, microIso } from '../jobs/cursor.ts';
import { objectKeyField } from '../jobs/fields.ts';
import { noSuchVton } from '../jobs/submit.ts';
import { json, jsonRequests, query } from '../validation.ts';

export const createBody = z.strictObject({ garmentKey: objectKeyField.optional(), personKey: objectKeyField.optional() });

export const patchBody = z
  .strictObject({
    garmentKey: objectKeyField.nullable().optional(),
    personKey: objectKeyField.nullable().optional(),
    maskKey: objectKeyField.nullable().optional(),
  })
  // only for an otherwise valid body: unknown fields are the problem to report, not "nothing to change"
  .refine((body) => Object.values(body).some((v) => v !== undefined), {
    error: 'nothing to change: send garmentKey, personKey or maskKey',
    when: (payload) => payload.issues.length === 0,
  });

export const listQuery = z.strictObject({
  limit: z.coerce.number().int().min(1).max(100).default(50),
  cursor: cursorField.optional(),
});

const VTON_COLUMNS = ['id', 'garment_key', 'cloth_clean_key', 'person_key', 'mask_key', 'result_key', 'status', 'created_at', 'updated_at'] as const;
type VtonRow = Pick<Selectable<VtonsTable>, (typeof VTON_COLUMNS)[number]>;

const vtonView = (row: VtonRow) => ({
  id: row.id,
  garmentKey: row.garment_key,
  clothCleanKey: row.cloth_clean_key,
  personKey: row.person_key,
  maskKey: row.mask_key,
  resultKey: row.result_key,
  status: row.status,
  createdAt: row.created_at.toISOString(),
  updatedAt: row.updated_at.toISOString(),
});

/** Keys outside the caller's prefix answer as a missing image: nobody learns what others store. */
function requireOwnKeys(userId: string, given: (string | null | undefined)[]) {
  for (const key of given) {
    if (key && !key.startsWith(keys.userPrefix(userId))) throw new ImageRejected('image-not-found', `no image ${JSON.stringify(key)}`);
  }
}

function vtonId(id: string): string {
  if (!keys.idPattern.test(id)) throw noSuchVton(id);
  return id;
}

export const vtonRoutes = new Hono<AppEnv>()
  // who asks is settled before any body is read
  .use(requireAuth())
  .use(jsonRequests)
  .post('/', json(createBody), async (c) => {
    const { userId } = c.get('auth');
    const body = c.req.valid('json');
    requireOwnKeys(userId, [body.garmentKey, body.personKey]);
    const { db } = c.get('deps').database;
    const row = await db
      .insertInto('vtons')
      .values({ id: randomUUID(), user_id: userId, garment_key: body.garmentKey ?? null, person_key: body.personKey ?? null, status: 'draft' })
      .returning(VTON_COLUMNS)
      .executeTakeFirstOrThrow();
    return c.json(vtonView(row), 201);
  })
  .get('/', query(listQuery), async (c) => {
    const { limit, cursor } = c.req.valid('query');
    const { db } = c.get('deps').database;
    let q = db
      .selectFrom('vtons')
      .select([...VTON_COLUMNS, microIso('created_at').as('position')])
      .where('user_id', '=', c.get('auth').userId)
      .orderBy('created_at', 'desc')
      .orderBy('id', 'desc')
      .limit(limit + 1);
    if (cursor !== undefined) q = q.where(sql<boolean>`(created_at, id) < (${cursor.at}::timestamptz, ${cursor.id})`);
    const rows = await q.execute();
    const page = rows.slice(0, limit);
    const last = page.at(-1);
    const nextCursor = rows.length > limit && last ? encodeCursor({ at: last.position, id: last.id }) : null;
    return c.json({ items: page.map(vtonView), nextCursor });
  })
  .get('/:id', async (c) => {
    const id = vtonId(c.req.param('id'));
    const { db } = c.get('deps').database;
    const row = await db.selectFrom('vtons').select(VTON_COLUMNS).where('id', '=', id).where('user_id', '=', c.get('auth').userId).executeTakeFirst();
    if (!row) throw noSuchVton(id);
    return c.json(vtonView(row));
  })
  .patch('/:id', json(patchBody), async (c) => {
    const id = vtonId(c.req.param('id'));
    const { userId } = c.get('auth');
    const body = c.req.valid('json');
    // the VTON first: a foreign id is 404 whatever the body names
    const exists = await c.get('deps').database.db.selectFrom('vtons').select('id').where('id', '=', id).where('user_id', '=', userId).executeTakeFirst();
    if (!exists) throw noSuchVton(id);
    requireOwnKeys(userId, [body.garmentKey, body.personKey, body.maskKey]);
    const changes: { garment_key?: string | null; person_key?: string | null; mask_key?: string | null | RawBuilder<string | null>; updated_at: Date } = {
      updated_at: new Date(),
    };
    if (body.garmentKey !== undefined) changes.garment_key = body.garmentKey;
    if (body.personKey !== undefined) changes.person_key = body.personKey;
    if (body.maskKey !== undefined) changes.mask_key = body.maskKey;
    // a mask fits the photo it was made from (try-ons reuse it): another photo without a mask drops it
    else if (body.personKey !== undefined) changes.mask_key = sql<string | null>`case when person_key is not distinct from ${body.personKey} then mask_key end`;
    const { db } = c.get('deps').database;
    const row = await db.updateTable('vtons').set(changes).where('id', '=', id).where('user_id', '=', userId).returning(VTON_COLUMNS).executeTakeFirst();
    if (!row) throw noSuchVton(id);
    return c.json(vtonView(row));
  })
  .delete('/:id', async (c) => {
    const id = vtonId(c.req.param('id'));
    // its jobs go with it (on delete cascade)
    const deleted = await c.get('deps').database.db.deleteFrom('vtons').where('id', '=', id).where('user_id', '=', c.get('auth').userId).executeTakeFirst();
    if (deleted.numDeletedRows === 0n) throw noSuchVton(id);
    return c.body(null, 204);
  });

/**
 * API keys of the caller: created (the key shown once), listed (never the key or its hash),
 * revoked. Only a bearer access token manages keys: a key cannot mint or revoke keys.
 * Another user's key id answers 404, the same as an id that does not exist.
 */
import { problem } from '@proteus/common';
import { Hono } from 'hono';
import { z } from 'zod';
import { createApiKey } from '../auth/api-keys.ts';
import { requireAuth } from '../auth/require-auth.ts';
import type { AppEnv } from '../env.ts';
import { json, jsonRequests } from '../validation.ts';

/** live keys per account; a leaked account cannot mint keys without bound */
export const MAX_API_KEYS = 50;

export const createBody = z.strictObject({ name: z.string().trim().min(1).max(100) });
const uuid = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

const listed = (row: { id: string; name: string; created_at: Date; last_used_at: Date | null }) => ({
  id: row.id,
  name: row.name,
  createdAt: row.created_at.toISOString(),
  lastUsedAt: row.last_used_at?.toISOString() ?? null,
});

const noSuchKey = (id: string) => problem(404, 'not-found', 'Not found', { detail: `no API key ${JSON.stringify(id)}` });

export const apiKeyRoutes = new Hono<AppEnv>()
  // who asks is settled before any body is read
  .use(requireAuth({ apiKeys: false }))
  .use(jsonRequests)
  .post('/', json(createBody), async (c) => {
    const { database, log } = c.get('deps');
    const { userId } = c.get('auth');
    const { count } = await database.db
      .selectFrom('api_keys')
      .where('user_id', '=', userId)
      .where('revoked_at', 'is', null)
      .select((eb) => eb.fn.countAll<string | number>().as('count'))
      .executeTakeFirstOrThrow();
    // pg answers counts as strings, PGlite as numbers
    if (Number(count) >= MAX_API_KEYS)
      throw problem(409, 'too-many-api-keys', 'Too many API keys', { detail: `at most ${MAX_API_KEYS} live keys; revoke one first` });
    const { key, row } = await createApiKey(database, userId, c.req.valid('json').name);
    log.info('api key created', { userId, keyId: row.id });
    return c.json({ ...listed(row), key }, 201);
  })
  .get('/', async (c) => {
    const { db } = c.get('deps').database;
    const rows = await db
      .selectFrom('api_keys')
      .select(['id', 'name', 'created_at', 'last_used_at'])
      .where('user_id', '=', c.get('auth').userId)
      .where('revoked_at', 'is', null)
      .orderBy('created_at')
      .orderBy('id')
      .execute();
    return c.json({ items: rows.map(listed) });
  })
  .delete('/:id', async (c) => {
    const id = c.req.param('id');
    if (!uuid.test(id)) throw noSuchKey(id);
    const { database, log } = c.get('deps');
    const revoked = await database.db
      .updateTable('api_keys')
      .set({ revoked_at: new Date() })
      .where('id', '=', id)
      .where('user_id', '=', c.get('auth').userId)
      .where('revoked_at', 'is', null)
      .executeTakeFirst();
    if (revoked.numUpdatedRows === 0n) throw noSuchKey(id);
    log.info('api key revoked', { userId: c.get('auth').userId, keyId: id });
    return c.body(null, 204);
  });

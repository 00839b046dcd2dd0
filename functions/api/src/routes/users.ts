/**
 * The caller's own account (`/me`) and the admin listing. Bodies are strict: role, email, id
 * and anything else unknown are rejected, never silently dropped.
 */
import { problem } from '@proteus/common';
import { Hono } from 'hono';
import { z } from 'zod';
import { accountRef, displayNameField, givenPasswordField, newPasswordField, publicUser, USER_COLUMNS } from '../auth/accounts.ts';
import { hashPassword, verifyPassword } from '../auth/passwords.ts';
import { hit, rateLimited } from '../auth/rate-limit.ts';
import { requireAuth } from '../auth/require-auth.ts';
import { revokeAllRefreshTokens } from '../auth/tokens.ts';
import type { AppEnv } from '../env.ts';
import { json, jsonRequests, query } from '../validation.ts';

export const patchBody = z
  .strictObject({
    displayName: displayNameField.nullable().optional(),
    password: newPasswordField.optional(),
    currentPassword: givenPasswordField.optional(),
  })
  .refine((body) => body.password === undefined || body.currentPassword !== undefined, { path: ['currentPassword'], error: 'required to change the password' })
  // only for an otherwise valid body: unknown fields are the problem to report, not "nothing to change"
  .refine((body) => body.displayName !== undefined || body.password !== undefined, {
    error: 'nothing to change: send displayName or password',
    when: (payload) => payload.issues.length === 0,
  });

// the listing is ordered by e-mail (unique), so the cursor is the last e-mail seen, opaque to clients
export const listQuery = z.strictObject({
  limit: z.coerce.number().int().min(1).max(100).default(50),
  cursor: z
    .string()
    .max(400)
    .transform((v, ctx) => {
      const email = Buffer.from(v, 'base64url').toString('utf8');
      if (!v || Buffer.from(email, 'utf8').toString('base64url') !== v) {
        ctx.addIssue({ code: 'custom', message: 'not a cursor this API gave out' });
        return z.NEVER;
      }
      return email;
    })
    .optional(),
});

const noSuchAccount = () =>
  problem(401, 'unauthorized', 'Unauthorized', { detail: 'the account no longer exists' }, { 'www-authenticate': 'Bearer error="invalid_token"' });

export const userRoutes = new Hono<AppEnv>()
  // who asks is settled before any body is read
  .use(requireAuth({ apiKeys: false }))
  .use(jsonRequests)
  .get('/me', async (c) => {
    const row = await c.get('deps').database.db.selectFrom('users').select(USER_COLUMNS).where('id', '=', c.get('auth').userId).executeTakeFirst();
    if (!row) throw noSuchAccount();
    return c.json(publicUser(row));
  })
  .patch('/me', json(patchBody), async (c) => {
    const { database, redis, auth: settings, log } = c.get('deps');
    const body = c.req.valid('json');
    const { userId } = c.get('auth');
    const current = await database.db.selectFrom('users').select(['email', 'password_hash']).where('id', '=', userId).executeTakeFirst();
    if (!current) throw noSuchAccount();
    const changes: { display_name?: string | null; password_hash?: string; updated_at: Date } = { updated_at: new Date() };
    if (body.displayName !== undefined) changes.display_name = body.displayName;
    if (body.password !== undefined) {
      // a stolen access token must not make guessing the current password cheap: the login limit applies
      const attempt = await hit(redis, 'login-account', accountRef(current.email), settings.loginLimit, settings.loginWindowS);
      if (!attempt.allowed) throw rateLimited(attempt.retryAfterS, `at most ${settings.loginLimit} password attempts per ${settings.loginWindowS} s`);
      if (!(await verifyPassword(current.password_hash, body.currentPassword as string))) {
        throw problem(403, 'invalid-credentials', 'Invalid credentials', { detail: 'currentPassword is wrong' });
      }
      changes.password_hash = await hashPassword(body.password);
    }
    const row = await database.db.updateTable('users').set(changes).where('id', '=', userId).returning(USER_COLUMNS).executeTakeFirst();
    if (!row) throw noSuchAccount();
    if (body.password !== undefined) {
      // every other session ends: refresh tokens are revoked, access tokens run out within their TTL
      await revokeAllRefreshTokens(database, userId);
      log.info('password changed', { userId });
    }
    return c.json(publicUser(row));
  })
  .delete('/me', async (c) => {
    const { database, log } = c.get('deps');
    const { userId } = c.get('auth');
    // refresh tokens and API keys go with the row (on delete cascade)
    const deleted = await database.db.deleteFrom('users').where('id', '=', userId).executeTakeFirst();
    if (deleted.numDeletedRows === 0n) throw noSuchAccount();
    log.info('account deleted', { userId });
    return c.body(null, 204);
  })
  .get('/', requireAuth({ apiKeys: false, role: 'admin' }), query(listQuery), async (c) => {
    const { limit, cursor } = c.req.valid('query');
    const { db } = c.get('deps').database;
    let q = db
      .selectFrom('users')
      .select(USER_COLUMNS)
      .orderBy('email')
      .limit(limit + 1);
    if (cursor !== undefined) q = q.where('email', '>', cursor);
    const rows = await q.execute();
    const page = rows.slice(0, limit);
    const last = page.at(-1);
    const nextCursor = rows.length > limit && last ? Buffer.from(last.email, 'utf8').toString('base64url') : null;
    return c.json({ items: page.map(publicUser), nextCursor });
  });

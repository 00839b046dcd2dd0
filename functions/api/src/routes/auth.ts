/**
 * Sign-up, login, refresh and logout. Login answers the same 401 for an unknown e-mail and a
 * wrong password, in the same time, and is rate-limited per account and per client IP.
 */
import { randomUUID } from 'node:crypto';
import { problem } from '@proteus/common';
import { Hono } from 'hono';
import { z } from 'zod';
import { accountRef, displayNameField, emailField, givenPasswordField, newPasswordField, publicUser, USER_COLUMNS } from '../auth/accounts.ts';
import { clientIp } from '../auth/client-ip.ts';
import { hashPassword, verifyPassword } from '../auth/passwords.ts';
import { hit, rateLimited, resetLimit } from '../auth/rate-limit.ts';
import { sha256Hex } from '../auth/secrets.ts';
import { issueTokens, revokeRefreshToken, rotateRefreshToken } from '../auth/tokens.ts';
import type { AppEnv } from '../env.ts';
import { json, jsonRequests } from '../validation.ts';

export const signupBody = z.strictObject({ email: emailField, password: newPasswordField, displayName: displayNameField.optional() });
export const loginBody = z.strictObject({ email: emailField, password: givenPasswordField });
export const refreshBody = z.strictObject({ refreshToken: z.string().min(1).max(512) });

const invalidCredentials = () => problem(401, 'invalid-credentials', 'Invalid credentials', { detail: 'the e-mail address or the password is wrong' });

export const authRoutes = new Hono<AppEnv>()
  .use(jsonRequests)
  .post('/signup', json(signupBody), async (c) => {
    const { database, auth: settings, log } = c.get('deps');
    const body = c.req.valid('json');
    const row = await database.db
      .insertInto('users')
      .values({
        id: randomUUID(),
        email: body.email,
        password_hash: await hashPassword(body.password),
        role: settings.adminEmails.includes(body.email) ? 'admin' : 'user',
        display_name: body.displayName ?? null,
      })
      // the same on PostgreSQL and PGlite, and no error to parse
      .onConflict((oc) => oc.column('email').doNothing())
      .returning(USER_COLUMNS)
      .executeTakeFirst();
    if (!row) throw problem(409, 'email-taken', 'E-mail address taken', { detail: 'an account with this e-mail address exists' });
    log.info('account created', { userId: row.id, role: row.role });
    return c.json({ user: publicUser(row), ...(await issueTokens(c.get('deps'), row)) }, 201);
  })
  .post('/login', json(loginBody), async (c) => {
    const { database, redis, auth: settings, log } = c.get('deps');
    const { email, password } = c.req.valid('json');
    const account = accountRef(email);
    const ip = clientIp(c, settings.trustedProxies);
    // every attempt counts, before any password work; a success clears its account's count
    const hits = await Promise.all([
      hit(redis, 'login-account', account, settings.loginLimit, settings.loginWindowS),
      hit(redis, 'login-ip', sha256Hex(`ip:${ip}`).slice(0, 32), settings.loginLimit, settings.loginWindowS),
    ]);
    const blocked = hits.filter((h) => !h.allowed);
    if (blocked.length) {
      log.warn('login rate-limited', { account, byAccount: !hits[0]?.allowed, byIp: !hits[1]?.allowed });
      throw rateLimited(Math.max(...blocked.map((h) => h.retryAfterS)), `at most ${settings.loginLimit} login attempts per ${settings.loginWindowS} s`);
    }
    const user = await database.db
      .selectFrom('users')
      .select([...USER_COLUMNS, 'password_hash'])
      .where('email', '=', email)
      .executeTakeFirst();
    if (!(await verifyPassword(user?.password_hash, password)) || !user) {
      log.info('login failed', { account });
      throw invalidCredentials();
    }
    await resetLimit(redis, 'login-account', account);
    log.info('logged in', { userId: user.id });
    return c.json({ user: publicUser(user), ...(await issueTokens(c.get('deps'), user)) });
  })
  .post('/refresh', json(refreshBody), async (c) => {
    return c.json(await rotateRefreshToken(c.get('deps'), c.req.valid('json').refreshToken));
  })
  .post('/logout', json(refreshBody), async (c) => {
    await revokeRefreshToken(c.get('deps').database, c.req.valid('json').refreshToken);
    return c.body(null, 204);
  });

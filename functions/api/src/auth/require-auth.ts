/**
 * `requireAuth()` guards a route: `Authorization: Bearer <access token | API key>`. It sets
 * `c.get('auth')`, checks the role, and counts the request against its principal's rate limit.
 */
import { problem } from '@proteus/common';
import { type DatabaseHandle, prepared, type UsersTable } from '@proteus/common/db';
import { createMiddleware } from 'hono/factory';
import { type Selectable, sql } from 'kysely';
import { batchersOf } from '../batcher.ts';
import type { AppEnv } from '../env.ts';
import { authenticateApiKey, isApiKey } from './api-keys.ts';
import { type Hit, hit, rateLimited } from './rate-limit.ts';
import type { Auth } from './settings.ts';
import { verifyAccessToken } from './tokens.ts';

type Account = Pick<Selectable<UsersTable>, 'id' | 'role'>;

/** The accounts of many concurrent requests in one query (../batcher.ts). */
const accounts = batchersOf(async (database: DatabaseHandle, ids: readonly string[]): Promise<(Account | undefined)[]> => {
  const { rows } = await sql<Account>`${prepared} select id, role from users where id = any(cast(${[...new Set(ids)]} as text[]))`.execute(database.db);
  const byId = new Map(rows.map((row) => [row.id, row]));
  return ids.map((id) => byId.get(id));
});

export interface RequireAuthOptions {
  /** accept API keys (shop backends); account and key management set this false */
  apiKeys?: boolean;
  /** the role required, if any */
  role?: Auth['role'];
}

// RFC 6750 §3: no error code when the request carried no credentials at all
const unauthorized = (detail: string, error?: 'invalid_token' | 'invalid_request') =>
  problem(401, 'unauthorized', 'Unauthorized', { detail }, { 'www-authenticate': error ? `Bearer error="${error}"` : 'Bearer' });

export const forbidden = (detail: string) => problem(403, 'forbidden', 'Forbidden', { detail });

export function requireAuth({ apiKeys = true, role }: RequireAuthOptions = {}) {
  return createMiddleware<AppEnv>(async function authenticate(c, next) {
    // already authenticated by a guard of the whole router: only this route's own conditions remain
    const known = c.get('auth') as Auth | undefined;
    if (known) {
      if (known.via === 'api-key' && !apiKeys) throw forbidden('API keys cannot manage accounts or keys; use a bearer access token');
      if (role && known.role !== role) throw forbidden(`requires the ${role} role`);
      return next();
    }
    const { database, redis, auth: settings } = c.get('deps');
    const header = c.req.header('authorization');
    if (!header) throw unauthorized('an Authorization: Bearer header is required');
    const match = /^Bearer +(\S+)$/i.exec(header);
    if (!match) throw unauthorized('expected Authorization: Bearer <token>', 'invalid_request');
    const credential = match[1] as string;

    // a request counts as soon as its principal is known; a refusal before the count is read leaves it unread
    const counted = (scope: Parameters<typeof hit>[1], id: string) => {
      const counting = hit(redis, scope, id, settings.ratePerMinute, 60);
      counting.catch(() => {});
      return counting;
    };
    let auth: Auth;
    let limit: Promise<Hit>;
    if (isApiKey(credential)) {
      const key = await authenticateApiKey(database, credential);
      if (!key) throw unauthorized('the API key is invalid or revoked', 'invalid_token');
      auth = { userId: key.userId, role: key.role, via: 'api-key', keyId: key.keyId };
      limit = counted('api-key', key.keyId);
    } else {
      const claims = await verifyAccessToken(settings, credential);
      if (!claims) throw unauthorized('the access token is invalid or expired', 'invalid_token');
      // counted while the account is read: one round trip of waiting instead of two
      limit = counted('user', claims.userId);
      // the account may be gone since the token was issued; its role is read fresh too
      const user = await accounts(database).add(claims.userId);
      if (!user) throw unauthorized('the account no longer exists', 'invalid_token');
      auth = { userId: user.id, role: user.role, via: 'token' };
    }

    if (auth.via === 'api-key' && !apiKeys) throw forbidden('API keys cannot manage accounts or keys; use a bearer access token');
    if (role && auth.role !== role) throw forbidden(`requires the ${role} role`);

    const { allowed, retryAfterS } = await limit;
    if (!allowed) throw rateLimited(retryAfterS, `at most ${settings.ratePerMinute} requests a minute`);

    c.set('auth', auth);
    await next();
  });
}

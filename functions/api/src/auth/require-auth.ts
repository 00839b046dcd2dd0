/**
 * `requireAuth()` guards a route: `Authorization: Bearer <access token | API key>`. It sets
 * `c.get('auth')`, checks the role, and counts the request against its principal's rate limit.
 * An access token's account is read fresh (it may be gone, its role changed), unless the route
 * reads it in its own first statement (`accountInRoute`, see accountChecked).
 */
import { problem } from '@proteus/common';
import { type DatabaseHandle, prepared, type UsersTable } from '@proteus/common/db';
import type { Context } from 'hono';
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
  /**
   * An access token's account is left for the route to read, with its first statement and before
   * any effect: accountChecked() on what that statement found, or readAccount(). One statement
   * fewer a request (the snap). Until then `auth.role` is the token's; not with `role`.
   */
  accountInRoute?: boolean;
}

// RFC 6750 §3: no error code when the request carried no credentials at all
const unauthorized = (detail: string, error?: 'invalid_token' | 'invalid_request') =>
  problem(401, 'unauthorized', 'Unauthorized', { detail }, { 'www-authenticate': error ? `Bearer error="${error}"` : 'Bearer' });

export const forbidden = (detail: string) => problem(403, 'forbidden', 'Forbidden', { detail });

const accountGone = () => unauthorized('the account no longer exists', 'invalid_token');

/** The request's account as its route's own statement read it (undefined: gone, refused). */
export function accountChecked(c: Context<AppEnv>, account: { role: Auth['role'] } | undefined): void {
  const auth = c.get('auth');
  if (!auth.accountUnread) return;
  if (!account) throw accountGone();
  c.set('auth', { userId: auth.userId, role: account.role, via: 'token' });
}

/** Reads the account a guard with `accountInRoute` left unread (a route taking another path). */
export async function readAccount(c: Context<AppEnv>): Promise<void> {
  const auth = c.get('auth');
  if (!auth.accountUnread) return;
  const user = await accounts(c.get('deps').database).add(auth.userId);
  if (!user) throw accountGone();
  c.set('auth', { userId: user.id, role: user.role, via: 'token' });
}

export function requireAuth({ apiKeys = true, role, accountInRoute = false }: RequireAuthOptions = {}) {
  if (accountInRoute && role) throw new Error('requireAuth: a required role needs the account read before the route');
  return createMiddleware<AppEnv>(async function authenticate(c, next) {
    // already authenticated by a guard of the whole router: only this route's own conditions remain
    if (c.get('auth') as Auth | undefined) {
      if (!accountInRoute) await readAccount(c);
      const known = c.get('auth');
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
      if (accountInRoute) {
        auth = { userId: claims.userId, role: claims.role, via: 'token', accountUnread: true };
      } else {
        // the account may be gone since the token was issued; its role is read fresh too
        const user = await accounts(database).add(claims.userId);
        if (!user) throw accountGone();
        auth = { userId: user.id, role: user.role, via: 'token' };
      }
    }

    if (auth.via === 'api-key' && !apiKeys) throw forbidden('API keys cannot manage accounts or keys; use a bearer access token');
    if (role && auth.role !== role) throw forbidden(`requires the ${role} role`);

    const { allowed, retryAfterS } = await limit;
    if (!allowed) throw rateLimited(retryAfterS, `at most ${settings.ratePerMinute} requests a minute`);

    c.set('auth', auth);
    await next();
  });
}

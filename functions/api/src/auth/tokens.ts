/**
 * Access tokens: HS256 JWTs, the algorithm pinned on both sides, `exp` and `typ: 'access'`
 * required. Refresh tokens: opaque random strings stored as sha256, rotated on every use; a
 * rotated (revoked) token presented again means it was stolen, so every refresh token of its
 * user is revoked (OAuth 2.0 Security BCP, refresh token rotation).
 */
import { randomUUID } from 'node:crypto';
import { ACCESS_TOKEN_ALG, problem, type Role, verifyAccessToken as verifyShared } from '@proteus/common';
import type { DatabaseHandle } from '@proteus/common/db';
import { sign } from 'hono/jwt';
import type { ApiDeps } from '../env.ts';
import { randomSecret, sha256Hex } from './secrets.ts';
import type { AuthSettings } from './settings.ts';

export const ACCESS_ALG = ACCESS_TOKEN_ALG;

export interface TokenPair {
  accessToken: string;
  refreshToken: string;
  tokenType: 'Bearer';
  /** access token lifetime, seconds */
  expiresIn: number;
}

export function signAccessToken(settings: AuthSettings, user: { id: string; role: Role }, now = Math.floor(Date.now() / 1000)): Promise<string> {
  return sign({ sub: user.id, role: user.role, typ: 'access', iat: now, exp: now + settings.accessTtlS }, settings.jwtSecret, ACCESS_ALG);
}

/** The token's subject and role, or undefined for anything not a valid, unexpired access token. */
export async function verifyAccessToken(settings: AuthSettings, token: string): Promise<{ userId: string; role: Role } | undefined> {
  const claims = await verifyShared(settings.jwtSecret, token);
  return claims && { userId: claims.userId, role: claims.role };
}

/** A new refresh token for `userId`, stored as its hash. */
async function newRefreshToken(database: DatabaseHandle, settings: AuthSettings, userId: string): Promise<string> {
  const token = randomSecret();
  await database.db
    .insertInto('refresh_tokens')
    .values({ id: randomUUID(), user_id: userId, token_hash: sha256Hex(token), expires_at: new Date(Date.now() + settings.refreshTtlS * 1000) })
    .execute();
  return token;
}

export async function issueTokens(deps: Pick<ApiDeps, 'database' | 'auth'>, user: { id: string; role: Role }): Promise<TokenPair> {
  return {
    accessToken: await signAccessToken(deps.auth, user),
    refreshToken: await newRefreshToken(deps.database, deps.auth, user.id),
    tokenType: 'Bearer',
    expiresIn: deps.auth.accessTtlS,
  };
}

const invalidRefresh = () => problem(401, 'invalid-refresh-token', 'Invalid refresh token', { detail: 'the refresh token is unknown, expired or revoked' });

export async function revokeAllRefreshTokens(database: DatabaseHandle, userId: string): Promise<void> {
  await database.db.updateTable('refresh_tokens').set({ revoked_at: new Date() }).where('user_id', '=', userId).where('revoked_at', 'is', null).execute();
}

/** Trades a refresh token for a new pair; the old one is revoked. */
export async function rotateRefreshToken(deps: Pick<ApiDeps, 'database' | 'auth' | 'log'>, token: string): Promise<TokenPair> {
  const { db } = deps.database;
  const row = await db
    .selectFrom('refresh_tokens')
    .select(['id', 'user_id', 'expires_at', 'revoked_at'])
    .where('token_hash', '=', sha256Hex(token))
    .executeTakeFirst();
  if (!row) throw invalidRefresh();
  const reused = async () => {
    await revokeAllRefreshTokens(deps.database, row.user_id);
    deps.log.warn('refresh token reused: all of the user’s refresh tokens revoked', { userId: row.user_id, sessionId: row.id });
    return invalidRefresh();
  };
  if (row.revoked_at) throw await reused();
  if (row.expires_at.getTime() <= Date.now()) throw invalidRefresh();
  // only one of two concurrent uses wins the update; the other counts as reuse
  const revoked = await db
    .updateTable('refresh_tokens')
    .set({ revoked_at: new Date() })
    .where('id', '=', row.id)
    .where('revoked_at', 'is', null)
    .executeTakeFirst();
  if (revoked.numUpdatedRows === 0n) throw await reused();
  const user = await db.selectFrom('users').select(['id', 'role']).where('id', '=', row.user_id).executeTakeFirst();
  if (!user) throw invalidRefresh();
  return issueTokens(deps, user);
}

/** Revokes one refresh token; unknown tokens are ignored (logout answers the same either way). */
export async function revokeRefreshToken(database: DatabaseHandle, token: string): Promise<void> {
  await database.db
    .updateTable('refresh_tokens')
    .set({ revoked_at: new Date() })
    .where('token_hash', '=', sha256Hex(token))
    .where('revoked_at', 'is', null)
    .execute();
}

/**
 * API keys for shop backends: `prk_<id>_<secret>`. The id finds the row; only sha256 of the
 * secret is stored, so the key is shown once, at creation.
 */
import { randomUUID } from 'node:crypto';
import type { DatabaseHandle } from '@proteus/common/db';
import { randomSecret, sameDigest, sha256Hex } from './secrets.ts';

export const API_KEY_PREFIX = 'prk_';
// the id is a UUID (no `_`); the secret is base64url and may contain `_`
const keyPattern = /^prk_([0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12})_([A-Za-z0-9_-]{43})$/;

export const isApiKey = (credential: string) => credential.startsWith(API_KEY_PREFIX);

export async function createApiKey(database: DatabaseHandle, userId: string, name: string) {
  const id = randomUUID();
  const secret = randomSecret();
  const row = await database.db
    .insertInto('api_keys')
    .values({ id, user_id: userId, name, key_hash: sha256Hex(secret) })
    .returning(['id', 'name', 'created_at', 'last_used_at'])
    .executeTakeFirstOrThrow();
  return { key: `${API_KEY_PREFIX}${id}_${secret}`, row };
}

/** The owner of a live key (not revoked, owner not deleted), or undefined. */
export async function authenticateApiKey(
  database: DatabaseHandle,
  key: string,
): Promise<{ userId: string; role: 'user' | 'admin'; keyId: string } | undefined> {
  const match = keyPattern.exec(key);
  if (!match) return undefined;
  const [, id, secret] = match as unknown as [string, string, string];
  const row = await database.db
    .selectFrom('api_keys')
    .innerJoin('users', 'users.id', 'api_keys.user_id')
    .select(['api_keys.id', 'api_keys.key_hash', 'api_keys.user_id', 'users.role'])
    .where('api_keys.id', '=', id)
    .where('api_keys.revoked_at', 'is', null)
    .executeTakeFirst();
  if (!row || !sameDigest(row.key_hash, sha256Hex(secret))) return undefined;
  // at most one write a minute per key: last_used_at is for people, not an audit log
  await database.db
    .updateTable('api_keys')
    .set({ last_used_at: new Date() })
    .where('id', '=', id)
    .where((eb) => eb.or([eb('last_used_at', 'is', null), eb('last_used_at', '<', new Date(Date.now() - 60_000))]))
    .execute();
  return { userId: row.user_id, role: row.role, keyId: row.id };
}

/**
 * `Idempotency-Key` on the POSTs that create jobs. The key is remembered on the job row with a
 * hash of the request (method, path, canonical body): a retry of the same request gets the
 * same job, the same key with another request is refused, and the unique constraint
 * (user_id, idempotency_key) settles two requests that race.
 */
import { problem } from '@proteus/common';
import type { Context } from 'hono';
import { sha256Hex } from '../auth/secrets.ts';
import type { AppEnv } from '../env.ts';
import { invalidRequest } from '../validation.ts';

export interface Idempotency {
  key: string;
  /** sha256 (hex) of the request it was first used with */
  requestHash: string;
}

const printable = /^[\x20-\x7e]{1,255}$/;

/** JSON with object keys sorted at every depth, so key order and spacing do not change the hash. */
export function canonicalJson(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(',')}]`;
  if (value && typeof value === 'object') {
    const entries = Object.entries(value as Record<string, unknown>)
      .filter(([, v]) => v !== undefined)
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${canonicalJson(v)}`).join(',')}}`;
  }
  return JSON.stringify(value);
}

export const requestHash = (method: string, path: string, body: unknown) => sha256Hex(`${method.toUpperCase()} ${path}\n${canonicalJson(body)}`);

/** The request's Idempotency-Key and hash, undefined without the header; a malformed key is a 400. */
export async function idempotencyOf(c: Context<AppEnv>): Promise<Idempotency | undefined> {
  const key = c.req.header('idempotency-key');
  if (key === undefined) return undefined;
  if (!printable.test(key)) {
    throw invalidRequest([{ path: 'Idempotency-Key', message: `expected 1 to 255 printable ASCII characters, got ${key.length} characters` }]);
  }
  // parsed (and cached) by jsonRequests before any handler runs
  const body: unknown = await c.req.json();
  return { key, requestHash: requestHash(c.req.method, new URL(c.req.url).pathname, body) };
}

export const idempotencyKeyReused = (key: string) =>
  problem(422, 'idempotency-key-reused', 'Idempotency-Key reused', {
    detail: `the Idempotency-Key ${JSON.stringify(key)} was already used with a different request`,
  });

/** A unique violation of (user_id, idempotency_key): another request with the key committed first. */
export function isIdempotencyConflict(error: unknown): boolean {
  const e = error as { code?: unknown; constraint?: unknown } | null;
  return e?.code === '23505' && (e.constraint === undefined || e.constraint === 'jobs_user_idempotency_key');
}

/**
 * Verifying access tokens, shared by every part that accepts them (the api issues them; realtime
 * checks them on sockets). HS256 with the algorithm pinned: a header naming none, RS256 or HS512
 * fails before any signature check; `exp` and `typ: 'access'` are required.
 *
 * Checked with node:crypto and a key made once per secret: this runs on every request, and
 * WebCrypto (hono/jwt's verify) imports the key again each time, which cost more than the rest
 * of the check.
 */
import { createHmac, createSecretKey, type KeyObject, timingSafeEqual } from 'node:crypto';

export const ACCESS_TOKEN_ALG = 'HS256';
const roles = ['user', 'admin'] as const;
export type Role = (typeof roles)[number];

export interface AccessClaims {
  userId: string;
  role: Role;
  /** expiry, epoch seconds */
  exp: number;
}

const base64url = /^[A-Za-z0-9_-]+$/;
const headerMembers = new Set(['alg', 'typ']);
const keys = new Map<string, KeyObject>();

function keyOf(secret: string): KeyObject {
  let key = keys.get(secret);
  if (!key) {
    key = createSecretKey(Buffer.from(secret, 'utf8'));
    if (keys.size > 16) keys.clear(); // a handful of secrets per process (rotation), never more
    keys.set(secret, key);
  }
  return key;
}

function jsonPart(part: string): Record<string, unknown> | undefined {
  try {
    const value: unknown = JSON.parse(Buffer.from(part, 'base64url').toString('utf8'));
    return value !== null && typeof value === 'object' && !Array.isArray(value) ? (value as Record<string, unknown>) : undefined;
  } catch {
    return undefined;
  }
}

/**
 * Tokens that verified, with the secret they verified under: a client sends the same token on
 * every request until it refreshes, and a token seen again skips the parsing and the HMAC. Its
 * expiry is checked again on every use (`nbf` and `iat` passed once stay passed). Oldest first
 * out past VERIFIED_MAX.
 */
const verified = new Map<string, { secret: string; claims: AccessClaims }>();
const VERIFIED_MAX = 10_000;

/** The token's claims, or undefined for anything not a valid, unexpired access token. */
export async function verifyAccessToken(secret: string, token: string): Promise<AccessClaims | undefined> {
  const seen = verified.get(token);
  if (seen?.secret === secret) {
    if (seen.claims.exp > Math.floor(Date.now() / 1000)) return seen.claims;
    verified.delete(token);
    return undefined;
  }
  const claims = checkedToken(secret, token);
  if (claims) {
    if (verified.size >= VERIFIED_MAX) verified.delete(verified.keys().next().value as string);
    verified.set(token, { secret, claims });
  }
  return claims;
}

function checkedToken(secret: string, token: string): AccessClaims | undefined {
  const parts = token.split('.');
  if (parts.length !== 3 || !parts.every((p) => base64url.test(p))) return undefined;
  const [header, payload, signature] = parts as [string, string, string];
  const head = jsonPart(header);
  if (head?.alg !== ACCESS_TOKEN_ALG || (head.typ !== undefined && head.typ !== 'JWT')) return undefined;
  // nothing we do not understand: `crit` (RFC 7515 4.1.11) and other members are refused
  if (Object.keys(head).some((name) => !headerMembers.has(name))) return undefined;
  const expected = createHmac('sha256', keyOf(secret)).update(`${header}.${payload}`).digest();
  const given = Buffer.from(signature, 'base64url');
  if (given.length !== expected.length || !timingSafeEqual(given, expected)) return undefined;
  // the error's message would hold the token: nothing below throws, nothing is logged
  const claims = jsonPart(payload);
  if (!claims) return undefined;
  const now = Math.floor(Date.now() / 1000);
  const { exp, nbf, iat, typ, sub, role } = claims;
  if (typeof exp !== 'number' || exp <= now) return undefined;
  if (nbf !== undefined && (typeof nbf !== 'number' || nbf > now)) return undefined;
  if (iat !== undefined && (typeof iat !== 'number' || iat > now)) return undefined;
  if (typ !== 'access' || typeof sub !== 'string' || !sub || !roles.includes(role as Role)) return undefined;
  return { userId: sub, role: role as Role, exp };
}

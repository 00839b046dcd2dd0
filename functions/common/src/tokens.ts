/**
 * Verifying access tokens, shared by every part that accepts them (the api issues them; realtime
 * checks them on sockets). HS256 with the algorithm pinned: a header naming none, RS256 or HS512
 * fails before any signature check; `exp` and `typ: 'access'` are required.
 */
import { verify } from 'hono/jwt';

export const ACCESS_TOKEN_ALG = 'HS256';
const roles = ['user', 'admin'] as const;
export type Role = (typeof roles)[number];

export interface AccessClaims {
  userId: string;
  role: Role;
  /** expiry, epoch seconds */
  exp: number;
}

/** The token's claims, or undefined for anything not a valid, unexpired access token. */
export async function verifyAccessToken(secret: string, token: string): Promise<AccessClaims | undefined> {
  try {
    const payload = await verify(token, secret, { alg: ACCESS_TOKEN_ALG });
    // hono checks exp only when present: it is required here
    if (typeof payload.exp !== 'number' || payload.typ !== 'access') return undefined;
    if (typeof payload.sub !== 'string' || !payload.sub || !roles.includes(payload.role as Role)) return undefined;
    return { userId: payload.sub, role: payload.role as Role, exp: payload.exp };
  } catch {
    // the error's message holds the token: it is neither logged nor returned
    return undefined;
  }
}

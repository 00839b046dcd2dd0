/**
 * Access tokens as the api issues them: HS256 JWTs with `typ: 'access'`, `sub` and a required
 * `exp`. The algorithm is pinned: a token that names another (or none) is refused.
 */
import { verify } from 'hono/jwt';

export interface Owner {
  userId: string;
  /** token expiry, epoch seconds */
  exp: number;
}

export class TokenRejected extends Error {
  constructor(reason: string) {
    super(reason);
    this.name = 'TokenRejected';
  }
}

export async function verifyAccessToken(token: string, secret: string): Promise<Owner> {
  let payload: Record<string, unknown>;
  try {
    payload = (await verify(token, secret, 'HS256')) as Record<string, unknown>;
  } catch (error) {
    throw new TokenRejected(`invalid token: ${(error as Error).name}`);
  }
  if (payload.typ !== 'access') throw new TokenRejected('not an access token');
  if (typeof payload.exp !== 'number') throw new TokenRejected('token has no exp');
  if (typeof payload.sub !== 'string' || !payload.sub) throw new TokenRejected('token has no subject');
  return { userId: payload.sub, exp: payload.exp };
}

/** Sockets prove their owner with the api's access tokens (verified as every part does: @proteus/common). */
import { verifyAccessToken as verifyShared } from '@proteus/common';

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
  const claims = await verifyShared(secret, token);
  if (!claims) throw new TokenRejected('invalid or expired access token');
  return { userId: claims.userId, exp: claims.exp };
}

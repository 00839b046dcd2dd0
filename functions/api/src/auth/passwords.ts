/**
 * Password hashing: argon2id at OWASP's minimum (19 MiB, 2 passes, 1 lane). The stored value
 * is a PHC string that carries its own parameters, so raising them later only affects new
 * hashes and old ones still verify.
 */
import { hash, type Options, verify } from '@node-rs/argon2';

/**
 * OWASP Password Storage Cheat Sheet, argon2id option 1. `algorithm: 2` is Algorithm.Argon2id:
 * the package declares it as an ambient const enum, which has no runtime value under tsx.
 */
export const ARGON2ID: Options = { algorithm: 2, memoryCost: 19_456, timeCost: 2, parallelism: 1 };

export const PASSWORD_MIN = 12;
export const PASSWORD_MAX = 128;

export function hashPassword(password: string): Promise<string> {
  return hash(password, ARGON2ID);
}

// verified against when the e-mail is unknown, so an unknown account costs as long as a wrong password
const dummyHash = hashPassword('not-a-password-of-anyone');

/**
 * True when `password` matches `stored`. `stored` undefined (no such account) runs the same
 * work against a dummy hash and answers false. argon2 compares in constant time itself.
 */
export async function verifyPassword(stored: string | undefined, password: string): Promise<boolean> {
  try {
    const ok = await verify(stored ?? (await dummyHash), password);
    return stored !== undefined && ok;
  } catch {
    // a malformed stored hash is a failed login, not a 500 that tells the account exists
    return false;
  }
}

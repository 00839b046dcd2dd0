import { describe, expect, it } from 'vitest';
import { hashPassword, verifyPassword } from './passwords.ts';

describe('passwords', () => {
  it('hash with argon2id at OWASP parameters, encoded in the hash, with a fresh salt each time', async () => {
    const a = await hashPassword('correct horse battery staple');
    const b = await hashPassword('correct horse battery staple');
    expect(a).toMatch(/^\$argon2id\$v=19\$m=19456,t=2,p=1\$[A-Za-z0-9+/]{22}\$[A-Za-z0-9+/]{43}$/);
    expect(a).not.toBe(b);
  });

  it('verify the right password only', async () => {
    const stored = await hashPassword('correct horse battery staple');
    expect(await verifyPassword(stored, 'correct horse battery staple')).toBe(true);
    expect(await verifyPassword(stored, 'correct horse battery stapl')).toBe(false);
    expect(await verifyPassword(stored, '')).toBe(false);
  });

  it('verify hashes made with other parameters (they travel with the hash)', async () => {
    const { hash } = await import('@node-rs/argon2');
    const stronger = await hash('pw-with-other-params', { algorithm: 2, memoryCost: 47_104, timeCost: 1, parallelism: 1 });
    expect(await verifyPassword(stronger, 'pw-with-other-params')).toBe(true);
  });

  it('answer false, never throw, for an unknown account or a malformed stored hash', async () => {
    expect(await verifyPassword(undefined, 'anything at all')).toBe(false);
    expect(await verifyPassword('not-a-hash', 'anything at all')).toBe(false);
  });

  it('spend about as long on an unknown account as on a wrong password', async () => {
    const stored = await hashPassword('correct horse battery staple');
    await verifyPassword(undefined, 'warm-up');
    const time = async (f: () => Promise<unknown>) => {
      const started = performance.now();
      for (let i = 0; i < 5; i++) await f();
      return performance.now() - started;
    };
    const wrong = await time(() => verifyPassword(stored, 'a wrong password'));
    const unknown = await time(() => verifyPassword(undefined, 'a wrong password'));
    // the same argon2 work either way: within a factor of 3 (a busy CI box), not the ~1000x of skipping it
    expect(unknown / wrong).toBeGreaterThan(1 / 3);
    expect(unknown / wrong).toBeLessThan(3);
  });
});

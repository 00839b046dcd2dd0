import { createHmac } from 'node:crypto';
import { sign } from 'hono/jwt';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { verifyAccessToken } from './tokens.ts';

const secret = 'a-test-secret-a-test-secret-a-test-secret-0123';
const now = () => Math.floor(Date.now() / 1000);
const claims = (extra: Record<string, unknown> = {}) => ({ sub: 'u1', role: 'user', typ: 'access', iat: now(), exp: now() + 60, ...extra });
const b64 = (v: unknown) => Buffer.from(JSON.stringify(v)).toString('base64url');
/** An HS256 token over exactly this header and payload. */
function token(header: unknown, payload: unknown, key = secret): string {
  const body = `${b64(header)}.${b64(payload)}`;
  return `${body}.${createHmac('sha256', key).update(body).digest('base64url')}`;
}

describe('verifyAccessToken', () => {
  it('accepts what the api signs (hono/jwt, HS256) and answers its claims', async () => {
    const signed = await sign(claims(), secret, 'HS256');
    expect(await verifyAccessToken(secret, signed)).toEqual({ userId: 'u1', role: 'user', exp: expect.any(Number) });
  });

  it.each([
    ['another secret', () => token({ alg: 'HS256', typ: 'JWT' }, claims(), 'other')],
    ['alg none', () => `${b64({ alg: 'none' })}.${b64(claims())}.`],
    ['alg HS512', () => token({ alg: 'HS512' }, claims())],
    ['a kid or any other header member', () => token({ alg: 'HS256', kid: 'k1' }, claims())],
    ['typ other than JWT', () => token({ alg: 'HS256', typ: 'JOSE' }, claims())],
    ['no exp', () => token({ alg: 'HS256' }, claims({ exp: undefined }))],
    ['exp as a string', () => token({ alg: 'HS256' }, claims({ exp: String(now() + 60) }))],
    ['expired', () => token({ alg: 'HS256' }, claims({ exp: now() - 1 }))],
    ['nbf in the future', () => token({ alg: 'HS256' }, claims({ nbf: now() + 60 }))],
    ['iat in the future', () => token({ alg: 'HS256' }, claims({ iat: now() + 60 }))],
    ['a refresh token', () => token({ alg: 'HS256' }, claims({ typ: 'refresh' }))],
    ['an unknown role', () => token({ alg: 'HS256' }, claims({ role: 'root' }))],
    ['an empty sub', () => token({ alg: 'HS256' }, claims({ sub: '' }))],
    ['a payload that is an array', () => token({ alg: 'HS256' }, [claims()])],
    ['four parts', () => `${token({ alg: 'HS256' }, claims())}.x`],
    ['padding in a part', () => token({ alg: 'HS256' }, claims()).replace('.', '=.')],
    ['a truncated signature', () => token({ alg: 'HS256' }, claims()).slice(0, -2)],
  ])('refuses %s', async (_, make) => {
    expect(await verifyAccessToken(secret, make())).toBeUndefined();
  });

  describe('a token seen again (answered from what verified before)', () => {
    afterEach(() => {
      vi.useRealTimers();
    });

    it('is refused once it has expired', async () => {
      const exp = now() + 30;
      const t = token({ alg: 'HS256' }, claims({ exp }));
      expect(await verifyAccessToken(secret, t)).toEqual({ userId: 'u1', role: 'user', exp });
      expect(await verifyAccessToken(secret, t)).toEqual({ userId: 'u1', role: 'user', exp });
      vi.useFakeTimers({ now: exp * 1000 });
      expect(await verifyAccessToken(secret, t)).toBeUndefined();
    });

    it('is refused under another secret (a rotated one)', async () => {
      const t = token({ alg: 'HS256' }, claims());
      expect(await verifyAccessToken(secret, t)).toBeDefined();
      expect(await verifyAccessToken('another-secret-another-secret-another-secret', t)).toBeUndefined();
      expect(await verifyAccessToken(secret, t)).toBeDefined();
    });
  });
});

import { keys } from '@proteus/eventing';
import type { Redis } from 'ioredis';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { cleanupStack, testRedis } from '../../test/deps.ts';
import { hit, resetLimit } from './rate-limit.ts';

describe('rate limits in Redis', () => {
  const cleanups = cleanupStack();
  let redis: Redis;
  beforeAll(async () => {
    redis = await testRedis(cleanups);
  });
  afterAll(() => cleanups.run());
  beforeEach(async () => {
    await redis.flushdb();
  });

  it('count within a window, refuse past the limit, and say how long to wait', async () => {
    const results = [];
    for (let i = 0; i < 4; i++) results.push(await hit(redis, 'user', 'u1', 3, 60));
    expect(results.map((r) => [r.count, r.allowed])).toEqual([
      [1, true],
      [2, true],
      [3, true],
      [4, false],
    ]);
    expect(results[3]?.retryAfterS).toBeGreaterThan(0);
    expect(results[3]?.retryAfterS).toBeLessThanOrEqual(60);
  });

  it('keep the window of the first hit (later hits do not extend it), under the contract key', async () => {
    await hit(redis, 'login-ip', 'abc', 5, 30);
    await redis.pexpire(keys.rateLimit('login-ip', 'abc'), 5000);
    await hit(redis, 'login-ip', 'abc', 5, 30);
    expect(await redis.pttl(keys.rateLimit('login-ip', 'abc'))).toBeLessThanOrEqual(5000);
  });

  it('give a counter left without an expiry (by a crash of an older writer) the window again', async () => {
    await redis.set(keys.rateLimit('user', 'old'), '5');
    expect((await hit(redis, 'user', 'old', 10, 60)).count).toBe(6);
    const ttl = await redis.pttl(keys.rateLimit('user', 'old'));
    expect(ttl).toBeGreaterThan(0);
    expect(ttl).toBeLessThanOrEqual(60_000);
  });

  it('start again once the window is over', async () => {
    await hit(redis, 'api-key', 'k', 1, 1);
    expect((await hit(redis, 'api-key', 'k', 1, 1)).allowed).toBe(false);
    await redis.pexpire(keys.rateLimit('api-key', 'k'), 1);
    await new Promise((r) => setTimeout(r, 20));
    expect((await hit(redis, 'api-key', 'k', 1, 1)).allowed).toBe(true);
  });

  it('keep scopes and ids apart, and reset one counter', async () => {
    await hit(redis, 'user', 'x', 1, 60);
    expect((await hit(redis, 'api-key', 'x', 1, 60)).allowed).toBe(true);
    expect((await hit(redis, 'user', 'y', 1, 60)).allowed).toBe(true);
    expect((await hit(redis, 'user', 'x', 1, 60)).allowed).toBe(false);
    await resetLimit(redis, 'user', 'x');
    expect((await hit(redis, 'user', 'x', 1, 60)).allowed).toBe(true);
  });
});

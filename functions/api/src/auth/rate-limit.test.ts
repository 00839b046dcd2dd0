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

  it('count the hits of concurrent requests in one script call, each counter with its own window', async () => {
    await hit(redis, 'user', 'warm', 1, 60); // the script is known to Redis from here on
    const calls = async () => {
      const stats = await redis.info('commandstats');
      return [...stats.matchAll(/cmdstat_(?:evalsha|eval):calls=(\d+)/g)].reduce((n, m) => n + Number(m[1]), 0);
    };
    const before = await calls();
    const results = await Promise.all([
      ...Array.from({ length: 5 }, () => hit(redis, 'user', 'a', 3, 60)),
      hit(redis, 'login-ip', 'b', 3, 30),
      hit(redis, 'login-ip', 'b', 3, 30),
    ]);
    expect((await calls()) - before).toBe(1);
    expect(results.map((r) => [r.count, r.allowed])).toEqual([
      [1, true],
      [2, true],
      [3, true],
      [4, false],
      [5, false],
      [1, true],
      [2, true],
    ]);
    expect(await redis.get(keys.rateLimit('user', 'a'))).toBe('5');
    const windowB = await redis.pttl(keys.rateLimit('login-ip', 'b'));
    expect(windowB).toBeGreaterThan(0);
    expect(windowB).toBeLessThanOrEqual(30_000);
    expect(results[6]?.retryAfterS).toBeLessThanOrEqual(30);
    expect(await redis.pttl(keys.rateLimit('user', 'a'))).toBeGreaterThan(30_000);
  });

  it('fail every hit of a call Redis refuses, and count again once it answers', async () => {
    const broken = redis.duplicate();
    await broken.quit();
    await expect(Promise.all([hit(broken, 'user', 'c', 3, 60), hit(broken, 'user', 'd', 3, 60)])).rejects.toThrow(/closed/i);
    expect((await hit(redis, 'user', 'c', 3, 60)).count).toBe(1);
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

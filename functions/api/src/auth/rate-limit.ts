/**
 * Fixed-window rate limits in Redis: one counter per principal and window, created with the
 * window as its expiry. INCR, EXPIRE NX and PTTL run in one script (atomic, one command: it
 * rides the api's auto-pipelined writes, where a MULTI costs four), so a counter never lives
 * without an expiry and the answer says how long until the window ends.
 */
import { problem } from '@proteus/common';
import { keys } from '@proteus/eventing';
import type { Redis } from 'ioredis';

export interface Hit {
  count: number;
  allowed: boolean;
  /** seconds until the window ends (at least 1) */
  retryAfterS: number;
}

// KEYS[1] the counter, ARGV[1] the window in seconds; answers {count, pttl}
export const hitScript = `
local count = redis.call('INCR', KEYS[1])
redis.call('EXPIRE', KEYS[1], ARGV[1], 'NX')
return {count, redis.call('PTTL', KEYS[1])}`;

type WithHit = Redis & { proteusRateHit(key: string, windowS: number): Promise<[number, number]> };

/** defineCommand runs the script by EVALSHA and falls back to EVAL when Redis does not know it yet. */
function withHit(redis: Redis): WithHit {
  if (!('proteusRateHit' in redis)) redis.defineCommand('proteusRateHit', { numberOfKeys: 1, lua: hitScript });
  return redis as WithHit;
}

export async function hit(redis: Redis, scope: keys.RateLimitScope, id: string, limit: number, windowS: number): Promise<Hit> {
  const [count, pttl] = await withHit(redis).proteusRateHit(keys.rateLimit(scope, id), windowS);
  const retryAfterS = Math.max(1, Math.ceil((pttl > 0 ? pttl : windowS * 1000) / 1000));
  return { count, allowed: count <= limit, retryAfterS };
}

export function rateLimited(retryAfterS: number, detail: string) {
  return problem(429, 'rate-limited', 'Too many requests', { detail, retryAfter: retryAfterS }, { 'retry-after': String(retryAfterS) });
}

/** Forgets a counter (a successful login clears its account's failures). */
export async function resetLimit(redis: Redis, scope: keys.RateLimitScope, id: string): Promise<void> {
  await redis.del(keys.rateLimit(scope, id));
}

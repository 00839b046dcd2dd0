/**
 * Fixed-window rate limits in Redis: one counter per principal and window, created with the
 * window as its expiry. INCR, EXPIRE NX and PTTL run in one MULTI, so a counter never lives
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

export async function hit(redis: Redis, scope: keys.RateLimitScope, id: string, limit: number, windowS: number): Promise<Hit> {
  const key = keys.rateLimit(scope, id);
  const replies = await redis.multi().incr(key).expire(key, windowS, 'NX').pttl(key).exec();
  if (!replies) throw new Error('rate limit transaction aborted');
  for (const [error] of replies) if (error) throw error;
  const count = Number(replies[0]?.[1]);
  const pttl = Number(replies[2]?.[1]);
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

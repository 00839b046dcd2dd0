/**
 * Fixed-window rate limits in Redis: one counter per principal and window, created with the
 * window as its expiry. INCR, EXPIRE NX and PTTL run in one script, so a counter never lives
 * without an expiry and the answer says how long until the window ends. The hits of concurrent
 * requests go in one call of the script (../batcher.ts): one command and one round trip for all
 * of them, each counter still counted atomically. One script call names several keys, which a
 * single Redis (the architecture's) takes; a Redis Cluster would refuse keys of different slots.
 */
import { problem } from '@proteus/common';
import { keys } from '@proteus/eventing';
import type { Redis } from 'ioredis';
import { batchersOf } from '../batcher.ts';

export interface Hit {
  count: number;
  allowed: boolean;
  /** seconds until the window ends (at least 1) */
  retryAfterS: number;
}

// KEYS the counters, ARGV[i] the window of KEYS[i] in seconds; answers {count, pttl} for each key in turn
export const hitScript = `
local answer = {}
for i, key in ipairs(KEYS) do
  local count = redis.call('INCR', key)
  redis.call('EXPIRE', key, ARGV[i], 'NX')
  answer[2 * i - 1] = count
  answer[2 * i] = redis.call('PTTL', key)
end
return answer`;

type WithHit = Redis & { proteusRateHits(numberOfKeys: number, ...keysThenWindows: (string | number)[]): Promise<number[]> };

/** defineCommand runs the script by EVALSHA and falls back to EVAL when Redis does not know it yet. */
function withHits(redis: Redis): WithHit {
  if (!('proteusRateHits' in redis)) redis.defineCommand('proteusRateHits', { lua: hitScript });
  return redis as WithHit;
}

type Counted = { count: number; pttl: number };

// a failed call fails every hit in it (Redis is down, or refused the script): no point in one call each
const hits = batchersOf(
  async (redis: Redis, asked: readonly { key: string; windowS: number }[]): Promise<Counted[]> => {
    const flat = await withHits(redis).proteusRateHits(asked.length, ...asked.map((a) => a.key), ...asked.map((a) => a.windowS));
    return asked.map((_, i) => ({ count: flat[2 * i] as number, pttl: flat[2 * i + 1] as number }));
  },
  { retryAlone: () => false },
);

export async function hit(redis: Redis, scope: keys.RateLimitScope, id: string, limit: number, windowS: number): Promise<Hit> {
  const { count, pttl } = await hits(redis).add({ key: keys.rateLimit(scope, id), windowS });
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

import { Redis } from 'ioredis';

/**
 * A Redis connection for a part. Commands fail fast while Redis is down (instead of queueing
 * forever) and the connection keeps retrying in the background.
 */
/**
 * `autoPipelining`: commands issued in the same tick go out in one write (fewer syscalls under
 * load). Only for clients that never block (no XREADGROUP BLOCK, no SUBSCRIBE).
 */
export function createRedis(url: string, name: string, { autoPipelining = false }: { autoPipelining?: boolean } = {}): Redis {
  const redis = new Redis(url, {
    enableAutoPipelining: autoPipelining,
    connectionName: name,
    maxRetriesPerRequest: 2,
    enableOfflineQueue: true,
    retryStrategy: (times) => Math.min(times * 100, 2000),
  });
  // errors surface on commands and in health; an unhandled 'error' event would kill the process
  redis.on('error', () => {});
  return redis;
}

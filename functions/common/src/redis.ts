import { Redis } from 'ioredis';

/**
 * A Redis connection for a part. Commands fail fast while Redis is down (instead of queueing
 * forever) and the connection keeps retrying in the background.
 */
export function createRedis(url: string, name: string): Redis {
  const redis = new Redis(url, {
    connectionName: name,
    maxRetriesPerRequest: 2,
    enableOfflineQueue: true,
    retryStrategy: (times) => Math.min(times * 100, 2000),
  });
  // errors surface on commands and in health; an unhandled 'error' event would kill the process
  redis.on('error', () => {});
  return redis;
}

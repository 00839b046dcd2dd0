import { join } from 'node:path';
import { isolatedBucket, isolatedDatabase, isolatedRedisUrl, s3TestServer, serverProcessSuite } from '@proteus/testkit';
import { expect } from 'vitest';
import { cleanupStack } from '../test/deps.ts';

const cleanups = cleanupStack();

serverProcessSuite({
  part: 'api',
  packageDir: join(import.meta.dirname, '..'),
  goodEnv: async () => {
    const database = await isolatedDatabase();
    cleanups.push(database.drop);
    const { bucket, drop } = await isolatedBucket();
    cleanups.push(drop);
    const s3 = s3TestServer();
    return {
      REDIS_URL: await isolatedRedisUrl(),
      DATABASE_URL: database.url,
      OBJECT_STORAGE_ENDPOINT: s3.endpoint,
      OBJECT_STORAGE_BUCKET: bucket,
      OBJECT_STORAGE_ACCESS_KEY: s3.accessKeyId,
      OBJECT_STORAGE_SECRET_KEY: s3.secretAccessKey,
      HOST: '127.0.0.1',
      PORT: '0',
      JWT_SECRET: 'server-test-secret-of-at-least-32-characters',
    };
  },
  badEnvs: [
    ['REDIS_URL', { REDIS_URL: 'http://x' }],
    ['REDIS_URL', { REDIS_URL: '' }],
    ['PORT', { PORT: 'abc' }],
    ['PORT', { PORT: '70000' }],
    ['DATABASE_URL', { DATABASE_URL: 'mysql://db/proteus' }],
    ['OBJECT_STORAGE_SECRET_KEY', { OBJECT_STORAGE_SECRET_KEY: '' }],
    ['WORKER_HEARTBEAT_MAX_AGE_MS', { WORKER_HEARTBEAT_MAX_AGE_MS: '-5' }],
    ['JWT_SECRET', { JWT_SECRET: 'short' }],
    ['JWT_SECRET', { JWT_SECRET: '' }],
    ['UPLOAD_MAX_BYTES', { UPLOAD_MAX_BYTES: '0' }],
  ],
  healthPath: '/healthz',
  async whileRunning(_url, listening) {
    expect(listening.database).toBe('postgres');
    return undefined;
  },
  cleanup: () => cleanups.run(),
});

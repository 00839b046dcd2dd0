import { join } from 'node:path';
import { isolatedBucket, isolatedRedisUrl, s3TestServer, serverProcessSuite } from '@proteus/testkit';

let dropBucket: (() => Promise<void>) | undefined;

serverProcessSuite({
  part: 'segment',
  packageDir: join(import.meta.dirname, '..'),
  goodEnv: async () => {
    const { bucket, drop } = await isolatedBucket();
    dropBucket = drop;
    const s3 = s3TestServer();
    return {
      REDIS_URL: await isolatedRedisUrl(),
      HOST: '127.0.0.1',
      PORT: '0',
      OBJECT_STORAGE_ENDPOINT: s3.endpoint,
      OBJECT_STORAGE_BUCKET: bucket,
      OBJECT_STORAGE_ACCESS_KEY: s3.accessKeyId,
      OBJECT_STORAGE_SECRET_KEY: s3.secretAccessKey,
    };
  },
  badEnvs: [
    ['REDIS_URL', { REDIS_URL: 'http://x' }],
    ['PORT', { PORT: 'abc' }],
    ['OBJECT_STORAGE_ENDPOINT', { OBJECT_STORAGE_ENDPOINT: '' }],
    ['OBJECT_STORAGE_ACCESS_KEY', { OBJECT_STORAGE_ACCESS_KEY: '' }],
    ['OBJECT_STORAGE_BUCKET', { OBJECT_STORAGE_BUCKET: 'Bad_Bucket' }],
  ],
  healthPath: '/health',
  cleanup: async () => dropBucket?.(),
});

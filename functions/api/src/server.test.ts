import { isolatedBucket, isolatedDatabase, isolatedRedisUrl, s3TestServer } from '@proteus/testkit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cleanupStack } from '../test/deps.ts';
import { logLine, occupiedPort, runServer, startServer } from '../test/spawn.ts';

const cleanups = cleanupStack();
afterAll(() => cleanups.run());

/** A complete, valid environment on the test services. */
let goodEnv: Record<string, string>;
beforeAll(async () => {
  const database = await isolatedDatabase();
  cleanups.push(database.drop);
  const { bucket, drop } = await isolatedBucket();
  cleanups.push(drop);
  const s3 = s3TestServer();
  goodEnv = {
    REDIS_URL: await isolatedRedisUrl(),
    DATABASE_URL: database.url,
    OBJECT_STORAGE_ENDPOINT: s3.endpoint,
    OBJECT_STORAGE_BUCKET: bucket,
    OBJECT_STORAGE_ACCESS_KEY: s3.accessKeyId,
    OBJECT_STORAGE_SECRET_KEY: s3.secretAccessKey,
    HOST: '127.0.0.1',
    PORT: '0',
  };
}, 30_000);

describe('api server.ts', () => {
  it.each([
    ['REDIS_URL', { REDIS_URL: 'http://x' }],
    ['REDIS_URL', { REDIS_URL: '' }],
    ['PORT', { PORT: 'abc' }],
    ['PORT', { PORT: '70000' }],
    ['DATABASE_URL', { DATABASE_URL: 'mysql://db/proteus' }],
    ['OBJECT_STORAGE_SECRET_KEY', { OBJECT_STORAGE_SECRET_KEY: '' }],
    ['WORKER_HEARTBEAT_MAX_AGE_MS', { WORKER_HEARTBEAT_MAX_AGE_MS: '-5' }],
  ])(
    'exits 2 naming %s when given %o',
    async (name, bad) => {
      const { code, stderr } = await runServer({ ...goodEnv, ...bad });
      expect(code).toBe(2);
      expect(stderr).toContain(`${name}:`);
      expect(stderr).toContain('api: invalid configuration');
      // a secret is never echoed back
      expect(stderr).not.toContain(goodEnv.OBJECT_STORAGE_SECRET_KEY);
    },
    30_000,
  );

  it('exits 1 saying the port is in use when PORT is taken', async () => {
    const taken = await occupiedPort();
    cleanups.push(taken.close);
    const { code, stdout, stderr } = await runServer({ ...goodEnv, PORT: String(taken.port) });
    expect(code).toBe(1);
    expect(stdout + stderr).toContain(`port ${taken.port} on 127.0.0.1 is already in use`);
  }, 30_000);

  it('starts, answers /healthz, and exits 0 on SIGTERM', async () => {
    const started = startServer(goodEnv);
    cleanups.push(() => {
      if (started.child.exitCode === null) started.child.kill('SIGKILL');
    });
    const listening = await logLine(started, 'listening');
    expect(listening.database).toBe('postgres');
    const response = await fetch(new URL('/healthz', String(listening.url)));
    expect(response.status).toBe(200);
    started.child.kill('SIGTERM');
    expect(await started.exited).toEqual({ code: 0, signal: null });
  }, 30_000);
});

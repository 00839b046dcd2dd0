import { isolatedBucket, isolatedRedisUrl, s3TestServer } from '@proteus/testkit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { logLine, occupiedPort, runServer, startServer } from '../test/spawn.ts';

let goodEnv: Record<string, string>;
const cleanups: (() => unknown)[] = [];
beforeAll(async () => {
  const { bucket, drop } = await isolatedBucket();
  cleanups.push(drop);
  const s3 = s3TestServer();
  goodEnv = {
    REDIS_URL: await isolatedRedisUrl(),
    HOST: '127.0.0.1',
    PORT: '0',
    OBJECT_STORAGE_ENDPOINT: s3.endpoint,
    OBJECT_STORAGE_BUCKET: bucket,
    OBJECT_STORAGE_ACCESS_KEY: s3.accessKeyId,
    OBJECT_STORAGE_SECRET_KEY: s3.secretAccessKey,
  };
}, 30_000);
afterAll(async () => {
  for (const c of cleanups.reverse()) await c();
});

describe('segment server.ts', () => {
  it.each([
    ['REDIS_URL', { REDIS_URL: 'http://x' }],
    ['PORT', { PORT: 'abc' }],
    ['OBJECT_STORAGE_ENDPOINT', { OBJECT_STORAGE_ENDPOINT: '' }],
    ['OBJECT_STORAGE_ACCESS_KEY', { OBJECT_STORAGE_ACCESS_KEY: '' }],
    ['OBJECT_STORAGE_BUCKET', { OBJECT_STORAGE_BUCKET: 'Bad_Bucket' }],
  ])(
    'exits 2 naming %s when given %o',
    async (name, bad) => {
      const { code, stderr } = await runServer({ ...goodEnv, ...bad });
      expect(code).toBe(2);
      expect(stderr).toContain('segment: invalid configuration');
      expect(stderr).toContain(`${name}:`);
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

  it('starts, answers /health 200, and exits 0 on SIGTERM', async () => {
    const started = startServer(goodEnv);
    cleanups.push(() => started.child.exitCode === null && started.child.kill('SIGKILL'));
    const { url } = await logLine(started, 'listening');
    expect((await fetch(new URL('/health', String(url)))).status).toBe(200);
    started.child.kill('SIGTERM');
    expect(await started.exited).toEqual({ code: 0, signal: null });
  }, 30_000);
});

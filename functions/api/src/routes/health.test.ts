import { createServer, type Server } from 'node:http';
import type { DatabaseHandle } from '@proteus/common/db';
import type { ObjectStorage } from '@proteus/common/storage';
import { keys } from '@proteus/eventing';
import type { Redis } from 'ioredis';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { baseDeps, cleanupStack, closedPort, collectingLogger, openTestDatabase, testRedis, testStorage } from '../../test/deps.ts';
import { createApp } from '../app.ts';
import type { ApiDeps } from '../env.ts';

interface Report {
  status: 'ok' | 'error';
  part: string;
  checks: Record<string, { status: 'ok' | 'error'; latencyMs: number; detail?: string; error?: string }>;
}

const cleanups = cleanupStack();
afterAll(() => cleanups.run());

let redis: Redis;
let postgres: DatabaseHandle;
let storage: ObjectStorage;

beforeAll(async () => {
  redis = await testRedis(cleanups);
  postgres = await openTestDatabase('postgres', cleanups);
  storage = await testStorage(cleanups);
}, 30_000);

beforeEach(async () => {
  await redis.flushdb();
});

const beat = (name: string, at: Date, engine = 'warp') => redis.set(keys.workerHeartbeat(name), JSON.stringify({ name, engine, at: at.toISOString() }));

async function health(deps: Partial<ApiDeps> = {}): Promise<{ status: number; report: Report }> {
  const app = createApp(baseDeps({ redis, database: postgres, storage, log: collectingLogger().log, ...deps }));
  const response = await app.request('/api/health');
  expect(response.headers.get('content-type')).toMatch(/^application\/json/);
  return { status: response.status, report: (await response.json()) as Report };
}

/** A tiny segment function whose /health answers `status`. */
async function fakeSegment(status: number): Promise<string> {
  const server: Server = createServer((req, res) => {
    res.writeHead(req.url === '/health' ? status : 404, { 'content-type': 'application/json' }).end('{}');
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  cleanups.push(() => new Promise<void>((r) => server.close(() => r())));
  return `http://127.0.0.1:${(server.address() as { port: number }).port}`;
}

describe('GET /api/health', () => {
  it('is all green once a worker heartbeat exists', async () => {
    await beat('w1', new Date());
    const { status, report } = await health();
    expect(status).toBe(200);
    expect(report.status).toBe('ok');
    expect(report.part).toBe('api');
    expect(Object.keys(report.checks).sort()).toEqual(['database', 'objectStorage', 'redis', 'worker']);
    for (const check of Object.values(report.checks)) expect(check.status).toBe('ok');
    expect(report.checks.database?.detail).toBe('postgres');
    expect(report.checks.objectStorage?.detail).toBe(`bucket ${storage.bucket}`);
    expect(report.checks.worker?.detail).toBe('w1 (warp)');
  });

  it('is 503 with the worker check failing when no heartbeat exists', async () => {
    const { status, report } = await health();
    expect(status).toBe(503);
    expect(report.status).toBe('error');
    expect(report.checks.worker).toMatchObject({ status: 'error', error: 'no gpu-worker heartbeat' });
    expect(report.checks.redis?.status).toBe('ok');
    expect(report.checks.database?.status).toBe('ok');
  });

  it('counts a heartbeat older than workerHeartbeatMaxAgeMs as absent', async () => {
    await beat('stuck', new Date(Date.now() - 10_000 - 1000));
    const { status, report } = await health({ workerHeartbeatMaxAgeMs: 10_000 });
    expect(status).toBe(503);
    expect(report.checks.worker).toMatchObject({ status: 'error', error: 'no gpu-worker heartbeat' });
  });

  it('lists only the live workers when a stale and a fresh heartbeat coexist, and ignores unreadable ones', async () => {
    await beat('stuck', new Date(Date.now() - 60_000));
    await beat('w2', new Date(), 'catvton');
    await redis.set(keys.workerHeartbeat('garbled'), '{not json');
    const { status, report } = await health();
    expect(status).toBe(200);
    expect(report.checks.worker?.detail).toBe('w2 (catvton)');
  });

  it('is 503 when object storage refuses the keys (wrong secret, 403)', async () => {
    await beat('w1', new Date());
    const refused = await testStorage(cleanups, { secretAccessKey: 'wrong-secret' });
    const { status, report } = await health({ storage: refused });
    expect(status).toBe(503);
    expect(report.checks.objectStorage?.status).toBe('error');
    expect(report.checks.database?.status).toBe('ok');
  });

  it('names the database: pglite', async () => {
    // opened first: on a loaded machine that takes longer than a heartbeat stays fresh
    const pglite = await openTestDatabase('pglite', cleanups);
    await beat('w1', new Date());
    const { status, report } = await health({ database: pglite });
    expect(status).toBe(200);
    expect(report.checks.database).toMatchObject({ status: 'ok', detail: 'pglite' });
  }, 60_000);

  it('is 503 quickly when Redis is unreachable', async () => {
    const down = await testRedis(cleanups, `redis://127.0.0.1:${await closedPort()}`);
    const started = performance.now();
    const { status, report } = await health({ redis: down });
    expect(performance.now() - started).toBeLessThan(3000);
    expect(status).toBe(503);
    expect(report.checks.redis?.status).toBe('error');
    expect(report.checks.worker?.status).toBe('error');
    expect(report.checks.database?.status).toBe('ok');
  });

  describe('segment check (only when tailorUrl is set)', () => {
    it('is ok when the segment function answers 200', async () => {
      await beat('w1', new Date());
      const { status, report } = await health({ tailorUrl: await fakeSegment(200) });
      expect(status).toBe(200);
      expect(report.checks.segment).toMatchObject({ status: 'ok', detail: 'ok' });
    });

    it('fails when the segment function answers 500', async () => {
      await beat('w1', new Date());
      const { status, report } = await health({ tailorUrl: await fakeSegment(500) });
      expect(status).toBe(503);
      expect(report.checks.segment).toMatchObject({ status: 'error', error: 'segment answered 500' });
    });

    it('fails when nothing listens at tailorUrl', async () => {
      await beat('w1', new Date());
      const { status, report } = await health({ tailorUrl: `http://127.0.0.1:${await closedPort()}` });
      expect(status).toBe(503);
      expect(report.checks.segment?.status).toBe('error');
    });

    it('is not checked without tailorUrl', async () => {
      await beat('w1', new Date());
      const { report } = await health();
      expect(report.checks.segment).toBeUndefined();
    });
  });
});

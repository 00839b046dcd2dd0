/**
 * Builds the api's deps on the real test services (Redis, PostgreSQL or PGlite, SeaweedFS),
 * each isolated, plus a logger whose lines the test can read. `close()` undoes everything.
 */
import { readFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { createLogger, createRedis } from '@proteus/common';
import { type DatabaseHandle, openDatabase } from '@proteus/common/db';
import { createObjectStorage, type ObjectStorage } from '@proteus/common/storage';
import { isolatedBucket, isolatedDatabase, isolatedRedisUrl } from '@proteus/testkit';
import type { Redis } from 'ioredis';
import { expect } from 'vitest';
import { createApp } from '../src/app.ts';
import type { ApiDeps } from '../src/env.ts';

export type Cleanup = () => Promise<void> | void;

/** Runs cleanups last-in first-out; register with `cleanups.push`. */
export function cleanupStack() {
  const cleanups: Cleanup[] = [];
  return {
    push: (c: Cleanup) => cleanups.push(c),
    async run() {
      for (const c of cleanups.splice(0).reverse()) await c();
    },
  };
}

export async function openTestDatabase(kind: 'postgres' | 'pglite', cleanups: { push(c: Cleanup): void }): Promise<DatabaseHandle> {
  if (kind === 'pglite') {
    const handle = await openDatabase({});
    cleanups.push(() => handle.close());
    return handle;
  }
  const { url, drop } = await isolatedDatabase();
  cleanups.push(drop);
  const handle = await openDatabase({ url, poolSize: 2 });
  cleanups.push(() => handle.close());
  return handle;
}

export async function testStorage(cleanups: { push(c: Cleanup): void }, override: { secretAccessKey?: string } = {}): Promise<ObjectStorage> {
  const { bucket, server, drop } = await isolatedBucket();
  cleanups.push(drop);
  const storage = createObjectStorage({ ...server, bucket, ...override });
  cleanups.push(() => storage.close());
  return storage;
}

export function collectingLogger() {
  const lines: Record<string, unknown>[] = [];
  const log = createLogger('api', { level: 'debug', write: (line: string) => lines.push(JSON.parse(line) as Record<string, unknown>) });
  return { log, lines };
}

export async function testRedis(cleanups: { push(c: Cleanup): void }, url?: string) {
  const redisUrl = url ?? (await isolatedRedisUrl());
  const redis = createRedis(redisUrl, 'api-test');
  cleanups.push(() => redis.disconnect());
  return redis;
}

export const TEST_JWT_SECRET = 'test-secret-of-at-least-32-characters-0123456789';

export function baseDeps(parts: Pick<ApiDeps, 'redis' | 'database' | 'storage' | 'log'> & Partial<ApiDeps>): ApiDeps {
  return {
    workerHeartbeatMaxAgeMs: 10_000,
    auth: {
      jwtSecret: TEST_JWT_SECRET,
      accessTtlS: 900,
      refreshTtlS: 3600,
      loginLimit: 10,
      loginWindowS: 900,
      adminEmails: ['admin@proteus.test'],
      ratePerMinute: 600,
      trustedProxies: ['127.0.0.1', '::1'],
    },
    images: { maxBytes: 15 * 1024 * 1024, presignTtlS: 300, maxPixels: 40_000_000 },
    ...parts,
  };
}

/** A port nothing listens on: bound, then released. */
export function closedPort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
  });
}

const vectors = join(import.meta.dirname, '..', '..', '..', 'eventing', 'test-vectors', 'valid');

/** A valid event from the eventing contract's test vectors. */
export function validVector(name: string): Record<string, unknown> & { id: string; source: string; type: string } {
  return JSON.parse(readFileSync(join(vectors, `${name}.json`), 'utf8'));
}

export const PROBLEMS = 'https://proteus.dev/problems/';

export type ProblemBody = Awaited<ReturnType<typeof problemOf>> & { errors?: { path: string; message: string }[] };

/** Checks that `response` is the problem `slug` with `status`, and returns it. */
export async function expectProblem(response: Response, status: number, slug: string): Promise<ProblemBody> {
  expect(response.status, await response.clone().text()).toBe(status);
  const problem = (await problemOf(response)) as ProblemBody;
  expect(problem).toMatchObject({ type: PROBLEMS + slug, status });
  return problem;
}

/** Reads a problem+json answer and checks its content type. */
export async function problemOf(response: Response): Promise<{ type: string; title: string; status: number; detail?: string; instance?: string }> {
  if (!response.headers.get('content-type')?.startsWith('application/problem+json')) {
    throw new Error(`expected application/problem+json, got ${response.headers.get('content-type')} (${response.status}): ${await response.text()}`);
  }
  return (await response.json()) as { type: string; title: string; status: number; detail?: string };
}

export type App = ReturnType<typeof createApp>;

/** A whole api on the real services, one per suite: its parts, and `reset()` between tests. */
export interface ApiWorld {
  database: DatabaseHandle;
  redis: Redis;
  storage: ObjectStorage;
  deps: ApiDeps;
  app: App;
  lines: Record<string, unknown>[];
  /** no users (their rows cascade), no processed events, an empty Redis database, no log lines */
  reset(): Promise<void>;
}

export async function apiWorld(kind: 'postgres' | 'pglite', cleanups: { push(c: Cleanup): void }, extra: Partial<ApiDeps> = {}): Promise<ApiWorld> {
  const database = await openTestDatabase(kind, cleanups);
  const redis = await testRedis(cleanups);
  const storage = await testStorage(cleanups);
  const { log, lines } = collectingLogger();
  const deps = baseDeps({ redis, database, storage, log, ...extra });
  return {
    database,
    redis,
    storage,
    deps,
    app: createApp(deps),
    lines,
    async reset() {
      await database.db.deleteFrom('users').execute();
      await database.db.deleteFrom('processed_events').execute();
      await redis.flushdb();
      lines.length = 0;
    },
  };
}

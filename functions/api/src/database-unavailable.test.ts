/**
 * The database down (a stop, a restart, a refused connection): requests that need it answer 503
 * `database-unavailable` with Retry-After, and a submission leaves no queued entry behind.
 */
import { randomUUID } from 'node:crypto';
import type { DatabaseHandle } from '@proteus/common/db';
import { keys } from '@proteus/eventing';
import { Kysely, PostgresDialect } from 'kysely';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { jsonInit } from '../test/accounts.ts';
import { baseDeps, cleanupStack, closedPort, collectingLogger, expectProblem, testRedis, testStorage } from '../test/deps.ts';
import { createApp } from './app.ts';
import { signAccessToken } from './auth/tokens.ts';

describe('the database cannot be reached', () => {
  const cleanups = cleanupStack();
  let app: ReturnType<typeof createApp>;
  let token: string;
  let redis: Awaited<ReturnType<typeof testRedis>>;
  let lines: Record<string, unknown>[];

  beforeAll(async () => {
    const pool = new pg.Pool({ connectionString: `postgres://proteus@127.0.0.1:${await closedPort()}/gone`, connectionTimeoutMillis: 2000 });
    pool.on('error', () => {});
    const db = new Kysely({ dialect: new PostgresDialect({ pool }) }) as DatabaseHandle['db'];
    const database: DatabaseHandle = { db, kind: 'postgres', ping: async () => {}, close: () => db.destroy() };
    cleanups.push(() => database.close());
    redis = await testRedis(cleanups);
    const logger = collectingLogger();
    lines = logger.lines;
    const deps = baseDeps({ redis, database, storage: await testStorage(cleanups), log: logger.log });
    app = createApp(deps);
    token = await signAccessToken(deps.auth, { id: randomUUID(), role: 'user' });
  });
  afterAll(() => cleanups.run());

  it('answers 503 database-unavailable with Retry-After to a signed-in request, a sign-up and a submission, and queues nothing', async () => {
    const snap = await app.request('/api/snap', jsonInit('POST', { personKey: 'users/u/person/a.jpg', garmentKey: 'users/u/garment/b.jpg' }, token));
    const problem = await expectProblem(snap, 503, 'database-unavailable');
    expect(problem.detail).toContain('retry later');
    expect(snap.headers.get('retry-after')).toBe('1');
    await expectProblem(await app.request('/api/jobs', jsonInit('GET', undefined, token)), 503, 'database-unavailable');
    await expectProblem(
      await app.request('/api/auth/signup', jsonInit('POST', { email: 'a@example.com', password: 'correct horse battery staple' })),
      503,
      'database-unavailable',
    );
    for (const stream of [keys.streams.jobs, keys.streams.segment]) expect(await redis.xlen(stream)).toBe(0);
    // logged as what it is, not as an unhandled error with a stack
    expect(lines.filter((l) => l.msg === 'database unavailable').length).toBe(3);
    expect(lines.filter((l) => l.msg === 'unhandled error')).toEqual([]);
  });
});

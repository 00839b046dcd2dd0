import { request } from 'node:http';
import { join } from 'node:path';
import { isolatedBucket, isolatedDatabase, isolatedRedisUrl, s3TestServer, serverProcessSuite } from '@proteus/testkit';
import { expect } from 'vitest';
import { cleanupStack } from '../test/deps.ts';
import { MAX_JSON_BYTES } from './validation.ts';

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
    ['DATABASE_PREPARED_STATEMENTS', { DATABASE_PREPARED_STATEMENTS: 'maybe' }],
  ],
  healthPath: '/healthz',
  async whileRunning(url, listening) {
    expect(listening.database).toBe('postgres');
    await jsonBodiesOverNode(url);
    return undefined;
  },
  cleanup: () => cleanups.run(),
});

/**
 * A POST over a connection of its own; `chunks` are written as they are (chunked unless
 * content-length is set), `pauseMs` apart.
 */
function post(url: string, path: string, headers: Record<string, string>, chunks: (string | Buffer)[], pauseMs = 0) {
  return new Promise<{ status: number; headers: Record<string, unknown>; body: string }>((resolve, reject) => {
    const req = request(new URL(path, url), { method: 'POST', headers, agent: false }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (d) => {
        body += d;
      });
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body }));
    });
    req.on('error', reject);
    void (async () => {
      for (const [i, chunk] of chunks.entries()) {
        if (i > 0 && pauseMs > 0) await new Promise((r) => setTimeout(r, pauseMs));
        req.write(chunk);
      }
      req.end();
    })();
  });
}

/**
 * JSON bodies as the running server reads them (validation.ts reads Node's request itself on
 * @hono/node-server; app.request in the other suites takes the web Request path).
 */
async function jsonBodiesOverNode(url: string) {
  const json = { 'content-type': 'application/json' };
  const signup = (email: string) => JSON.stringify({ email, password: 'correct horse battery staple' });
  const created = await post(url, '/api/auth/signup', json, [signup('node@example.com')]);
  expect(created.status, created.body).toBe(201);
  // in two chunks, with a byte order mark, as Request.json() would take it
  const half = signup('bom@example.com');
  const bom = await post(url, '/api/auth/signup', json, [Buffer.from([0xef, 0xbb, 0xbf]), half.slice(0, 10), half.slice(10)]);
  expect(bom.status, bom.body).toBe(201);
  // the body read whole at once when it has all arrived with the headers, awaited when it has not
  const slow = signup('slow@example.com');
  const late = await post(url, '/api/auth/signup', { ...json, 'content-length': String(Buffer.byteLength(slow)) }, [slow.slice(0, 10), slow.slice(10)], 100);
  expect(late.status, late.body).toBe(201);

  const malformed = await post(url, '/api/auth/signup', json, ['{"email": ']);
  expect(malformed.status).toBe(400);
  expect(JSON.parse(malformed.body)).toMatchObject({
    type: expect.stringContaining('invalid-request'),
    errors: [{ path: '(body)', message: 'malformed JSON' }],
  });
  const empty = await post(url, '/api/auth/signup', json, []);
  expect(empty.status).toBe(400);
  const text = await post(url, '/api/auth/signup', { 'content-type': 'text/plain' }, [signup('text@example.com')]);
  expect(text.status).toBe(415);

  const big = Buffer.alloc(MAX_JSON_BYTES + 1, 0x20);
  const declared = await post(url, '/api/auth/signup', { ...json, 'content-length': String(big.length) }, [big]);
  expect(declared.status).toBe(413);
  expect(declared.headers.connection).toBe('close');
  // chunked: no length to read up front, so it is counted as it arrives
  const chunked = await post(url, '/api/auth/signup', json, [big.subarray(0, 40_000), big.subarray(40_000)]);
  expect(chunked.status).toBe(413);
  expect(JSON.parse(chunked.body)).toMatchObject({ type: expect.stringContaining('body-too-large') });
  expect(chunked.headers.connection).toBe('close');
  // far over the limit: the client is still sending when the refusal is ready; the rest is read
  // first (up to 16 MiB), so the answer reaches it instead of a reset connection
  const huge = Buffer.alloc(4 * 1024 * 1024, 0x20);
  for (const headers of [{ ...json, 'content-length': String(huge.length) }, json]) {
    const refused = await post(url, '/api/auth/signup', headers, [huge]);
    expect(refused.status).toBe(413);
    expect(refused.headers.connection).toBe('close');
  }
  const after = await post(url, '/api/auth/signup', json, [signup('after@example.com')]);
  expect(after.status, after.body).toBe(201);
}

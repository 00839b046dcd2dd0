/**
 * The real services a test talks to. `npm test` (scripts/test.sh) starts Redis 7, PostgreSQL
 * and SeaweedFS (an S3 server that verifies signatures and POST policies) on private ports and
 * passes their addresses in PROTEUS_TEST_* variables. A test run without them fails and says
 * how to get them: it never skips.
 */
import { randomBytes } from 'node:crypto';
import { CreateBucketCommand, DeleteBucketCommand, DeleteObjectsCommand, ListObjectsV2Command, S3Client } from '@aws-sdk/client-s3';
import { Redis } from 'ioredis';
import pg from 'pg';

export function requireEnv(name: string): string {
  const value = process.env[name];
  if (!value) {
    throw new Error(
      `${name} is not set: this test needs the real services that \`npm test\` starts (scripts/test.sh). ` +
        'Run `npm test`, or `source .test/env` after `bash scripts/test.sh --services-only`.',
    );
  }
  return value;
}

export const uniqueName = (prefix: string) => `${prefix}-${Date.now().toString(36)}-${randomBytes(3).toString('hex')}`;

/**
 * A Redis database of its own (SELECT n), flushed, so suites running in parallel never share keys
 * and the fixed key names of the contract can be used as they are.
 */
export async function isolatedRedisUrl(): Promise<string> {
  const base = new URL(requireEnv('PROTEUS_TEST_REDIS_URL'));
  const admin = new Redis(base.toString(), { lazyConnect: true, maxRetriesPerRequest: 1 });
  try {
    await admin.connect();
    let databases = 16;
    try {
      const reply = (await admin.config('GET', 'databases')) as string[];
      databases = Number(reply[1]) || 16;
    } catch {
      // managed Redis may forbid CONFIG; 16 is Redis's default
    }
    // db 0 holds the allocation counter
    const n = ((await admin.incr('testkit:next-db')) % (databases - 1)) + 1;
    base.pathname = `/${n}`;
    const db = new Redis(base.toString(), { maxRetriesPerRequest: 1 });
    await db.flushdb();
    db.disconnect();
    return base.toString();
  } finally {
    admin.disconnect();
  }
}

/** A fresh PostgreSQL database; `drop()` removes it. */
export async function isolatedDatabase(): Promise<{ url: string; drop: () => Promise<void> }> {
  const adminUrl = requireEnv('PROTEUS_TEST_DATABASE_URL');
  const name = uniqueName('test').replace(/-/g, '_');
  const admin = new pg.Client({ connectionString: adminUrl });
  await admin.connect();
  await admin.query(`CREATE DATABASE ${name}`);
  await admin.end();
  const url = new URL(adminUrl);
  url.pathname = `/${name}`;
  return {
    url: url.toString(),
    async drop() {
      const c = new pg.Client({ connectionString: adminUrl });
      await c.connect();
      await c.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
      await c.end();
    },
  };
}

export interface S3TestServer {
  endpoint: string;
  region: string;
  accessKeyId: string;
  secretAccessKey: string;
}

export function s3TestServer(): S3TestServer {
  return {
    endpoint: requireEnv('PROTEUS_TEST_S3_ENDPOINT'),
    region: process.env.PROTEUS_TEST_S3_REGION ?? 'us-east-1',
    accessKeyId: requireEnv('PROTEUS_TEST_S3_ACCESS_KEY'),
    secretAccessKey: requireEnv('PROTEUS_TEST_S3_SECRET_KEY'),
  };
}

export function s3Client(server: S3TestServer = s3TestServer()): S3Client {
  return new S3Client({
    endpoint: server.endpoint,
    region: server.region,
    forcePathStyle: true,
    credentials: { accessKeyId: server.accessKeyId, secretAccessKey: server.secretAccessKey },
    requestChecksumCalculation: 'WHEN_REQUIRED',
    responseChecksumValidation: 'WHEN_REQUIRED',
  });
}

/** A fresh bucket on the test S3 server; `drop()` empties and removes it. */
export async function isolatedBucket(): Promise<{ bucket: string; server: S3TestServer; drop: () => Promise<void> }> {
  const server = s3TestServer();
  const client = s3Client(server);
  const bucket = uniqueName('test');
  await client.send(new CreateBucketCommand({ Bucket: bucket }));
  return {
    bucket,
    server,
    async drop() {
      const listed = await client.send(new ListObjectsV2Command({ Bucket: bucket }));
      const objects = (listed.Contents ?? []).map((o) => ({ Key: o.Key }));
      if (objects.length) await client.send(new DeleteObjectsCommand({ Bucket: bucket, Delete: { Objects: objects } }));
      await client.send(new DeleteBucketCommand({ Bucket: bucket }));
      client.destroy();
    },
  };
}

/** Polls `check` until it returns a truthy value or the timeout passes. */
export async function waitFor<T>(check: () => T | Promise<T>, { timeoutMs = 5000, intervalMs = 25, what = 'condition' } = {}): Promise<NonNullable<T>> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const value = await check();
      if (value) return value as NonNullable<T>;
    } catch (error) {
      last = error;
    }
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}${last ? `: ${String(last)}` : ''}`);
    await new Promise((r) => setTimeout(r, intervalMs));
  }
}
export { logLine, occupiedPort, type PartProcess, processGone, runPart, startPart } from './process.ts';
export { type ServerSuite, serverProcessSuite } from './server-suite.ts';

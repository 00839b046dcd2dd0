/**
 * The arbitrator driving a real gpu-worker process (gpu-worker/.venv, `python -m proteus_worker`,
 * the warp engine, started with the variables the dev stack gives it) over the real Redis and S3
 * server: a policy change written by one tick is what the worker's very next batch runs with.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { join } from 'node:path';
import { crc32, deflateSync } from 'node:zlib';
import { PutObjectCommand } from '@aws-sdk/client-s3';
import { createLogger, createRedis } from '@proteus/common';
import { createEvent, createProducer, keys, type ProteusEvent, parseEvent, toBinaryHttp } from '@proteus/eventing';
import { isolatedBucket, isolatedRedisUrl, s3Client, waitFor } from '@proteus/testkit';
import type { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createApp } from './app.ts';
import { defaultPolicyConfig } from './policy.ts';

const repoRoot = join(import.meta.dirname, '..', '..', '..');
const python = join(repoRoot, 'gpu-worker', '.venv', 'bin', 'python');
const TICK_MS = 500;
const USER = 'u1';
const PERSON = `users/${USER}/person/p1.png`;
const GARMENT = `users/${USER}/garment/g1.png`;

/** A PNG of one colour (RGB or RGBA), encoded by hand: no image library needed. */
function png(width: number, height: number, pixel: number[]): Buffer {
  const row = Buffer.concat([Buffer.from([0]), Buffer.from(Array.from({ length: width }, () => pixel).flat())]);
  const chunk = (type: string, data: Buffer) => {
    const body = Buffer.concat([Buffer.from(type, 'ascii'), data]);
    const out = Buffer.alloc(body.length + 8);
    out.writeUInt32BE(data.length, 0);
    body.copy(out, 4);
    out.writeUInt32BE(crc32(body), body.length + 4);
    return out;
  };
  const header = Buffer.alloc(13);
  header.writeUInt32BE(width, 0);
  header.writeUInt32BE(height, 4);
  header.set([8, pixel.length === 4 ? 6 : 2, 0, 0, 0], 8);
  return Buffer.concat([
    Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]),
    chunk('IHDR', header),
    chunk('IDAT', deflateSync(Buffer.concat(Array.from({ length: height }, () => row)))),
    chunk('IEND', Buffer.alloc(0)),
  ]);
}

/** MediaPipe's 33 landmarks of a person facing the camera (as gpu-worker/tests/tryon.py's pose()). */
function pose() {
  const points = Array.from({ length: 33 }, () => ({ x: 0.5, y: 0.15, visibility: 0.9 }));
  points[12] = { x: 0.35, y: 0.3, visibility: 0.99 };
  points[11] = { x: 0.65, y: 0.3, visibility: 0.99 };
  points[24] = { x: 0.4, y: 0.7, visibility: 0.99 };
  points[23] = { x: 0.6, y: 0.7, visibility: 0.99 };
  return points;
}

let redis: Redis;
let redisUrl: string;
let storage: Awaited<ReturnType<typeof isolatedBucket>>;
let worker: ChildProcess;
let workerOutput = '';

beforeAll(async () => {
  redisUrl = await isolatedRedisUrl();
  redis = createRedis(redisUrl, 'arbitrator-worker-test');
  storage = await isolatedBucket();
  const s3 = s3Client(storage.server);
  await s3.send(new PutObjectCommand({ Bucket: storage.bucket, Key: PERSON, Body: png(48, 64, [200, 180, 160]), ContentType: 'image/png' }));
  await s3.send(new PutObjectCommand({ Bucket: storage.bucket, Key: GARMENT, Body: png(40, 48, [30, 60, 200, 255]), ContentType: 'image/png' }));
  s3.destroy();
  // what scripts/src/dev.ts gives the worker, with the instant engine and a port of its own
  worker = spawn(python, ['-u', '-m', 'proteus_worker'], {
    cwd: join(repoRoot, 'gpu-worker'),
    env: {
      PATH: process.env.PATH ?? '',
      HOME: process.env.HOME ?? '/tmp',
      LOG_LEVEL: 'warn',
      REDIS_URL: redisUrl,
      OBJECT_STORAGE_ENDPOINT: storage.server.endpoint,
      OBJECT_STORAGE_BUCKET: storage.bucket,
      OBJECT_STORAGE_REGION: storage.server.region,
      OBJECT_STORAGE_ACCESS_KEY: storage.server.accessKeyId,
      OBJECT_STORAGE_SECRET_KEY: storage.server.secretAccessKey,
      WORKER_NAME: 'arbitrated-worker',
      WORKER_ENGINE: 'warp',
      WORKER_HEALTH_PORT: '0',
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  worker.stdout?.setEncoding('utf8').on('data', (chunk: string) => {
    workerOutput += chunk;
  });
  worker.stderr?.setEncoding('utf8').on('data', (chunk: string) => {
    workerOutput += chunk;
  });
  await waitFor(() => workerOutput.includes('listening on') || worker.exitCode !== null, { timeoutMs: 60_000, what: 'the worker to start' });
  if (worker.exitCode !== null) throw new Error(`the worker exited at start:\n${workerOutput}`);
}, 90_000);

afterAll(async () => {
  if (worker && worker.exitCode === null) {
    const exited = new Promise((resolve) => worker.once('exit', resolve));
    worker.kill('SIGTERM');
    await Promise.race([exited, new Promise((resolve) => setTimeout(resolve, 10_000))]);
    if (worker.exitCode === null) worker.kill('SIGKILL');
  }
  redis?.disconnect();
  await storage?.drop();
});

async function completions(): Promise<ProteusEvent<'dev.proteus.tryon.completed'>[]> {
  const entries = await redis.xrange(keys.streams.lifecycle, '-', '+');
  const out: ProteusEvent<'dev.proteus.tryon.completed'>[] = [];
  for (const [, fields] of entries) {
    const event = parseEvent(JSON.parse(fields[1]!));
    if (event.type === 'dev.proteus.tryon.completed') out.push(event);
  }
  return out;
}

describe('the arbitrator driving a real worker', () => {
  it('changes the batch size of the worker from its next batch, within one tick', async () => {
    const log = createLogger('arbitrator', { write: () => undefined });
    const app = createApp({ redis, log, policyConfig: defaultPolicyConfig });
    const tick = async (seq: number) => {
      const response = await app.request('/', { method: 'POST', ...toBinaryHttp(createEvent('dev.proteus.arbitrator.tick', 'eventing', { seq, skipped: 0 })) });
      expect(response.status).toBe(204);
    };
    const producer = createProducer(redis);
    const enqueuedAt = new Map<string, number>();
    const enqueue = async (count: number, first: number) => {
      for (let i = first; i < first + count; i++) {
        const event = createEvent('dev.proteus.tryon.requested', 'api', {
          jobId: `job-${i}`,
          userId: USER,
          vtonId: `vton-${i}`,
          personKey: PERSON,
          garmentKey: GARMENT,
          landmarks: pose(),
          seed: i,
          engine: 'warp',
        });
        const id = await producer.emit(keys.streams.jobs, event);
        enqueuedAt.set(`job-${i}`, Number(id.split('-')[0]));
      }
    };
    const done = async (count: number) => waitFor(async () => (await completions()).length >= count, { timeoutMs: 60_000, what: `${count} completions` });

    // quiet: VIP, batch 1
    await tick(0);
    expect(await redis.get(keys.config.batchSize)).toBe('1');
    await enqueue(3, 0);
    await done(3);
    expect((await completions()).map((c) => c.data.batchSize)).toEqual([1, 1, 1]);

    // a crowd arrives; the next tick sees the depth and writes SURGE, batch 8
    await enqueue(80, 100);
    await tick(1);
    const writtenAt = Date.now();
    expect(await redis.mget(keys.config.batchSize, keys.config.mode)).toEqual(['8', 'SURGE']);
    await done(83);

    // batches, by when they started (enqueue time + waitMs is the batch's start), after the write
    const batches = new Map<number, number[]>();
    for (const c of (await completions()).slice(3)) {
      const start = Math.round(enqueuedAt.get(c.data.jobId)! + c.data.waitMs);
      batches.set(start, [...(batches.get(start) ?? []), c.data.batchSize]);
    }
    const after = [...batches].filter(([start]) => start > writtenAt).sort((a, b) => a[0] - b[0]);
    const sizes = after.map(([, s]) => s[0]!);
    // every job of a batch reports that batch's size
    expect(after.every(([, s]) => s.length === s[0])).toBe(true);
    // at most one batch (whose policy the worker read just before the write) runs at the old size;
    // every later one is full at 8, but the last, which takes what is left
    const firstFull = sizes.indexOf(8);
    expect(firstFull).toBeGreaterThanOrEqual(0);
    expect(firstFull).toBeLessThanOrEqual(1);
    expect(sizes.slice(firstFull, -1).every((s) => s === 8)).toBe(true);
    const delayMs = after[firstFull]![0] - writtenAt;
    process.stdout.write(`first batch of 8 started ${delayMs} ms after the policy was written; batches after it: ${sizes.join(',')}\n`);
    expect(delayMs).toBeLessThan(TICK_MS);
    const change = parseEvent(JSON.parse((await redis.xrevrange(keys.arbitrator.policyChanges, '+', '-', 'COUNT', 1))[0]![1][1]!));
    expect(change).toMatchObject({ type: 'dev.proteus.policy.changed', data: { batchSize: 8, mode: 'SURGE' } });
  }, 120_000);
});

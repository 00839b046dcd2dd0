/**
 * kill -9 of the stream source in the middle of 10,000 deliveries: a second instance (another
 * consumer name, as a replacement pod would have) takes over what the first left pending and
 * delivers the rest. Every event arrives (counted by id); duplicates are counted and reported.
 */
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { isolatedRedisUrl, logLine, startPart, waitFor } from '@proteus/testkit';
import { Redis } from 'ioredis';
import { afterAll, expect, it } from 'vitest';
import { createEvent } from '../events.ts';
import { entryField, groups, streams } from '../keys.ts';

const packageDir = join(import.meta.dirname, '..', '..');
const cleanups: (() => unknown)[] = [];
afterAll(async () => {
  for (const c of cleanups.reverse()) await c();
});

it('loses nothing when the source is killed with -9 mid-stream; the replacement takes over', async () => {
  const TOTAL = 10_000;
  const redisUrl = await isolatedRedisUrl();
  const redis = new Redis(redisUrl);
  cleanups.push(() => redis.disconnect());

  const received = new Map<string, number>();
  const sink = createServer((req, res) => {
    const id = String(req.headers['ce-id']);
    received.set(id, (received.get(id) ?? 0) + 1);
    req.resume();
    req.on('end', () => res.writeHead(204).end());
  });
  await new Promise<void>((r) => sink.listen(0, '127.0.0.1', r));
  cleanups.push(() => new Promise<void>((r) => sink.close(() => r())));
  const sinkUrl = `http://127.0.0.1:${(sink.address() as AddressInfo).port}`;

  const sent = new Set<string>();
  for (let start = 0; start < TOTAL; start += 1000) {
    const pipeline = redis.pipeline();
    for (let i = start; i < start + 1000; i++) {
      const event = createEvent('dev.proteus.tryon.progress', 'gpu-worker', { jobId: `job-${i}`, userId: 'u1', step: 1, steps: 2 });
      sent.add(event.id);
      pipeline.xadd(streams.lifecycle, '*', entryField, JSON.stringify(event));
    }
    await pipeline.exec();
  }

  const env = (consumer: string) => ({
    REDIS_URL: redisUrl,
    STREAM_SOURCE_ROUTES: 'lifecycle',
    API_URL: sinkUrl,
    CONSUMER_NAME: consumer,
    STREAM_SOURCE_RECLAIM_IDLE_MS: '1000',
    PORT: '0',
    LOG_LEVEL: 'warn',
  });
  const first = startPart(packageDir, 'src/bin/stream-source.ts', env('source-a'));
  cleanups.push(() => first.child.exitCode === null && first.child.kill('SIGKILL'));
  await waitFor(() => received.size >= 2000, { timeoutMs: 30_000, what: '2,000 deliveries before the crash' });
  first.child.kill('SIGKILL');
  await first.exited;
  const atCrash = received.size;

  const second = startPart(packageDir, 'src/bin/stream-source.ts', { ...env('source-b'), LOG_LEVEL: 'info' });
  cleanups.push(() => second.child.exitCode === null && second.child.kill('SIGKILL'));
  await logLine(second, 'listening');
  await waitFor(() => received.size === TOTAL, { timeoutMs: 60_000, intervalMs: 100, what: `all ${TOTAL} events (have ${received.size})` });
  await waitFor(async () => Number(((await redis.xpending(streams.lifecycle, groups.recorders)) as [number])[0]) === 0, {
    timeoutMs: 10_000,
    what: 'nothing pending',
  });

  const lost = [...sent].filter((id) => !received.has(id));
  const duplicates = [...received.values()].reduce((sum, n) => sum + n - 1, 0);
  console.log(`kill -9 after ${atCrash} of ${TOTAL} delivered: lost ${lost.length}, duplicates ${duplicates}`);
  expect(lost).toEqual([]);
  expect(received.size).toBe(TOTAL);
  // at most what was under way (in flight, or acked in the batch the kill cut short)
  expect(duplicates).toBeLessThanOrEqual(2 * 64);
  expect(await redis.xlen(streams.dead)).toBe(0);
  second.child.kill('SIGTERM');
  expect(await second.exited).toEqual({ code: 0, signal: null });
}, 120_000);

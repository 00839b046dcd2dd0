/**
 * The stream source against the physical limits of this machine, in one run:
 *  1. throughput: N events pre-filled in a stream, drained by the stream source to a 204 sink
 *     (another process), side by side with raw ioredis loops that only XREADGROUP + XACK
 *     (no HTTP): one that acks each entry as it reads it, one that reads and acks in batches.
 *  2. latency: events XADDed at a steady 1,000/s for 10 s; enqueue-to-sink p50 and p99.
 * It starts its own Redis (redis-server on a free port). Goals (issue #3): >= 5,000 events/s,
 * >= 60% of the raw loop, p99 <= 10 ms at 1,000 events/s.
 *   npm run eventing -w @proteus/bench [-- N]
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { join } from 'node:path';
import { createEvent, createStreamSource, defaultDelivery, keys, type StreamRoute } from '@proteus/eventing';
import { Redis } from 'ioredis';
import { startRedis } from '../redis.ts';

const N = Number(process.argv[2] ?? 50_000);
const stream = keys.streams.lifecycle;
const group = keys.groups.recorders;
const silent = { info() {}, warn() {}, error() {} };

function startProcess(command: string, args: string[]): { child: ChildProcess; firstLine: Promise<string> } {
  const child = spawn(command, args, { stdio: ['ignore', 'pipe', 'inherit'] });
  const firstLine = new Promise<string>((resolve) => {
    let text = '';
    child.stdout?.on('data', (d) => {
      text += d;
      if (text.includes('\n')) resolve(text.split('\n')[0]!);
    });
  });
  return { child, firstLine };
}

const { url: redisUrl } = await startRedis();
const redis = new Redis(redisUrl);
const sinkProcess = startProcess(process.execPath, ['--import', 'tsx', join(import.meta.dirname, 'sink.ts')]);
process.on('exit', () => sinkProcess.child.kill());
const sinkUrl = `http://127.0.0.1:${(JSON.parse(await sinkProcess.firstLine) as { port: number }).port}/`;
const sinkStats = async () => (await (await fetch(new URL('/stats', sinkUrl))).json()) as { count: number; p50: number; p99: number; max: number };

/** A fresh stream holding `n` valid events, its group at 0. */
async function fill(n: number) {
  await redis.del(stream);
  await redis.xgroup('CREATE', stream, group, '0', 'MKSTREAM');
  const template = createEvent('dev.proteus.tryon.progress', 'gpu-worker', { jobId: 'job-0', userId: 'u1', step: 1, steps: 2 });
  for (let start = 0; start < n; start += 2000) {
    const pipeline = redis.pipeline();
    for (let i = start; i < Math.min(n, start + 2000); i++) {
      pipeline.xadd(stream, '*', keys.entryField, JSON.stringify({ ...template, id: `bench-${i}`, time: new Date().toISOString() }));
    }
    await pipeline.exec();
  }
}

async function rawLoop(count: number, ackEach: boolean): Promise<number> {
  await fill(N);
  const conn = new Redis(redisUrl);
  const t0 = performance.now();
  let done = 0;
  while (done < N) {
    const reply = (await conn.xreadgroup('GROUP', group, 'raw', 'COUNT', count, 'STREAMS', stream, '>')) as [string, [string, string[]][]][] | null;
    const entries = reply?.[0]?.[1] ?? [];
    if (ackEach) for (const [id] of entries) await conn.xack(stream, group, id);
    else if (entries.length) await conn.xack(stream, group, ...entries.map(([id]) => id));
    done += entries.length;
  }
  const seconds = (performance.now() - t0) / 1000;
  conn.disconnect();
  return N / seconds;
}

const route: StreamRoute = {
  name: 'bench',
  stream,
  group,
  sink: { part: 'api', path: '/events' },
  delivery: { ...defaultDelivery, timeout: 'PT10S' },
  inFlight: 64,
};

async function sourceThroughput(): Promise<number> {
  await fill(N);
  await fetch(new URL('/reset', sinkUrl), { method: 'POST' });
  const source = createStreamSource({ redis, routes: [{ route, sinkUrl }], consumer: 'bench', log: silent });
  const t0 = performance.now();
  source.start();
  for (;;) {
    const pending = Number(((await redis.xpending(stream, group)) as [number])[0]);
    const info = (await redis.xinfo('GROUPS', stream)) as unknown[][];
    const lag = Number(info[0]?.[info[0].indexOf('lag') + 1] ?? 1);
    if (pending === 0 && lag === 0) break;
    await new Promise((r) => setTimeout(r, 5));
  }
  const seconds = (performance.now() - t0) / 1000;
  await source.stop();
  const { count } = await sinkStats();
  if (count < N) throw new Error(`sink got ${count} of ${N}`);
  return N / seconds;
}

async function latencyAt(rate: number, seconds: number) {
  await redis.del(stream);
  await redis.xgroup('CREATE', stream, group, '0', 'MKSTREAM');
  await fetch(new URL('/reset', sinkUrl), { method: 'POST' });
  const source = createStreamSource({ redis, routes: [{ route, sinkUrl }], consumer: 'bench', log: silent, blockMs: 1000 });
  source.start();
  const producer = new Redis(redisUrl);
  const template = createEvent('dev.proteus.tryon.progress', 'gpu-worker', { jobId: 'job-0', userId: 'u1', step: 1, steps: 2 });
  const total = rate * seconds;
  const t0 = performance.now();
  let sent = 0;
  while (sent < total) {
    const due = Math.min(total, Math.floor(((performance.now() - t0) / 1000) * rate));
    for (; sent < due; sent++) {
      void producer.xadd(stream, '*', keys.entryField, JSON.stringify({ ...template, id: `lat-${sent}`, time: new Date().toISOString() }));
    }
    await new Promise((r) => setTimeout(r, 1));
  }
  for (let i = 0; i < 200 && (await sinkStats()).count < total; i++) await new Promise((r) => setTimeout(r, 50));
  await source.stop();
  producer.disconnect();
  return sinkStats();
}

try {
  const rawEach = await rawLoop(1, true);
  const rawBatch = await rawLoop(64, false);
  const source = await sourceThroughput();
  const latency = await latencyAt(1000, 10);
  const fmt = (n: number) => Math.round(n).toLocaleString('en-US');
  console.log(`\nStream source on this machine (${N.toLocaleString('en-US')} events; sink: another process answering 204)\n`);
  console.log('| loop | events/s | source as % of it |\n|---|---|---|');
  console.log(`| raw ioredis: XREADGROUP COUNT 1 + XACK per entry (no HTTP) | ${fmt(rawEach)} | ${((source / rawEach) * 100).toFixed(0)}% |`);
  console.log(`| raw ioredis: XREADGROUP COUNT 64 + one XACK per batch (no HTTP) | ${fmt(rawBatch)} | ${((source / rawBatch) * 100).toFixed(0)}% |`);
  console.log(`| stream source: XREADGROUP, POST binary CloudEvent, XACK (64 in flight) | ${fmt(source)} | |`);
  console.log(
    `\nEnqueue-to-sink latency at 1,000 events/s for 10 s: p50 ${latency.p50} ms, p99 ${latency.p99} ms, max ${latency.max} ms (${latency.count} delivered)`,
  );
  console.log(
    `Goals: >= 5,000 events/s: ${source >= 5000 ? 'yes' : 'NO'}; >= 60% of the per-entry raw loop: ${source >= 0.6 * rawEach ? 'yes' : 'NO'}; p99 <= 10 ms: ${latency.p99 <= 10 ? 'yes' : 'NO'}`,
  );
} finally {
  redis.disconnect();
}

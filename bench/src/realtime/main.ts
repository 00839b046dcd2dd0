/**
 * The realtime function under load, against a bare `ws` server measured in the same run:
 *  1. memory: resident size of the server process before and after 10,000 idle sockets
 *     (authenticated ones for realtime), per socket;
 *  2. latency: 1,000 events/s for 10 s published on Redis to 200 owners, each with one socket:
 *     publish-to-socket p50 and p99 (clocks: performance.timeOrigin + now() in both processes).
 * Goal (issue #4): p99 <= 25 ms at 1,000 events/s.
 *   npm run realtime -w @proteus/bench [-- sockets]
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { keys } from '@proteus/eventing';
import { sign } from 'hono/jwt';
import { Redis } from 'ioredis';
import WebSocket from 'ws';
import { startRedis } from '../redis.ts';

const SOCKETS = Number(process.argv[2] ?? 10_000);
const SECRET = 'bench-secret-of-at-least-32-characters-long';
const ORIGIN = 'http://localhost:8080';
const repoRoot = join(import.meta.dirname, '..', '..', '..');
const clock = () => performance.timeOrigin + performance.now();

function startServer(entry: string, env: Record<string, string>): Promise<{ child: ChildProcess; wsUrl: string }> {
  const child = spawn(process.execPath, ['--import', 'tsx', entry], {
    cwd: repoRoot,
    env: { PATH: process.env.PATH ?? '', ...env },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  process.on('exit', () => child.kill());
  return new Promise((resolve) => {
    let text = '';
    child.stdout?.on('data', (d) => {
      text += d;
      const line = text.split('\n').find((l) => l.includes('"listening"'));
      if (line) resolve({ child, wsUrl: `${String((JSON.parse(line) as { url: string }).url).replace('http', 'ws')}/updates` });
    });
  });
}

const rssKiB = (pid: number) => Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1] ?? 0);
const token = (sub: string) =>
  sign({ sub, role: 'user', typ: 'access', iat: Math.floor(Date.now() / 1000), exp: Math.floor(Date.now() / 1000) + 3600 }, SECRET, 'HS256');

/** Opens `n` sockets (authenticated as `user-<i % owners>` when `auth`), 200 at a time. */
async function openSockets(wsUrl: string, n: number, auth: boolean, owners = n, onEvent?: (socket: number, data: string) => void) {
  const sockets: WebSocket[] = [];
  for (let start = 0; start < n; start += 200) {
    await Promise.all(
      Array.from({ length: Math.min(200, n - start) }, async (_, k) => {
        const i = start + k;
        const socket = new WebSocket(wsUrl, { origin: ORIGIN });
        sockets.push(socket);
        await new Promise<void>((resolve, reject) => {
          socket.once('error', reject);
          socket.once('open', async () => {
            if (!auth) return resolve();
            socket.send(JSON.stringify({ type: 'auth', token: await token(`user-${i % owners}`) }));
            socket.on('message', (data) => {
              const text = data.toString();
              if (text.includes('"ready"')) resolve();
              else if (onEvent && text.includes('"sentAt"')) onEvent(i, text);
            });
          });
          if (!auth) socket.once('message', () => resolve());
        });
      }),
    );
  }
  return sockets;
}

async function memory(entry: string, env: Record<string, string>, auth: boolean) {
  const server = await startServer(entry, env);
  await new Promise((r) => setTimeout(r, 500));
  const before = rssKiB(server.child.pid!);
  const sockets = await openSockets(server.wsUrl, SOCKETS, auth);
  await new Promise((r) => setTimeout(r, 1000));
  const after = rssKiB(server.child.pid!);
  for (const s of sockets) s.terminate();
  server.child.kill();
  return { before, after, perSocket: ((after - before) * 1024) / SOCKETS };
}

const redis = await startRedis();
const realtimeEnv = { REDIS_URL: redis.url, PORT: '0', JWT_SECRET: SECRET, ALLOWED_ORIGINS: ORIGIN, LOG_LEVEL: 'info', AUTH_TIMEOUT_MS: '60000' };
const bare = await memory(join(import.meta.dirname, 'bare.ts'), {}, false);
const realtime = await memory('functions/realtime/src/server.ts', realtimeEnv, true);

// latency
const server = await startServer('functions/realtime/src/server.ts', realtimeEnv);
const OWNERS = 200;
const latencies: number[] = [];
let foreign = 0;
const sockets = await openSockets(server.wsUrl, OWNERS, true, OWNERS, (i, text) => {
  const event = JSON.parse(text) as { userId: string; sentAt: number };
  if (event.userId !== `user-${i % OWNERS}`) foreign++;
  latencies.push(clock() - event.sentAt);
});
const publisher = new Redis(redis.url);
const RATE = 1000;
const SECONDS = 10;
const t0 = performance.now();
let sent = 0;
while (sent < RATE * SECONDS) {
  const due = Math.min(RATE * SECONDS, Math.floor(((performance.now() - t0) / 1000) * RATE));
  for (; sent < due; sent++) {
    void publisher.publish(
      keys.channels.jobDone,
      JSON.stringify({ type: 'job', userId: `user-${sent % OWNERS}`, job_id: `j${sent}`, status: 'completed', sentAt: clock() }),
    );
  }
  await new Promise((r) => setTimeout(r, 1));
}
for (let i = 0; i < 100 && latencies.length < sent; i++) await new Promise((r) => setTimeout(r, 50));
for (const s of sockets) s.terminate();
publisher.disconnect();
server.child.kill();

const sorted = latencies.sort((a, b) => a - b);
const at = (q: number) => (sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] ?? Number.NaN).toFixed(1);
const mib = (kib: number) => (kib / 1024).toFixed(1);
console.log(`\nrealtime /updates (server in its own process; ${SOCKETS.toLocaleString('en-US')} sockets)\n`);
console.log('| server | RSS before (MiB) | RSS with sockets (MiB) | per socket (KiB) |\n|---|---|---|---|');
console.log(`| bare ws server, unauthenticated sockets | ${mib(bare.before)} | ${mib(bare.after)} | ${(bare.perSocket / 1024).toFixed(1)} |`);
console.log(`| realtime, authenticated idle sockets | ${mib(realtime.before)} | ${mib(realtime.after)} | ${(realtime.perSocket / 1024).toFixed(1)} |`);
console.log(
  `\nPublish-to-socket latency at ${RATE} events/s for ${SECONDS} s (${OWNERS} owners): p50 ${at(0.5)} ms, p99 ${at(0.99)} ms, max ${at(1)} ms; ${latencies.length} of ${sent} delivered, ${foreign} to a wrong owner`,
);
console.log(`Goal p99 <= 25 ms: ${Number(at(0.99)) <= 25 ? 'yes' : 'NO'}`);
process.exit(0);

/**
 * `POST /api/snap` against the physical limits of this machine, in one run, 64 connections each:
 *  (a) a bare Hono endpoint in another process answering 200 JSON (the HTTP floor),
 *  (b) single-row INSERTs into the same PostgreSQL through `pg` with a pool of 64 (the database
 *      floor, no HTTP),
 *  (c) the real api (functions/api/src/server.ts, a child process) taking `POST /api/snap
 *      {personKey, garmentKey}` from 64 shoppers (one per connection, each with a bearer token
 *      and images of their own): every request a new try-on, which (engine auto, no mask given)
 *      needs a person mask of its photo. No segment function runs, so the first snap of each
 *      photo queues its person-mask job on queue:segment, and every later one waits for that
 *      job too (its row, nothing XADDed); each shopper's images are verified by their first
 *      snap, before the measurement; 768x1024 JPEGs, then 64x64.
 *  (c'') then the masks made (a mask PNG stored and each mask job's segment.completed sent to
 *      the api's /events, as the segment function does): each snap reuses its photo's mask and
 *      is XADDed to queue:jobs at once, the path of a shopper whose photo was segmented before.
 * Besides req/s it prints the CPU milliseconds each part spent per request (from /proc), the
 * figure that holds on a machine shared with other work.
 * It starts its own Redis, PostgreSQL (initdb into a temp folder) and embedded S3 server.
 * Goals (issue #4): >= 3,000 req/s and >= 40% of the lesser of (a) and (b).
 * The loads of a phase take turns in slices (BENCH_ROUNDS, 5 by default: 2 s each), so the floors
 * and the snap are measured over the same minutes of a machine whose speed drifts.
 *   npm run snap -w @proteus/bench [-- SECONDS]
 *   BENCH_API_PROCESSES=2 (the api as 2 processes, 32 connections each), BENCH_CONNECTIONS=64,
 *   BENCH_API_LOG_LEVEL=info (the api's log level; warn by default)
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PutObjectCommand } from '@aws-sdk/client-s3';
import { createObjectStorage, startEmbeddedS3, storageEnv } from '@proteus/common/storage';
import { createEvent, keys, toBinaryHttp } from '@proteus/eventing';
import { freePort } from '@proteus/scripts/ports';
import pg from 'pg';
import sharp from 'sharp';
import { commandTree, measuringCpu, onlyPid, onlyPids } from '../cpu.ts';
import { LeanConnection, requestBytes } from '../http-load.ts';
import { startPostgres } from '../postgres.ts';
import { startRedis } from '../redis.ts';

const SECONDS = Number(process.argv[2] ?? 10);
const CONNECTIONS = Number(process.env.BENCH_CONNECTIONS ?? 64);
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 5);
const API_PROCESSES = Number(process.env.BENCH_API_PROCESSES ?? 1);
const repoRoot = join(import.meta.dirname, '..', '..', '..');

process.on('SIGINT', () => process.exit(130));
process.on('SIGTERM', () => process.exit(143));

interface Result {
  requests: number;
  errors: number;
  seconds: number;
  rps: number;
  p50: number;
  p99: number;
  firstError?: string;
}

interface Slice {
  latencies: number[];
  errors: number;
  seconds: number;
  firstError?: string;
}

/** `CONNECTIONS` loops, each sending its next request when the last answers, for `seconds`. */
async function loadSlice(seconds: number, once: (connection: number) => Promise<void>): Promise<Slice> {
  const latencies: number[] = [];
  let errors = 0;
  let firstError: string | undefined;
  const t0 = performance.now();
  const end = t0 + seconds * 1000;
  await Promise.all(
    Array.from({ length: CONNECTIONS }, async (_, connection) => {
      while (performance.now() < end) {
        const start = performance.now();
        try {
          await once(connection);
          latencies.push(performance.now() - start);
        } catch (error) {
          errors++;
          firstError ??= String((error as Error).message ?? error);
        }
      }
    }),
  );
  return { latencies, errors, seconds: (performance.now() - t0) / 1000, firstError };
}

/** The slices of one load as one result. */
function summary(slices: readonly Slice[]): Result {
  const latencies = slices.flatMap((s) => s.latencies).sort((a, b) => a - b);
  const seconds = slices.reduce((sum, s) => sum + s.seconds, 0);
  const at = (q: number) => latencies[Math.min(latencies.length - 1, Math.floor(q * latencies.length))] ?? Number.NaN;
  return {
    requests: latencies.length,
    errors: slices.reduce((sum, s) => sum + s.errors, 0),
    seconds,
    rps: latencies.length / seconds,
    p50: at(0.5),
    p99: at(0.99),
    firstError: slices.find((s) => s.firstError)?.firstError,
  };
}

const load = async (seconds: number, once: (connection: number) => Promise<void>) => summary([await loadSlice(seconds, once)]);

/**
 * POSTs JSON over 64 connections (bench/src/http-load.ts: keep-alive sockets, each request built
 * once), connection i sending request i to origin i mod n (n api processes: 64 / n connections
 * each, as a balancer would spread them); anything but `expect` counts as an error.
 */
function httpLoad(origins: string[], path: string, requests: { body: unknown; headers?: Record<string, string> }[], expect: number) {
  const built = origins.map((origin) =>
    requests.map((r) => requestBytes(origin, 'POST', path, { 'content-type': 'application/json', ...r.headers }, JSON.stringify(r.body))),
  );
  const connections = new Map<number, Promise<LeanConnection>>();
  const connection = (i: number) => {
    let c = connections.get(i);
    if (!c) {
      c = LeanConnection.open(origins[i % origins.length] as string);
      connections.set(i, c);
    }
    return c;
  };
  return {
    close: async () => {
      for (const c of connections.values()) (await c).close();
    },
    once: async (i = 0) => {
      let socket = await connection(i);
      if (socket.closed) {
        // the server closed it (idle past its keep-alive timeout, or after an error answer)
        connections.delete(i);
        socket = await connection(i);
      }
      const r = await socket.send(built[i % origins.length]?.[i % requests.length] as Buffer);
      if (r.status !== expect) throw new Error(`${r.status} ${r.body.toString('utf8', 0, 300)}`);
    },
  };
}

function child(args: string[], env: NodeJS.ProcessEnv = process.env): ChildProcess {
  const c = spawn(process.execPath, ['--import', 'tsx', ...args], { cwd: repoRoot, env, stdio: ['ignore', 'pipe', 'inherit'] });
  process.on('exit', () => c.kill());
  return c;
}

const firstLine = (c: ChildProcess) =>
  new Promise<string>((resolve, reject) => {
    let text = '';
    c.stdout?.on('data', (d) => {
      text += d;
      if (text.includes('\n')) resolve(text.split('\n')[0] as string);
    });
    c.on('exit', (code) => reject(new Error(`child exited with ${code} before printing a line`)));
  });

async function waitFor(url: string, what: string, ms = 60_000) {
  const until = Date.now() + ms;
  for (;;) {
    try {
      if ((await fetch(url)).ok) return;
    } catch {}
    if (Date.now() > until) throw new Error(`${what} did not answer at ${url}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

async function api(base: string, method: string, path: string, body?: unknown, token?: string): Promise<unknown> {
  const headers: Record<string, string> = {};
  if (body !== undefined) headers['content-type'] = 'application/json';
  if (token) headers.authorization = `Bearer ${token}`;
  const r = await fetch(new URL(path, base), { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
  const text = await r.text();
  if (!r.ok) throw new Error(`${method} ${path}: ${r.status} ${text}`);
  return JSON.parse(text);
}

/** A photo-like JPEG (noise, so it does not compress to nothing). */
async function jpeg(width: number, height: number): Promise<Buffer> {
  const raw = Buffer.alloc(width * height * 3);
  for (let i = 0; i < raw.length; i++) raw[i] = (i * 7 + ((i / (width * 3)) | 0) * 13 + ((Math.random() * 40) | 0)) & 0xff;
  return sharp(raw, { raw: { width, height, channels: 3 } })
    .jpeg({ quality: 85 })
    .toBuffer();
}

/** Uploads through the presigned POST, as a browser does; answers the key. */
async function upload(base: string, token: string, kind: 'person' | 'garment', bytes: Buffer): Promise<string> {
  const presigned = (await api(base, 'GET', `/api/images/presignedUpUrl?kind=${kind}&contentType=image/jpeg`, undefined, token)) as {
    url: string;
    fields: Record<string, string>;
    key: string;
  };
  const form = new FormData();
  for (const [name, value] of Object.entries(presigned.fields)) form.append(name, value);
  form.append('file', new Blob([new Uint8Array(bytes)], { type: 'image/jpeg' }), 'upload.jpg');
  const r = await fetch(presigned.url, { method: 'POST', body: form });
  if (r.status >= 300) throw new Error(`upload of ${kind}: ${r.status} ${await r.text()}`);
  return presigned.key;
}

const { url: redisUrl, port: redisPort } = await startRedis();
const { url: databaseUrl, port: pgPort } = await startPostgres();
const s3Dir = mkdtempSync(join(tmpdir(), 'proteus-bench-s3-'));
process.on('exit', () => rmSync(s3Dir, { recursive: true, force: true }));
const s3 = await startEmbeddedS3({ directory: s3Dir, bucket: 'proteus' });

// (a) the HTTP floor
const bare = child([join(import.meta.dirname, 'bare.ts')]);
const bareOrigin = `http://127.0.0.1:${(JSON.parse(await firstLine(bare)) as { port: number }).port}`;

// (c) the real api, on a port picked here; it logs at warn unless BENCH_API_LOG_LEVEL says otherwise
// (at info each snap writes two lines: its request and its job), into a pipe read and dropped here
const apiProcess = async () => {
  const port = await freePort();
  const origin = `http://127.0.0.1:${port}`;
  const c = child([join(repoRoot, 'functions', 'api', 'src', 'server.ts')], {
    ...process.env,
    ...storageEnv(s3.config),
    REDIS_URL: redisUrl,
    DATABASE_URL: databaseUrl,
    JWT_SECRET: 'bench-secret-bench-secret-bench-secret-0123456789',
    PORT: String(port),
    HOST: '127.0.0.1',
    LOG_LEVEL: process.env.BENCH_API_LOG_LEVEL ?? 'warn',
    // the per-caller limit (600 a minute by default) would measure the limiter, not the api
    RATE_LIMIT_PER_MINUTE: '100000000',
  });
  c.stdout?.resume();
  await waitFor(`${origin}/healthz`, 'the api');
  return { origin, pid: c.pid };
};
const apis = [];
for (let i = 0; i < API_PROCESSES; i++) apis.push(await apiProcess());
const apiOrigin = (apis[0] as { origin: string }).origin;

const pool = new pg.Pool({ connectionString: databaseUrl, max: CONNECTIONS });

/** What the segment function does for every person-mask job still queued: stores a mask PNG, then tells the api's /events. */
async function masksMade(): Promise<void> {
  const storage = createObjectStorage(s3.config);
  const png = await sharp({ create: { width: 64, height: 64, channels: 3, background: '#ffffff' } })
    .greyscale()
    .png()
    .toBuffer();
  const { rows } = await pool.query<{ id: string; user_id: string; vton_id: string }>(
    "select id, user_id, vton_id from jobs where purpose = 'person-mask' and status = 'queued'",
  );
  const waiting = Number((await pool.query('select count(*) from jobs where waiting_for is not null')).rows[0].count);
  let recordingMs = 0;
  for (const job of rows) {
    const resultKey = keys.objectKey(job.user_id, 'mask', job.id, 'png');
    await storage.client.send(new PutObjectCommand({ Bucket: storage.bucket, Key: resultKey, Body: png, ContentType: 'image/png' }));
    const event = createEvent('dev.proteus.segment.completed', 'segment', { jobId: job.id, userId: job.user_id, vtonId: job.vton_id, resultKey });
    const t0 = performance.now();
    const r = await fetch(new URL('/events', apiOrigin), { method: 'POST', ...toBinaryHttp(event) });
    if (r.status !== 204) throw new Error(`the mask of ${job.id} not recorded: ${r.status} ${await r.text()}`);
    recordingMs += performance.now() - t0;
  }
  storage.close();
  // each segment.completed releases the try-ons waiting for its mask: one statement, then their XADDs
  console.log(
    `${rows.length} person masks made, ${waiting.toLocaleString('en-US')} waiting try-ons released to queue:jobs: ${(recordingMs / rows.length).toFixed(1)} ms a mask's /events, ${((recordingMs * 1000) / Math.max(1, waiting)).toFixed(0)} µs a released try-on`,
  );
}

try {
  // 64 shoppers, one per connection, each with a person photo and a garment of their own (a
  // shared garment would make every snap join, and update, the same VTON row)
  const photos = { big: { person: await jpeg(768, 1024), garment: await jpeg(768, 1024) }, tiny: { person: await jpeg(64, 64), garment: await jpeg(64, 64) } };
  const shoppers = [];
  for (let i = 0; i < CONNECTIONS; i++) {
    const { accessToken } = (await api(apiOrigin, 'POST', '/api/auth/signup', {
      email: `shopper${i}@example.com`,
      password: 'correct horse battery staple',
    })) as {
      accessToken: string;
    };
    const headers = { authorization: `Bearer ${accessToken}` };
    const images = async (size: 'big' | 'tiny') => ({
      personKey: await upload(apiOrigin, accessToken, 'person', photos[size].person),
      garmentKey: await upload(apiOrigin, accessToken, 'garment', photos[size].garment),
    });
    shoppers.push({ big: { body: await images('big'), headers }, tiny: { body: await images('tiny'), headers } });
  }
  console.log(`${shoppers.length} shoppers signed up, 4 images each uploaded`);
  const big = shoppers[0]?.big.body;

  const snapBig = httpLoad(
    apis.map((a) => a.origin),
    '/api/snap',
    shoppers.map((s) => s.big),
    202,
  );
  const snapTiny = httpLoad(
    apis.map((a) => a.origin),
    '/api/snap',
    shoppers.map((s) => s.tiny),
    202,
  );
  const bareLoad = httpLoad([bareOrigin], '/api/snap', [{ body: big }], 200);
  // each shopper's first snap verifies their images (a decode and re-encode each); later ones
  // find them verified. A wrong setup fails here, not as 600,000 errors.
  await Promise.all(shoppers.map((_, i) => Promise.all([snapBig.once(i), snapTiny.once(i)])));
  await bareLoad.once();

  await pool.query(
    'create table bench_rows (id uuid primary key default gen_random_uuid(), user_id text not null, work jsonb not null, created_at timestamptz not null default now())',
  );
  const work = JSON.stringify({ kind: 'tryon', ...big });
  const insert = async () => {
    await pool.query('insert into bench_rows (user_id, work) values ($1, $2)', ['bench-user', work]);
  };
  await load(1, insert); // warm the pool's 64 connections

  // CPU time of each part during each load: steadier than req/s on a machine shared with others
  const parts = {
    api: onlyPids(apis.map((a) => a.pid)),
    'bare endpoint': onlyPid(bare.pid),
    postgres: commandTree('/bin/postgres', `-p ${pgPort} `),
    redis: commandTree('redis-server', `:${redisPort}`),
    'load generator + embedded S3': onlyPid(process.pid),
  };
  /**
   * Each load measured for SECONDS in ROUNDS slices, the loads taking turns (a, b, c, a, b, c...),
   * so that the floors and the snap share the machine's same minutes: this machine's speed
   * drifts by up to 40% over minutes (a single-row INSERT cost PostgreSQL 0.09 ms of CPU in one
   * run and 0.14 in the next), and a floor measured 20 s away from the snap drifted with it.
   */
  const interleaved = async <K extends string>(loads: Record<K, () => Promise<void>>) => {
    const slices = new Map<K, { slices: Slice[]; cpu: Record<string, number> }>();
    for (let round = 0; round < ROUNDS; round++) {
      for (const [name, once] of Object.entries(loads) as [K, () => Promise<void>][]) {
        const { result, cpu } = await measuringCpu(parts, () => loadSlice(SECONDS / ROUNDS, once));
        const sofar = slices.get(name) ?? { slices: [], cpu: {} };
        sofar.slices.push(result);
        for (const [part, ms] of Object.entries(cpu)) sofar.cpu[part] = (sofar.cpu[part] ?? 0) + ms;
        slices.set(name, sofar);
      }
    }
    return Object.fromEntries([...slices].map(([name, { slices: s, cpu }]) => [name, { ...summary(s), cpu }])) as Record<
      K,
      Result & { cpu: Record<string, number> }
    >;
  };
  // the api reaches its steady state (JIT, heap) after some seconds of load: 2 s left the first phase
  // measuring a third more api CPU per snap than the same work measured after it
  const warm = 8;
  await load(warm, bareLoad.once);
  await load(warm, snapBig.once);
  const { a, b, c, d } = await interleaved({ a: bareLoad.once, b: insert, c: snapBig.once, d: snapTiny.once });
  await masksMade();
  await load(warm, snapTiny.once);
  // (c'') against floors measured in its own rounds
  const { a: a2, b: b2, e } = await interleaved({ a: bareLoad.once, b: insert, e: snapTiny.once });
  await Promise.all([snapBig.close(), snapTiny.close(), bareLoad.close()]);

  const jobs = Number((await pool.query('select count(*) from jobs')).rows[0].count);
  if (process.env.BENCH_PG_STATEMENTS) {
    // BENCH_PG_OPTIONS='-c shared_preload_libraries=pg_stat_statements' BENCH_PG_STATEMENTS=1
    await pool.query('create extension if not exists pg_stat_statements');
    const top = await pool.query(
      'select calls, round(total_exec_time::numeric, 1) as total_ms, round(mean_exec_time::numeric, 3) as mean_ms, left(query, 110) as query from pg_stat_statements order by total_exec_time desc limit 8',
    );
    console.table(top.rows);
  }
  const lesser = Math.min(a.rps, b.rps);
  const fmt = (n: number) => Math.round(n).toLocaleString('en-US');
  const ms = (n: number) => n.toFixed(1);
  const row = (name: string, r: Result, ratio = '') => console.log(`| ${name} | ${fmt(r.rps)} | ${ms(r.p50)} | ${ms(r.p99)} | ${r.errors} | ${ratio} |`);
  const pct = (r: Result, floor = lesser) => `${((r.rps / floor) * 100).toFixed(1)}%`;
  console.log(
    `\nPOST /api/snap on this machine: ${CONNECTIONS} connections, ${SECONDS} s each in ${ROUNDS} turns (load generator, api and services share the machine's CPUs)\n`,
  );
  console.log('| load | req/s | p50 ms | p99 ms | errors | as % of the lesser floor |\n|---|---|---|---|---|---|');
  row('(a) bare Hono endpoint, another process, 200 JSON (HTTP floor)', a);
  row('(b) single-row INSERT, pg pool of 64, no HTTP (database floor)', b);
  row('(c) POST /api/snap, 768x1024 JPEGs (each request a new job)', c, pct(c));
  row("(c') POST /api/snap, 64x64 JPEGs (image work nearly gone)", d, pct(d));
  row("(a) again, taking turns with (c'')", a2);
  row("(b) again, taking turns with (c'')", b2);
  row("(c'') POST /api/snap, 64x64, the photo's mask made (XADDed at once)", e, pct(e, Math.min(a2.rps, b2.rps)));
  const names = Object.keys(parts);
  console.log(`\nCPU milliseconds per request, by part (from /proc; what 2 cores allow if nothing else runs: 2,000 / total)\n`);
  console.log(`| load | ${names.join(' | ')} | total | 2 cores allow req/s |\n|---|${names.map(() => '---|').join('')}---|---|`);
  for (const [name, r] of [
    ['(a) bare Hono', a],
    ['(b) single-row INSERT', b],
    ['(c) POST /api/snap 768x1024', c],
    ["(c') POST /api/snap 64x64", d],
    ["(b) again, with (c'')", b2],
    ["(c'') POST /api/snap 64x64, mask made", e],
  ] as const) {
    const per = names.map((n) => (r.cpu[n] ?? 0) / Math.max(1, r.requests));
    const total = per.reduce((x, y) => x + y, 0);
    console.log(`| ${name} | ${per.map((v) => v.toFixed(3)).join(' | ')} | ${total.toFixed(3)} | ${fmt(2000 / total)} |`);
  }
  for (const [name, r] of [
    ['a', a],
    ['b', b],
    ['c', c],
    ["c'", d],
    ["c''", e],
  ] as const) {
    if (r.firstError) console.log(`\nfirst error of (${name}): ${r.firstError}`);
  }
  console.log(
    `\nJobs in the database after the run: ${jobs.toLocaleString('en-US')} (requests answered 202: ${fmt(c.requests + d.requests + e.requests)} measured + warm-up)`,
  );
  // what the snaps planned from (jobs/snap-hints.ts): the api's own counter
  const metrics = await (await fetch(new URL('/metrics', apiOrigin))).text();
  const hints = [...metrics.matchAll(/^proteus_api_snap_hints_total\{outcome="(\w+)"\} (\d+)$/gm)].map(([, outcome, n]) => `${fmt(Number(n))} ${outcome}`);
  console.log(`Snap hints (hit: planned from the last write, no look-up; stale: looked up after all; miss: no hint): ${hints.join(', ') || 'none counted'}`);
  console.log(
    `Goals (768x1024): >= 3,000 req/s: ${c.rps >= 3000 ? 'yes' : 'NO'} (${fmt(c.rps)}); >= 40% of the lesser floor (${fmt(lesser)} req/s): ${c.rps >= 0.4 * lesser ? 'yes' : 'NO'} (${pct(c)})`,
  );
} finally {
  await pool.end();
  await s3.close();
}
process.exit(0);

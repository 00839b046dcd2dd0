/**
 * `POST /api/snap` against the physical limits of this machine, in one run, 64 connections each:
 *  (a) a bare Hono endpoint in another process answering 200 JSON (the HTTP floor),
 *  (b) single-row INSERTs into the same PostgreSQL through `pg` with a pool of 64 (the database
 *      floor, no HTTP),
 *  (c) the real api (functions/api/src/server.ts, a child process) taking `POST /api/snap
 *      {personKey, garmentKey}` with a bearer token: every request a new job, both images
 *      verified (decoded and re-encoded) each time; 768x1024 JPEGs, then 64x64 ones to show how
 *      much of the cost is image work.
 * It starts its own Redis, PostgreSQL (initdb into a temp folder) and embedded S3 server.
 * Goals (issue #4): >= 3,000 req/s and >= 40% of the lesser of (a) and (b).
 *   npm run snap -w @proteus/bench [-- SECONDS]
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startEmbeddedS3, storageEnv } from '@proteus/common/storage';
import pg from 'pg';
import sharp from 'sharp';
import { Pool } from 'undici';
import { startPostgres } from '../postgres.ts';
import { freePort, startRedis } from '../redis.ts';

const SECONDS = Number(process.argv[2] ?? 10);
const CONNECTIONS = Number(process.env.BENCH_CONNECTIONS ?? 64);
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

/** `CONNECTIONS` loops, each sending its next request when the last answers, for `seconds`. */
async function load(seconds: number, once: () => Promise<void>): Promise<Result> {
  const latencies: number[] = [];
  let errors = 0;
  let firstError: string | undefined;
  const t0 = performance.now();
  const end = t0 + seconds * 1000;
  await Promise.all(
    Array.from({ length: CONNECTIONS }, async () => {
      while (performance.now() < end) {
        const start = performance.now();
        try {
          await once();
          latencies.push(performance.now() - start);
        } catch (error) {
          errors++;
          firstError ??= String((error as Error).message ?? error);
        }
      }
    }),
  );
  const elapsed = (performance.now() - t0) / 1000;
  latencies.sort((a, b) => a - b);
  const at = (q: number) => latencies[Math.min(latencies.length - 1, Math.floor(q * latencies.length))] ?? Number.NaN;
  return { requests: latencies.length, errors, seconds: elapsed, rps: latencies.length / elapsed, p50: at(0.5), p99: at(0.99), firstError };
}

/** POSTs JSON over a pool of 64 connections; anything but `expect` counts as an error. */
function httpLoad(origin: string, path: string, body: unknown, expect: number, headers: Record<string, string> = {}) {
  const pool = new Pool(origin, { connections: CONNECTIONS, pipelining: 1 });
  const payload = JSON.stringify(body);
  return {
    pool,
    once: async () => {
      const r = await pool.request({ method: 'POST', path, headers: { 'content-type': 'application/json', ...headers }, body: payload });
      const text = await r.body.text();
      if (r.statusCode !== expect) throw new Error(`${r.statusCode} ${text.slice(0, 300)}`);
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

const { url: redisUrl } = await startRedis();
const { url: databaseUrl } = await startPostgres();
const s3Dir = mkdtempSync(join(tmpdir(), 'proteus-bench-s3-'));
process.on('exit', () => rmSync(s3Dir, { recursive: true, force: true }));
const s3 = await startEmbeddedS3({ directory: s3Dir, bucket: 'proteus' });

// (a) the HTTP floor
const bare = child([join(import.meta.dirname, 'bare.ts')]);
const bareOrigin = `http://127.0.0.1:${(JSON.parse(await firstLine(bare)) as { port: number }).port}`;

// (c) the real api, on a port picked here (LOG_LEVEL=warn hides its 'listening' line)
const apiPort = await freePort();
const apiOrigin = `http://127.0.0.1:${apiPort}`;
child([join(repoRoot, 'functions', 'api', 'src', 'server.ts')], {
  ...process.env,
  ...storageEnv(s3.config),
  REDIS_URL: redisUrl,
  DATABASE_URL: databaseUrl,
  JWT_SECRET: 'bench-secret-bench-secret-bench-secret-0123456789',
  PORT: String(apiPort),
  HOST: '127.0.0.1',
  LOG_LEVEL: 'warn',
  // the per-caller limit (600 a minute by default) would measure the limiter, not the api
  RATE_LIMIT_PER_MINUTE: '100000000',
});
await waitFor(`${apiOrigin}/healthz`, 'the api');

const pool = new pg.Pool({ connectionString: databaseUrl, max: CONNECTIONS });
try {
  const account = (await api(apiOrigin, 'POST', '/api/auth/signup', { email: 'bench@example.com', password: 'correct horse battery staple' })) as {
    accessToken: string;
  };
  const token = account.accessToken;
  const big = {
    personKey: await upload(apiOrigin, token, 'person', await jpeg(768, 1024)),
    garmentKey: await upload(apiOrigin, token, 'garment', await jpeg(768, 1024)),
  };
  const tiny = {
    personKey: await upload(apiOrigin, token, 'person', await jpeg(64, 64)),
    garmentKey: await upload(apiOrigin, token, 'garment', await jpeg(64, 64)),
  };
  const auth = { authorization: `Bearer ${token}` };

  // one of each first: a wrong setup fails here, not as 600,000 errors
  const snapBig = httpLoad(apiOrigin, '/api/snap', big, 202, auth);
  const snapTiny = httpLoad(apiOrigin, '/api/snap', tiny, 202, auth);
  const bareLoad = httpLoad(bareOrigin, '/api/snap', big, 200);
  await snapBig.once();
  await snapTiny.once();
  await bareLoad.once();

  await pool.query(
    'create table bench_rows (id uuid primary key default gen_random_uuid(), user_id text not null, work jsonb not null, created_at timestamptz not null default now())',
  );
  const work = JSON.stringify({ kind: 'tryon', ...big });
  const insert = async () => {
    await pool.query('insert into bench_rows (user_id, work) values ($1, $2)', ['bench-user', work]);
  };
  await load(1, insert); // warm the pool's 64 connections

  const warm = 2;
  await load(warm, bareLoad.once);
  const a = await load(SECONDS, bareLoad.once);
  const b = await load(SECONDS, insert);
  await load(warm, snapBig.once);
  const c = await load(SECONDS, snapBig.once);
  const d = await load(SECONDS, snapTiny.once);
  await Promise.all([snapBig.pool.close(), snapTiny.pool.close(), bareLoad.pool.close()]);

  const jobs = Number((await pool.query('select count(*) from jobs')).rows[0].count);
  const lesser = Math.min(a.rps, b.rps);
  const fmt = (n: number) => Math.round(n).toLocaleString('en-US');
  const ms = (n: number) => n.toFixed(1);
  const row = (name: string, r: Result, ratio = '') => console.log(`| ${name} | ${fmt(r.rps)} | ${ms(r.p50)} | ${ms(r.p99)} | ${r.errors} | ${ratio} |`);
  const pct = (r: Result) => `${((r.rps / lesser) * 100).toFixed(1)}%`;
  console.log(`\nPOST /api/snap on this machine: ${CONNECTIONS} connections, ${SECONDS} s each (load generator, api and services share the machine's CPUs)\n`);
  console.log('| load | req/s | p50 ms | p99 ms | errors | as % of the lesser floor |\n|---|---|---|---|---|---|');
  row('(a) bare Hono endpoint, another process, 200 JSON (HTTP floor)', a);
  row('(b) single-row INSERT, pg pool of 64, no HTTP (database floor)', b);
  row('(c) POST /api/snap, 768x1024 JPEGs (each request a new job)', c, pct(c));
  row("(c') POST /api/snap, 64x64 JPEGs (image work nearly gone)", d, pct(d));
  for (const [name, r] of [
    ['a', a],
    ['b', b],
    ['c', c],
    ["c'", d],
  ] as const) {
    if (r.firstError) console.log(`\nfirst error of (${name}): ${r.firstError}`);
  }
  console.log(
    `\nJobs in the database after the run: ${jobs.toLocaleString('en-US')} (requests answered 202: ${fmt(c.requests + d.requests)} measured + warm-up)`,
  );
  console.log(
    `Goals (768x1024): >= 3,000 req/s: ${c.rps >= 3000 ? 'yes' : 'NO'} (${fmt(c.rps)}); >= 40% of the lesser floor (${fmt(lesser)} req/s): ${c.rps >= 0.4 * lesser ? 'yes' : 'NO'} (${pct(c)})`,
  );
} finally {
  await pool.end();
  await s3.close();
}
process.exit(0);

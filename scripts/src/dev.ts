/**
 * `npm run dev`: the whole product on one URL with embedded defaults. Redis on a port of its
 * own, PGlite when DATABASE_URL is unset, an in-process S3 server when OBJECT_STORAGE_ENDPOINT
 * is unset, every function, both eventing sources, the GPU worker and the web app.
 * Ctrl-C stops everything; a part that dies stops the rest and says which.
 */
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createConnection } from 'node:net';
import { join } from 'node:path';
import { configOrExit, loadConfig } from '@proteus/common';
import { type EmbeddedS3, startEmbeddedS3, storageConfigFromEnv, storageEnv } from '@proteus/common/storage';
import { DEFAULT_PORT, devConfigSchema } from './dev-config.ts';
import { createGateway } from './gateway.ts';
import { freePort } from './ports.ts';
import { createSupervisor, type PartSpec } from './supervisor.ts';
import { repoRoot } from './workspaces.ts';

const started = performance.now();
const config = configOrExit(() => loadConfig('dev', devConfigSchema));

const devDir = config.PROTEUS_DEV_DIR;
const lockFile = join(devDir, 'dev.lock');
const say = (line: string) => process.stdout.write(`proteus dev: ${line}\n`);
const fail = (line: string): never => {
  process.stderr.write(`proteus dev: ${line}\n`);
  process.exit(1);
};

interface Lock {
  pid: number;
  url: string;
  children: number[];
}

const alive = (pid: number) => {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
};

/** One dev stack per folder. A lock left by a stack that was killed is cleaned up, with its orphans. */
function takeLock(): void {
  mkdirSync(devDir, { recursive: true });
  if (existsSync(lockFile)) {
    const lock = JSON.parse(readFileSync(lockFile, 'utf8')) as Lock;
    if (lock.pid !== process.pid && alive(lock.pid)) {
      fail(`the dev stack is already running (pid ${lock.pid}) at ${lock.url}; stop it with Ctrl-C in its terminal or \`kill ${lock.pid}\``);
    }
    for (const pid of lock.children ?? []) {
      try {
        process.kill(-pid, 'SIGKILL');
      } catch {
        // gone already
      }
    }
  }
  writeLock('', []);
}
const writeLock = (url: string, children: number[]) => writeFileSync(lockFile, JSON.stringify({ pid: process.pid, url, children } satisfies Lock));

function which(binary: string, fallbacks: string[]): string | undefined {
  try {
    return execFileSync('sh', ['-c', `command -v ${binary}`], { encoding: 'utf8' }).trim() || undefined;
  } catch {
    return fallbacks.find((f) => existsSync(f));
  }
}

takeLock();
const supervisor = createSupervisor();
const gateway = createGateway({});
let embeddedS3: EmbeddedS3 | undefined;
let shuttingDown = false;

async function shutdown(code: number, why?: string): Promise<never> {
  if (shuttingDown) return new Promise<never>(() => {});
  shuttingDown = true;
  if (why) process.stderr.write(`proteus dev: ${why}\n`);
  say('stopping every part');
  await supervisor.stopAll();
  await gateway.close().catch(() => {});
  await embeddedS3?.close().catch(() => {});
  rmSync(lockFile, { force: true });
  say('stopped');
  process.exit(code);
}
process.on('SIGINT', () => void shutdown(0));
process.on('SIGTERM', () => void shutdown(0));
supervisor.onExit((part, code, signal) => {
  const lines = part.tail
    .slice(-10)
    .map((l) => `    ${l}`)
    .join('\n');
  void shutdown(1, `${part.spec.name} exited unexpectedly (${signal ?? `code ${code}`}); its last lines:\n${lines}\nstopping the rest`);
});

// 1. the public port first, so a taken port is reported before anything starts
let port: number;
try {
  port = await gateway.listen(config.PORT ?? DEFAULT_PORT, config.HOST);
} catch (error) {
  if ((error as NodeJS.ErrnoException).code !== 'EADDRINUSE') throw error;
  if (config.PORT !== undefined) {
    rmSync(lockFile, { force: true });
    fail(`port ${config.PORT} is in use; set PORT to a free port (PORT=0 picks one)`);
  }
  port = await gateway.listen(0, config.HOST);
  say(`port ${DEFAULT_PORT} is in use; using ${port} instead (set PORT to choose)`);
}
const url = `http://${config.HOST === '127.0.0.1' || config.HOST === '0.0.0.0' ? 'localhost' : config.HOST}:${port}`;

// 2. the embedded defaults
const venvPython = join(repoRoot, 'gpu-worker', '.venv', 'bin', 'python');
if (!existsSync(venvPython)) await shutdown(1, `the gpu-worker virtualenv is missing (${venvPython}); run \`npm run dev\` (scripts/dev.sh installs it)`);

let redisUrl = config.REDIS_URL;
if (!redisUrl) {
  const redisServer = which('redis-server', ['/usr/bin/redis-server', '/usr/local/bin/redis-server']);
  if (!redisServer) await shutdown(1, 'redis-server is not installed: run `apt-get install -y redis-server` (as root), or set REDIS_URL');
  const redisPort = await freePort();
  mkdirSync(join(devDir, 'redis'), { recursive: true });
  const redis = supervisor.start({
    name: 'redis',
    command: redisServer as string,
    args: ['--port', String(redisPort), '--bind', '127.0.0.1', '--dir', join(devDir, 'redis'), '--appendonly', 'yes', '--save', '', '--loglevel', 'warning'],
    cwd: repoRoot,
    env: { PATH: process.env.PATH ?? '' },
    stopLast: true,
  });
  redisUrl = `redis://127.0.0.1:${redisPort}`;
  await waitForPort(redisPort, 10_000).catch((error: Error) => shutdown(1, `redis did not start: ${error.message}\n${redis.tail.join('\n')}`));
}

let partStorageEnv: Record<string, string>;
if (config.OBJECT_STORAGE_ENDPOINT) {
  partStorageEnv = storageEnv(storageConfigFromEnv(config)!);
} else {
  embeddedS3 = await startEmbeddedS3({ directory: join(devDir, 's3'), bucket: config.OBJECT_STORAGE_BUCKET });
  partStorageEnv = storageEnv(embeddedS3.config);
}

// the api's token key: the one given, else one made for this dev folder and kept there
const jwtSecretFile = join(devDir, 'jwt-secret');
if (!config.JWT_SECRET && !existsSync(jwtSecretFile)) writeFileSync(jwtSecretFile, randomBytes(48).toString('hex'), { mode: 0o600 });
const jwtSecret = config.JWT_SECRET ?? readFileSync(jwtSecretFile, 'utf8').trim();

// 3. the web app, built once (turbo caches it)
const webDist = join(repoRoot, 'web', 'dist');
try {
  execFileSync('turbo', ['run', 'build', '--filter=@proteus/web', '--output-logs=errors-only'], { cwd: repoRoot, stdio: ['ignore', 'ignore', 'inherit'] });
} catch {
  await shutdown(1, 'building the web app failed (turbo run build --filter=@proteus/web)');
}

// 4. every part
const ports = {
  api: await freePort(),
  segment: await freePort(),
  arbitrator: await freePort(),
  realtime: await freePort(),
  streamSource: await freePort(),
  tickSource: await freePort(),
  worker: await freePort(),
};
const local = (p: number) => `http://127.0.0.1:${p}`;
const base: Record<string, string> = {
  PATH: process.env.PATH ?? '',
  HOME: process.env.HOME ?? '',
  LOG_LEVEL: config.LOG_LEVEL,
  REDIS_URL: redisUrl as string,
  PROTEUS_SUPERVISOR_PID: String(process.pid),
};
const node = (dir: string, entry: string) => ({ command: process.execPath, args: ['--import', 'tsx', entry], cwd: join(repoRoot, dir) });
const specs: PartSpec[] = [
  {
    name: 'api',
    ...node('functions/api', 'src/server.ts'),
    env: {
      ...base,
      ...partStorageEnv,
      PORT: String(ports.api),
      TAILOR_URL: local(ports.segment),
      WEB_DIST: webDist,
      JWT_SECRET: jwtSecret,
      ...(config.DATABASE_URL ? { DATABASE_URL: config.DATABASE_URL } : { PGLITE_DIR: join(devDir, 'pglite') }),
      // `ADMIN_EMAILS=you@example.com npm run dev`: that account sees the operator view
      ...(process.env.ADMIN_EMAILS ? { ADMIN_EMAILS: process.env.ADMIN_EMAILS } : {}),
    },
    healthUrl: `${local(ports.api)}/healthz`,
  },
  {
    name: 'segment',
    ...node('functions/segment', 'src/server.ts'),
    // no model hub here: without a real model in functions/segment/model/hub the tiny random one runs, loudly (SEGMENT_* of the shell win)
    env: {
      ...base,
      ...partStorageEnv,
      PORT: String(ports.segment),
      SEGMENT_TINY_FALLBACK: 'true',
      ...Object.fromEntries(Object.entries(process.env).filter(([k, v]) => k.startsWith('SEGMENT_') && v)),
    },
    healthUrl: `${local(ports.segment)}/health`,
  },
  {
    name: 'arbitrator',
    ...node('functions/arbitrator', 'src/server.ts'),
    env: { ...base, PORT: String(ports.arbitrator) },
    healthUrl: `${local(ports.arbitrator)}/health`,
  },
  {
    name: 'realtime',
    ...node('functions/realtime', 'src/server.ts'),
    env: { ...base, PORT: String(ports.realtime), ALLOWED_ORIGINS: [url, `http://127.0.0.1:${port}`].join(','), JWT_SECRET: jwtSecret },
    healthUrl: `${local(ports.realtime)}/health`,
  },
  {
    name: 'stream-source',
    ...node('eventing', 'src/bin/stream-source.ts'),
    env: { ...base, PORT: String(ports.streamSource), API_URL: local(ports.api), TAILOR_URL: local(ports.segment), CONSUMER_NAME: 'dev-stream-source' },
    healthUrl: `${local(ports.streamSource)}/health`,
  },
  {
    name: 'tick-source',
    ...node('eventing', 'src/bin/tick-source.ts'),
    env: { ...base, PORT: String(ports.tickSource), ARBITRATOR_URL: local(ports.arbitrator) },
    healthUrl: `${local(ports.tickSource)}/health`,
  },
  {
    name: 'gpu-worker',
    command: venvPython,
    args: ['-u', '-m', 'proteus_worker'],
    cwd: join(repoRoot, 'gpu-worker'),
    env: { ...base, ...partStorageEnv, WORKER_NAME: 'dev-worker-1', WORKER_HEALTH_PORT: String(ports.worker) },
    healthUrl: `${local(ports.worker)}/health`,
  },
];
say(`starting ${specs.length} parts`);
const running = specs.map((spec) => supervisor.start(spec));
writeLock(
  url,
  supervisor.parts.flatMap((p) => (p.child.pid ? [p.child.pid] : [])),
);
try {
  await Promise.all(running.map((part) => supervisor.waitHealthy(part, 60_000)));
} catch (error) {
  await shutdown(1, (error as Error).message);
}
gateway.targets.api = local(ports.api);
gateway.targets.realtime = local(ports.realtime);

// 5. green across the board, through the public URL
const deadline = Date.now() + 30_000;
let report = '';
for (;;) {
  try {
    const response = await fetch(`${url}/api/health`, { signal: AbortSignal.timeout(3000) });
    report = await response.text();
    if (response.ok) break;
  } catch (error) {
    report = (error as Error).message;
  }
  if (Date.now() > deadline) await shutdown(1, `/api/health is not green after 30 s: ${report}`);
  await new Promise((r) => setTimeout(r, 200));
}
const seconds = ((performance.now() - started) / 1000).toFixed(1);
const embedded = [
  config.REDIS_URL ? undefined : 'Redis on its own port',
  config.DATABASE_URL ? undefined : `PGlite in ${join(devDir, 'pglite')}`,
  embeddedS3 ? 'the in-process S3 server' : undefined,
].filter(Boolean);
say(`ready in ${seconds} s; embedded: ${embedded.join(', ') || 'none'}`);
process.stdout.write(`\n  Proteus is up: ${url}   (web app, ${url}/api/health, ws://${new URL(url).host}/updates)\n  Ctrl-C stops everything.\n\n`);

function waitForPort(p: number, timeoutMs: number): Promise<void> {
  const until = Date.now() + timeoutMs;
  return new Promise((resolve, reject) => {
    const attempt = () => {
      const socket = createConnection(p);
      socket.once('connect', () => {
        socket.destroy();
        resolve();
      });
      socket.once('error', () => {
        socket.destroy();
        if (Date.now() > until) reject(new Error(`nothing listens on port ${p} after ${timeoutMs} ms`));
        else setTimeout(attempt, 50);
      });
    };
    attempt();
  });
}

/**
 * The dev stack (`npm run dev`, started by @proteus/web/testing as every stack test starts it)
 * plus what the load and chaos commands add from outside: more gpu-workers, and replicas of the
 * stream source, each a process of its own started with the environment of its supervised
 * sibling (read from /proc, so nothing about the stack's wiring is spelled here twice). The
 * supervisor stops the whole stack when one of its parts dies, so faults are injected into
 * these replicas; the supervised parts keep running beside them, as the replicas they are.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, readlinkSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort } from '@proteus/scripts/ports';
import { type DevStack, repoRoot, startDevStack } from '@proteus/web/testing';

export interface Replica {
  name: string;
  child: ChildProcess;
  output: () => string;
  exited: Promise<void>;
}

export interface E2EStack {
  url: string;
  dev: DevStack;
  /** the environment a supervised part runs with */
  envOf(part: 'gpu-worker' | 'stream-source'): Record<string, string>;
  startWorker(name: string, extra?: Record<string, string>): Promise<Replica>;
  startStreamSource(name: string): Promise<Replica>;
  /** a realtime replica beside the supervised one, on a port of its own; `url` is its base URL */
  startRealtime(name: string): Promise<Replica & { url: string }>;
  stop(): Promise<void>;
}

const cmdline = (pid: number) => readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0');
const environ = (pid: number): Record<string, string> =>
  Object.fromEntries(
    readFileSync(`/proc/${pid}/environ`, 'utf8')
      .split('\0')
      .filter(Boolean)
      .map((kv) => [kv.slice(0, kv.indexOf('=')), kv.slice(kv.indexOf('=') + 1)]),
  );

function startReplica(name: string, command: string, args: string[], cwd: string, env: Record<string, string>): Replica {
  const child = spawn(command, args, { cwd, env, stdio: ['ignore', 'pipe', 'pipe'] });
  let text = '';
  child.stdout?.on('data', (d) => {
    text += d;
  });
  child.stderr?.on('data', (d) => {
    text += d;
  });
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  return { name, child, output: () => text, exited };
}

async function healthy(url: string, replica: Replica, timeoutMs = 60_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (replica.child.exitCode !== null) throw new Error(`${replica.name} exited ${replica.child.exitCode}:\n${replica.output()}`);
    const ok = await fetch(url, { signal: AbortSignal.timeout(2000) }).then(
      (r) => r.ok,
      () => false,
    );
    if (ok) return;
    await new Promise((r) => setTimeout(r, 200));
  }
  throw new Error(`${replica.name} was not healthy after ${timeoutMs} ms:\n${replica.output()}`);
}

export async function startE2EStack(env: Record<string, string> = {}): Promise<E2EStack> {
  const dir = mkdtempSync(join(tmpdir(), 'proteus-e2e-'));
  const dev = await startDevStack({ env: { PROTEUS_DEV_DIR: dir, ...env } });
  const pids = (JSON.parse(readFileSync(join(dir, 'dev.lock'), 'utf8')) as { children: number[] }).children;
  const find = (needle: string) => {
    const pid = pids.find((p) => cmdline(p).some((arg) => arg.includes(needle)));
    if (pid === undefined) throw new Error(`no part of the dev stack runs ${needle}`);
    return pid;
  };
  const parts = { 'gpu-worker': find('proteus_worker'), 'stream-source': find('stream-source.ts') };
  const envOf = (part: keyof typeof parts) => environ(parts[part]);
  // api, segment, arbitrator and realtime all run src/server.ts: realtime is told by its folder
  const realtimePid = () => {
    const pid = pids.find((p) => readlinkSync(`/proc/${p}/cwd`) === join(repoRoot, 'functions/realtime'));
    if (pid === undefined) throw new Error('no part of the dev stack runs in functions/realtime');
    return pid;
  };
  const replicas: Replica[] = [];

  return {
    url: dev.url,
    dev,
    envOf,
    async startWorker(name, extra = {}) {
      const port = await freePort();
      const replica = startReplica(name, join(repoRoot, 'gpu-worker/.venv/bin/python'), ['-u', '-m', 'proteus_worker'], join(repoRoot, 'gpu-worker'), {
        ...envOf('gpu-worker'),
        WORKER_NAME: name,
        WORKER_HEALTH_PORT: String(port),
        ...extra,
      });
      replicas.push(replica);
      await healthy(`http://127.0.0.1:${port}/health`, replica);
      return replica;
    },
    async startStreamSource(name) {
      const port = await freePort();
      const replica = startReplica(name, process.execPath, ['--import', 'tsx', 'src/bin/stream-source.ts'], join(repoRoot, 'eventing'), {
        ...envOf('stream-source'),
        PORT: String(port),
        CONSUMER_NAME: name,
      });
      replicas.push(replica);
      await healthy(`http://127.0.0.1:${port}/health`, replica);
      return replica;
    },
    async startRealtime(name) {
      const port = await freePort();
      const replica = startReplica(name, process.execPath, ['--import', 'tsx', 'src/server.ts'], join(repoRoot, 'functions/realtime'), {
        ...environ(realtimePid()),
        PORT: String(port),
      });
      replicas.push(replica);
      const url = `http://127.0.0.1:${port}`;
      await healthy(`${url}/health`, replica);
      return { ...replica, url };
    },
    async stop() {
      for (const r of replicas) if (r.child.exitCode === null && r.child.signalCode === null) r.child.kill('SIGTERM');
      await Promise.all(replicas.map((r) => r.exited));
      await dev.stop();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

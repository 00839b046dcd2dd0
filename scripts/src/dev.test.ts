/**
 * The dev stack end to end, on its embedded defaults (own Redis, PGlite, in-process S3):
 * it comes up green on one URL, refuses a second start, stops without leftovers on Ctrl-C,
 * and stops whole when one part dies.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { processGone } from '@proteus/testkit';
import { afterAll, describe, expect, it } from 'vitest';
import { WebSocket } from 'ws';
import { repoRoot } from './workspaces.ts';

interface Dev {
  child: ChildProcess;
  output: () => string;
  exit: Promise<number | null>;
  dir: string;
}

const devs: Dev[] = [];
afterAll(() => {
  for (const d of devs) {
    if (d.child.exitCode === null) d.child.kill('SIGKILL');
    rmSync(d.dir, { recursive: true, force: true });
  }
});

function startDev(env: Record<string, string> = {}, dir = mkdtempSync(join(tmpdir(), 'proteus-dev-'))): Dev {
  const clean = Object.fromEntries(
    Object.entries(process.env).filter(([k]) => !/^(REDIS_URL|DATABASE_URL|OBJECT_STORAGE_|PORT$)/.test(k) && !k.startsWith('PROTEUS_TEST_')),
  );
  const child = spawn(process.execPath, ['--import', 'tsx', join(repoRoot, 'scripts/src/dev.ts')], {
    cwd: repoRoot,
    env: { ...clean, PORT: '0', PROTEUS_DEV_DIR: dir, ...env } as NodeJS.ProcessEnv,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let text = '';
  child.stdout?.on('data', (d) => {
    text += d;
  });
  child.stderr?.on('data', (d) => {
    text += d;
  });
  const exit = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  const dev = { child, output: () => text, exit, dir };
  devs.push(dev);
  return dev;
}

async function ready(dev: Dev, timeoutMs = 90_000): Promise<string> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    const match = /Proteus is up: (http:\/\/\S+)/.exec(dev.output());
    if (match) return match[1]!;
    if (dev.child.exitCode !== null) throw new Error(`dev exited ${dev.child.exitCode}:\n${dev.output()}`);
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`dev not up after ${timeoutMs} ms:\n${dev.output()}`);
}

const lockedPids = (dir: string) => (JSON.parse(readFileSync(join(dir, 'dev.lock'), 'utf8')) as { children: number[] }).children;
const alive = (pid: number) => !processGone(pid);

describe('npm run dev', () => {
  it('serves the web app, /api/health (green) and /updates on one URL; refuses a second start; Ctrl-C leaves nothing behind', async () => {
    const dev = startDev();
    const url = await ready(dev);
    const health = await fetch(`${url}/api/health`);
    const report = (await health.json()) as { status: string; checks: Record<string, { status: string; detail?: string }> };
    expect(health.status).toBe(200);
    expect(Object.keys(report.checks).sort()).toEqual(['database', 'objectStorage', 'redis', 'segment', 'worker']);
    expect(report.checks.database?.detail).toBe('pglite');
    expect(Object.values(report.checks).every((c) => c.status === 'ok')).toBe(true);

    const page = await fetch(`${url}/`);
    expect(page.headers.get('content-type')).toContain('text/html');
    expect(await page.text()).toContain('<div id="root">');

    const hello = await new Promise<string>((resolve, reject) => {
      const ws = new WebSocket(`${url.replace('http', 'ws')}/updates`, { headers: { origin: url } });
      ws.on('message', (m) => {
        resolve(String(m));
        ws.close();
      });
      ws.on('error', reject);
    });
    expect(JSON.parse(hello)).toEqual({ type: 'hello', authenticated: false });

    const second = startDev({}, dev.dir);
    expect(await second.exit).toBe(1);
    expect(second.output()).toMatch(/already running \(pid \d+\) at http:\/\/localhost:\d+/);

    const pids = lockedPids(dev.dir);
    expect(pids.length).toBe(8);
    dev.child.kill('SIGINT');
    expect(await dev.exit).toBe(0);
    expect(dev.output()).toContain('proteus dev: stopped');
    expect(pids.filter(alive)).toEqual([]);
  }, 150_000);

  it('stops the whole stack and names the part when one dies', async () => {
    const dev = startDev();
    await ready(dev);
    const pids = lockedPids(dev.dir);
    // the gpu-worker is the last part started
    process.kill(pids.at(-1)!, 'SIGKILL');
    expect(await dev.exit).toBe(1);
    expect(dev.output()).toMatch(/gpu-worker exited unexpectedly \(SIGKILL\)/);
    expect(pids.filter(alive)).toEqual([]);
  }, 150_000);

  it('says which port is taken when PORT is set to a busy one', async () => {
    const busy: Server = createServer();
    await new Promise<void>((r) => busy.listen(0, '127.0.0.1', r));
    const port = (busy.address() as { port: number }).port;
    const dev = startDev({ PORT: String(port) });
    expect(await dev.exit).toBe(1);
    expect(dev.output()).toContain(`port ${port} is in use; set PORT to a free port`);
    busy.close();
  }, 30_000);

  it.each([
    [{ PORT: 'abc' }, /PORT: expected a TCP port number/],
    [{ REDIS_URL: 'http://127.0.0.1:6379' }, /REDIS_URL: expected a redis:\/\/ or rediss:\/\/ URL/],
    [{ DATABASE_URL: 'mysql://db' }, /DATABASE_URL: expected a postgres:\/\/ URL/],
  ])(
    'stops at start naming a malformed variable: %j',
    async (env, message) => {
      const dev = startDev(env);
      expect(await dev.exit).toBe(2);
      expect(dev.output()).toMatch(/proteus dev: invalid configuration/);
      expect(dev.output()).toMatch(message);
    },
    30_000,
  );
});

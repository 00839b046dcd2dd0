/**
 * The functions image's start command: `npm start` runs the part PROTEUS_FUNCTION names, in its
 * package folder, and refuses a missing or unknown name with exit 2.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { createServer, type IncomingHttpHeaders } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join, relative } from 'node:path';
import { describe, expect, it } from 'vitest';
import { functionEntries, functionNames, repoRoot, resolveFunction } from '../src/functions.ts';

const startScript = join(repoRoot, 'infra', 'bin', 'start-function.ts');

function run(command: string, args: string[], env: Record<string, string>): { child: ChildProcess; done: Promise<{ code: number | null; stderr: string }> } {
  const child = spawn(command, args, {
    cwd: repoRoot,
    env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stderr = '';
  child.stderr?.on('data', (chunk: Buffer) => {
    stderr += chunk.toString();
  });
  child.stdout?.resume();
  const done = new Promise<{ code: number | null; stderr: string }>((resolve) => child.on('close', (code) => resolve({ code, stderr })));
  return { child, done };
}
const startNode = (env: Record<string, string>) => run(process.execPath, ['--import', 'tsx', startScript], env);

describe('resolveFunction', () => {
  it('maps each name to its package folder and entry module', () => {
    for (const name of functionNames) {
      const chosen = resolveFunction(name);
      expect(chosen.ok).toBe(true);
      if (!chosen.ok) continue;
      expect(relative(repoRoot, chosen.dir)).toBe(functionEntries[name].dir);
      expect(existsSync(chosen.entry), chosen.entry).toBe(true);
    }
  });

  it('starts each part the way its own package does', () => {
    for (const name of functionNames) {
      const { dir, entry } = functionEntries[name];
      const scripts = (JSON.parse(readFileSync(join(repoRoot, dir, 'package.json'), 'utf8')) as { scripts: Record<string, string> }).scripts;
      expect(scripts[dir === 'eventing' ? name : 'start'], name).toBe(`node --import tsx ${entry}`);
    }
  });

  it.each([
    [undefined, /PROTEUS_FUNCTION is unset; set it to one of api, segment/],
    ['', /is unset/],
    ['API', /PROTEUS_FUNCTION="API" is not a part/],
    ['constructor', /"constructor" is not a part/],
    ['../../etc/passwd', /is not a part; expected one of api, segment, arbitrator, realtime, stream-source, tick-source/],
  ])('refuses %j, naming the choices', (value, message) => {
    const chosen = resolveFunction(value);
    expect(chosen.ok).toBe(false);
    if (!chosen.ok) expect(chosen.message).toMatch(message);
  });
});

describe('start-function.ts', () => {
  it('exits 2 with the choices when PROTEUS_FUNCTION names no part', async () => {
    const { code, stderr } = await startNode({ PROTEUS_FUNCTION: 'worker' }).done;
    expect(code).toBe(2);
    expect(stderr).toContain('proteus: PROTEUS_FUNCTION="worker" is not a part; expected one of');
  });

  it('starts the named part, whose own configuration check then speaks', async () => {
    const { code, stderr } = await startNode({ PROTEUS_FUNCTION: 'arbitrator' }).done;
    expect(code).toBe(2);
    expect(stderr).toContain('proteus arbitrator: invalid configuration');
    expect(stderr).toContain('REDIS_URL: required');
  });

  /** A sink for ticks; resolves `first` on the first one. */
  async function tickSink() {
    const received: IncomingHttpHeaders[] = [];
    let resolveFirst: () => void = () => {};
    const first = new Promise<void>((resolve) => {
      resolveFirst = resolve;
    });
    const server = createServer((req, res) => {
      req.resume();
      received.push(req.headers);
      res.writeHead(202).end();
      resolveFirst();
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    return { received, first, url, close: () => server.close() };
  }
  const tickEnv = (url: string) => ({ PROTEUS_FUNCTION: 'tick-source', ARBITRATOR_URL: url, PORT: '0', TICK_PERIOD_MS: '100' });
  const beforeExit = (done: Promise<{ stderr: string }>) => done.then(({ stderr }) => Promise.reject(new Error(`exited first: ${stderr}`)));

  it("runs the part under `npm start`, the pack-built image's command, and stops it cleanly on SIGTERM", async () => {
    const sink = await tickSink();
    // the start script execs node, so npm's child is the part itself and SIGTERM reaches it
    const { child, done } = run('npm', ['start', '--silent'], tickEnv(sink.url));
    try {
      await Promise.race([sink.first, beforeExit(done)]);
      expect(sink.received[0]?.['ce-type']).toBe('dev.proteus.arbitrator.tick');
      child.kill('SIGTERM');
      expect((await done).code).toBe(0);
    } finally {
      child.kill('SIGKILL');
      sink.close();
    }
  }, 30_000);

  it('stops cleanly on SIGTERM when started as the Dockerfile does (node as the process)', async () => {
    const sink = await tickSink();
    const { child, done } = startNode(tickEnv(sink.url));
    try {
      await Promise.race([sink.first, beforeExit(done)]);
      expect(sink.received[0]?.['ce-source']).toMatch(/^\/proteus\//);
      child.kill('SIGTERM');
      expect((await done).code).toBe(0);
    } finally {
      child.kill('SIGKILL');
      sink.close();
    }
  }, 30_000);
});

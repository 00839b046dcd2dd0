/**
 * The whole dev stack (`scripts/src/dev.ts`: its own Redis, PGlite, the in-process S3 server,
 * every function, both eventing sources, the GPU worker and the built web app) in a folder of
 * its own, as scripts/src/dev.test.ts starts it, for the browser tests and the benchmark.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export const repoRoot = join(import.meta.dirname, '..', '..');

export interface DevStack {
  url: string;
  output: () => string;
  stop(): Promise<void>;
}

export async function startDevStack({ timeoutMs = 180_000, env = {} as Record<string, string> } = {}): Promise<DevStack> {
  const dir = mkdtempSync(join(tmpdir(), 'proteus-web-dev-'));
  const clean = Object.fromEntries(
    Object.entries(process.env).filter(([k]) => !/^(REDIS_URL|DATABASE_URL|OBJECT_STORAGE_|PORT$)/.test(k) && !k.startsWith('PROTEUS_TEST_')),
  );
  const child: ChildProcess = spawn(process.execPath, ['--import', 'tsx', join(repoRoot, 'scripts/src/dev.ts')], {
    cwd: repoRoot,
    env: { ...clean, PORT: '0', PROTEUS_DEV_DIR: dir, LOG_LEVEL: 'warn', ...env } as NodeJS.ProcessEnv,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let text = '';
  child.stdout?.on('data', (d) => {
    text += d;
  });
  child.stderr?.on('data', (d) => {
    text += d;
  });
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const stop = async () => {
    if (child.exitCode === null && child.signalCode === null) {
      child.kill('SIGINT');
      const timer = setTimeout(() => child.kill('SIGKILL'), 20_000);
      await exited;
      clearTimeout(timer);
    }
    rmSync(dir, { recursive: true, force: true });
  };
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    const match = /Proteus is up: (http:\/\/\S+)/.exec(text);
    if (match?.[1]) return { url: match[1], output: () => text, stop };
    if (child.exitCode !== null) {
      await stop();
      throw new Error(`the dev stack exited ${child.exitCode}:\n${text}`);
    }
    await new Promise((r) => setTimeout(r, 200));
  }
  await stop();
  throw new Error(`the dev stack was not up after ${timeoutMs} ms:\n${text}`);
}

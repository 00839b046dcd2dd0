/**
 * Runs this package's `src/server.ts` as `npm start` does, with exactly the environment given
 * (plus PATH and HOME), and collects what it prints.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { createServer, type Server } from 'node:net';
import { join } from 'node:path';

export interface Started {
  child: ChildProcess;
  stdout: () => string;
  stderr: () => string;
  /** exit code (or signal name) once the process has ended */
  exited: Promise<number | string>;
}

export function startServer(env: Record<string, string>): Started {
  const child = spawn(process.execPath, ['--import', 'tsx', 'src/server.ts'], {
    cwd: join(import.meta.dirname, '..'),
    env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '/tmp', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  let err = '';
  child.stdout?.on('data', (d: Buffer) => {
    out += d.toString();
  });
  child.stderr?.on('data', (d: Buffer) => {
    err += d.toString();
  });
  const exited = new Promise<number | string>((resolve) => child.once('exit', (code, signal) => resolve(code ?? signal ?? -1)));
  return { child, stdout: () => out, stderr: () => err, exited };
}

/** Starts the server and waits for it to exit on its own. */
export async function runServer(env: Record<string, string>, timeoutMs = 20_000): Promise<{ code: number | string; stdout: string; stderr: string }> {
  const started = startServer(env);
  const timer = setTimeout(() => started.child.kill('SIGKILL'), timeoutMs);
  const code = await started.exited;
  clearTimeout(timer);
  return { code, stdout: started.stdout(), stderr: started.stderr() };
}

/** Waits for the JSON log line with `msg` on stdout. */
export async function logLine(started: Started, msg: string, timeoutMs = 20_000): Promise<Record<string, unknown>> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    for (const line of started.stdout().split('\n')) {
      if (!line.startsWith('{')) continue;
      const entry = JSON.parse(line) as Record<string, unknown>;
      if (entry.msg === msg) return entry;
    }
    if (Date.now() > deadline || started.child.exitCode !== null) {
      throw new Error(`no "${msg}" log line; stdout:\n${started.stdout()}\nstderr:\n${started.stderr()}`);
    }
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** A TCP port held by this process until `close()`. */
export function occupiedPort(): Promise<{ port: number; close: () => Promise<void> }> {
  return new Promise((resolve, reject) => {
    const server: Server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      resolve({ port: (server.address() as { port: number }).port, close: () => new Promise((r) => server.close(() => r())) });
    });
  });
}

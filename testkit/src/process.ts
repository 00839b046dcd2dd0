/**
 * Runs a part's entry file as its own process, the way `npm start` and the dev stack do, with
 * exactly the environment given (plus PATH and HOME, so no variable of the developer's shell
 * changes the outcome), and collects what it prints.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { createServer, type Server } from 'node:net';

export interface PartProcess {
  child: ChildProcess;
  stdout: () => string;
  stderr: () => string;
  /** the JSON log lines written to stdout so far */
  logs: () => Record<string, unknown>[];
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

export function startPart(cwd: string, entry: string, env: Record<string, string>, args: readonly string[] = []): PartProcess {
  const child = spawn(process.execPath, ['--import', 'tsx', entry, ...args], {
    cwd,
    env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '/tmp', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  let err = '';
  child.stdout?.setEncoding('utf8').on('data', (chunk: string) => {
    out += chunk;
  });
  child.stderr?.setEncoding('utf8').on('data', (chunk: string) => {
    err += chunk;
  });
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    child.once('exit', (code, signal) => resolve({ code, signal })),
  );
  const logs = () =>
    out
      .split('\n')
      .filter((line) => line.startsWith('{'))
      .map((line) => JSON.parse(line) as Record<string, unknown>);
  return { child, stdout: () => out, stderr: () => err, logs, exited };
}

/** Starts the part (a CLI: with `args`) and waits for it to exit on its own (killed after `timeoutMs`). */
export async function runPart(cwd: string, entry: string, env: Record<string, string>, timeoutMs = 20_000, args: readonly string[] = []) {
  const started = startPart(cwd, entry, env, args);
  const timer = setTimeout(() => started.child.kill('SIGKILL'), timeoutMs);
  const { code, signal } = await started.exited;
  clearTimeout(timer);
  return { code, signal, stdout: started.stdout(), stderr: started.stderr() };
}

/** Waits for the JSON log line whose `msg` is `msg`. */
export async function logLine(started: PartProcess, msg: string, timeoutMs = 20_000): Promise<Record<string, unknown>> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const line = started.logs().find((entry) => entry.msg === msg);
    if (line) return line;
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

/** True when `pid` no longer runs: no such process, or a zombie waiting for a reaper (PID 1 in a container may never reap it). */
export function processGone(pid: number): boolean {
  try {
    return readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]?.startsWith('Z') ?? true;
  } catch {
    return true;
  }
}

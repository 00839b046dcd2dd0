/**
 * Runs the parts of the dev stack as child processes: each in its own process group, its
 * output prefixed with its name, its exit watched. A part that dies brings the stack down
 * (with its last lines shown) instead of leaving half a product running.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { createInterface } from 'node:readline';

export interface PartSpec {
  name: string;
  command: string;
  args: string[];
  cwd: string;
  env: Record<string, string>;
  /** URL polled until it answers 2xx */
  healthUrl?: string;
  /** stopped after every other part has exited (the services the others depend on) */
  stopLast?: boolean;
}

export interface RunningPart {
  spec: PartSpec;
  child: ChildProcess;
  tail: string[];
  exited: Promise<number | null>;
}

const colors = [36, 35, 33, 32, 34, 91, 96, 95, 93];

/** Compact one JSON log line for a terminal; other lines pass through. */
export function formatLine(line: string): string {
  if (!line.startsWith('{')) return line;
  try {
    const { time, level, part: _part, msg, ...rest } = JSON.parse(line) as Record<string, unknown>;
    const fields = Object.entries(rest)
      .map(([k, v]) => `${k}=${typeof v === 'string' ? v : JSON.stringify(v)}`)
      .join(' ');
    const clock = typeof time === 'string' ? time.slice(11, 19) : '';
    return `${clock} ${String(level ?? '').padEnd(5)} ${String(msg ?? '')}${fields ? ` ${fields}` : ''}`;
  } catch {
    return line;
  }
}

export function createSupervisor({ write = (s: string): unknown => process.stdout.write(s), color = process.stdout.isTTY } = {}) {
  const parts: RunningPart[] = [];
  let stopping = false;
  let onUnexpectedExit: (part: RunningPart, code: number | null, signal: NodeJS.Signals | null) => void = () => {};

  function start(spec: PartSpec): RunningPart {
    const child = spawn(spec.command, spec.args, {
      cwd: spec.cwd,
      env: spec.env,
      stdio: ['ignore', 'pipe', 'pipe'],
      detached: true,
    });
    const tail: string[] = [];
    const c = colors[parts.length % colors.length];
    const label = color ? `\x1b[${c}m${spec.name.padEnd(13)}\x1b[0m` : spec.name.padEnd(13);
    for (const stream of [child.stdout, child.stderr]) {
      createInterface({ input: stream! }).on('line', (line) => {
        tail.push(line);
        if (tail.length > 30) tail.shift();
        write(`${label} | ${formatLine(line)}\n`);
      });
    }
    const exited = new Promise<number | null>((resolve) => {
      child.on('exit', (code, signal) => {
        resolve(code);
        if (!stopping) onUnexpectedExit(part, code, signal);
      });
      child.on('error', (error) => {
        tail.push(`failed to start ${spec.command}: ${error.message}`);
        resolve(null);
        if (!stopping) onUnexpectedExit(part, null, null);
      });
    });
    const part: RunningPart = { spec, child, tail, exited };
    parts.push(part);
    return part;
  }

  async function waitHealthy(part: RunningPart, timeoutMs: number): Promise<void> {
    const url = part.spec.healthUrl;
    if (!url) return;
    const deadline = Date.now() + timeoutMs;
    let last = '';
    while (Date.now() < deadline) {
      if (part.child.exitCode !== null) throw new Error(`${part.spec.name} exited (code ${part.child.exitCode}) before it was healthy`);
      try {
        const response = await fetch(url, { signal: AbortSignal.timeout(1000) });
        await response.arrayBuffer();
        if (response.ok) return;
        last = `answered ${response.status}`;
      } catch (error) {
        last = (error as Error).message;
      }
      await new Promise((r) => setTimeout(r, 100));
    }
    throw new Error(`${part.spec.name} was not healthy within ${timeoutMs} ms (${url}: ${last})`);
  }

  /** SIGTERM every process group, SIGKILL what is left after `graceMs`. */
  async function stopAll(graceMs = 10_000): Promise<void> {
    stopping = true;
    const signal = (part: RunningPart, sig: NodeJS.Signals) => {
      if (part.child.exitCode !== null || part.child.signalCode !== null || !part.child.pid) return;
      try {
        process.kill(-part.child.pid, sig);
      } catch {
        // already gone
      }
    };
    for (const phase of [parts.filter((p) => !p.spec.stopLast), parts.filter((p) => p.spec.stopLast)]) {
      for (const part of phase) signal(part, 'SIGTERM');
      const timer = setTimeout(() => {
        for (const part of phase) signal(part, 'SIGKILL');
      }, graceMs);
      await Promise.all(phase.map((p) => p.exited));
      clearTimeout(timer);
    }
    // a part's own children (tsx, pip shims) share its group: make sure none outlive it
    for (const part of parts) {
      if (!part.child.pid) continue;
      try {
        process.kill(-part.child.pid, 'SIGKILL');
      } catch {
        // the group is empty
      }
    }
  }

  return {
    parts,
    start,
    waitHealthy,
    stopAll,
    get stopping() {
      return stopping;
    },
    onExit(handler: typeof onUnexpectedExit) {
      onUnexpectedExit = handler;
    },
  };
}

import { type ChildProcess, spawn } from 'node:child_process';

export interface Timed {
  child: ChildProcess;
  output: () => string;
  exit: Promise<number | null>;
  /** ms since start when `pattern` first appeared in the output */
  when(pattern: RegExp, timeoutMs: number): Promise<number>;
}

/** Spawns a command and lets the caller time when lines appear. */
export function timed(command: string, args: string[], options: { cwd: string; env: NodeJS.ProcessEnv }): Timed {
  const start = performance.now();
  const child = spawn(command, args, { ...options, stdio: ['ignore', 'pipe', 'pipe'] });
  let text = '';
  const waiters: { pattern: RegExp; resolve: (ms: number) => void }[] = [];
  const onData = (d: Buffer) => {
    text += d;
    for (const w of [...waiters]) {
      if (w.pattern.test(text)) {
        waiters.splice(waiters.indexOf(w), 1);
        w.resolve(performance.now() - start);
      }
    }
  };
  child.stdout?.on('data', onData);
  child.stderr?.on('data', onData);
  const exit = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  return {
    child,
    output: () => text,
    exit,
    when(pattern, timeoutMs) {
      if (pattern.test(text)) return Promise.resolve(performance.now() - start);
      return new Promise((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`no ${pattern} after ${timeoutMs} ms:\n${text.slice(-3000)}`)), timeoutMs);
        waiters.push({
          pattern,
          resolve: (ms) => {
            clearTimeout(timer);
            resolve(ms);
          },
        });
        void exit.then((code) => reject(new Error(`exited ${code} before ${pattern}:\n${text.slice(-3000)}`)));
      });
    },
  };
}

export const seconds = (ms: number) => (ms / 1000).toFixed(1);

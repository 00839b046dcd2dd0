/** A redis-server of the benchmark's own on a free port, gone when the process ends. */
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort } from '@proteus/scripts/ports';

export interface OwnRedis {
  port: number;
  url: string;
  /** kill -9, waiting until it is gone */
  kill9(): Promise<void>;
  /** start it again on the same port and folder (over its AOF, when on), waiting until it accepts connections */
  start(): Promise<void>;
}

/** `aof`: appendonly on (appendfsync everysec, its default), so a restart finds what a kill -9 left. */
export async function startRedis({ aof = false }: { aof?: boolean } = {}): Promise<OwnRedis> {
  const dir = mkdtempSync(join(tmpdir(), 'proteus-bench-redis-'));
  const port = await freePort();
  let server: ChildProcess | undefined;
  const start = async () => {
    server = spawn('redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', aof ? 'yes' : 'no', '--dir', dir], {
      stdio: 'ignore',
    });
    for (let i = 0; ; i++) {
      const up = await new Promise<boolean>((resolve) => {
        const socket = connect(port, '127.0.0.1', () => {
          socket.destroy();
          resolve(true);
        });
        socket.on('error', () => resolve(false));
      });
      if (up) return;
      if (i > 200) throw new Error('redis-server did not start');
      await new Promise((r) => setTimeout(r, 25));
    }
  };
  const kill9 = async () => {
    const gone = new Promise((r) => server?.once('exit', r));
    server?.kill('SIGKILL');
    await gone;
  };
  // whatever way this process ends (a thrown error included), its redis-server goes with it
  process.on('exit', () => {
    server?.kill('SIGKILL');
    rmSync(dir, { recursive: true, force: true });
  });
  await start();
  return { port, url: `redis://127.0.0.1:${port}`, kill9, start };
}

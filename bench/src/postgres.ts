/**
 * A PostgreSQL of the benchmark's own: initdb into a temp folder, pg_ctl start on a free port
 * (as the postgres user when root, as scripts/services.sh does), stopped when the process ends.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { chownSync, existsSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir, userInfo } from 'node:os';
import { join } from 'node:path';
import { freePort } from '@proteus/scripts/ports';

function bindir(): string {
  try {
    const dir = execFileSync('pg_config', ['--bindir'], { encoding: 'utf8' }).trim();
    if (existsSync(join(dir, 'postgres'))) return dir;
  } catch {}
  const root = '/usr/lib/postgresql';
  const versions = existsSync(root) ? readdirSync(root).sort((a, b) => Number(b) - Number(a)) : [];
  for (const v of versions) if (existsSync(join(root, v, 'bin', 'postgres'))) return join(root, v, 'bin');
  throw new Error('PostgreSQL not found (scripts/services.sh proteus_ensure_postgres installs it)');
}

export interface OwnPostgres {
  port: number;
  url: string;
  /** pg_ctl stop in this mode (fast: sessions ended, clean shutdown; immediate: as a crash) */
  stop(mode?: 'fast' | 'immediate'): void;
  /** pg_ctl start again over the same folder, waiting until it accepts connections */
  start(): void;
}

export async function startPostgres(): Promise<OwnPostgres> {
  const bin = bindir();
  const dir = mkdtempSync(join(tmpdir(), 'proteus-bench-pg-'));
  const port = await freePort();
  const root = userInfo().uid === 0;
  const as = (command: string, args: string[]) => (root ? ['runuser', ['-u', 'postgres', '--', command, ...args]] : [command, args]) as [string, string[]];
  if (root) {
    const uid = Number(execFileSync('id', ['-u', 'postgres'], { encoding: 'utf8' }).trim());
    const gid = Number(execFileSync('id', ['-g', 'postgres'], { encoding: 'utf8' }).trim());
    chownSync(dir, uid, gid);
  }
  const run = (command: string, args: string[]) => {
    const r = spawnSync(...as(command, args), { encoding: 'utf8' });
    if (r.status !== 0) throw new Error(`${command} failed: ${r.stderr || r.stdout}`);
  };
  const data = join(dir, 'data');
  run(join(bin, 'initdb'), ['-D', data, '-U', 'proteus', '-A', 'trust', '--no-sync', '-E', 'UTF8']);
  process.on('exit', () => {
    spawnSync(...as(join(bin, 'pg_ctl'), ['-D', data, '-m', 'immediate', 'stop']), { stdio: 'ignore' });
    if (!process.env.BENCH_PG_KEEP) rmSync(dir, { recursive: true, force: true });
  });
  // the same settings as the dev stack (scripts/services.sh): no fsync, asynchronous commit
  const options = `-p ${port} -k ${dir} -c listen_addresses=127.0.0.1 -c fsync=off -c synchronous_commit=off -c full_page_writes=off -c max_connections=300${process.env.BENCH_PG_OPTIONS ? ` ${process.env.BENCH_PG_OPTIONS}` : ''}`;
  const start = () => run(join(bin, 'pg_ctl'), ['-D', data, '-l', join(dir, 'postgres.log'), '-w', '-t', '30', 'start', '-o', options]);
  start();
  const stop = (mode: 'fast' | 'immediate' = 'fast') => run(join(bin, 'pg_ctl'), ['-D', data, '-m', mode, '-w', 'stop']);
  return { port, url: `postgres://proteus@127.0.0.1:${port}/postgres`, stop, start };
}

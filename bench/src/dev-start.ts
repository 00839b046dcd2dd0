/**
 * How long `npm run dev` takes from the command to a green /api/health, on a warm machine
 * (dependencies installed), and how long Ctrl-C takes to leave nothing running.
 * Two cases: a fresh .dev folder (PGlite creates its database) and a restart over it.
 * Baseline in the same run: a bare `node -e` start, the floor for any Node process here.
 *   npm run dev-start -w @proteus/bench [-- runs]
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { seconds, timed } from './run.ts';

const repoRoot = join(import.meta.dirname, '..', '..');
const runs = Number(process.argv[2] ?? 2);
const GOAL_MS = 15_000;

async function once(devDir: string) {
  const env: NodeJS.ProcessEnv = { ...process.env, PORT: '0', PROTEUS_DEV_DIR: devDir };
  for (const k of Object.keys(env)) if (/^(REDIS_URL|DATABASE_URL|OBJECT_STORAGE_)/.test(k)) delete env[k];
  const dev = timed('bash', [join(repoRoot, 'scripts/dev.sh')], { cwd: repoRoot, env });
  const parts = await dev.when(/starting \d+ parts/, 120_000);
  const up = await dev.when(/Proteus is up: (http:\/\/\S+)/, 120_000);
  const url = /Proteus is up: (http:\/\/\S+)/.exec(dev.output())![1]!;
  const health = await fetch(`${url}/api/health`);
  if (!health.ok) throw new Error(`/api/health answered ${health.status}: ${await health.text()}`);
  const stopAt = performance.now();
  dev.child.kill('SIGINT');
  const code = await dev.exit;
  return { parts, up, stop: performance.now() - stopAt, code };
}

const baselineStart = performance.now();
await timed(process.execPath, ['-e', '0'], { cwd: repoRoot, env: process.env }).exit;
const baseline = performance.now() - baselineStart;

const rows: string[][] = [];
for (let i = 0; i < runs; i++) {
  const dir = mkdtempSync(join(tmpdir(), 'proteus-bench-dev-'));
  try {
    for (const kind of ['fresh .dev', 'restart']) {
      const r = await once(dir);
      rows.push([kind, seconds(r.parts), seconds(r.up), seconds(r.stop), String(r.code), (r.up / baseline).toFixed(0), r.up <= GOAL_MS ? 'yes' : 'NO']);
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

const header = ['case', 'parts start (s)', 'healthy (s)', 'Ctrl-C to exit (s)', 'exit code', 'x bare node start', `<= ${GOAL_MS / 1000} s`];
console.log(`\nnpm run dev, command to green /api/health (warm machine, ${runs} runs; bare node start ${baseline.toFixed(0)} ms)\n`);
console.log(`| ${header.join(' | ')} |\n|${header.map(() => '---').join('|')}|`);
for (const r of rows) console.log(`| ${r.join(' | ')} |`);

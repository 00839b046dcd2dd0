/**
 * How long the whole `npm test` takes on a warm machine (goal: at most 10 minutes), and what
 * it counted. Baseline in the same run: the type checks and lint alone.
 *   npm run test-run -w @proteus/bench
 */
import { join } from 'node:path';
import { seconds, timed } from './run.ts';

const repoRoot = join(import.meta.dirname, '..', '..');
const GOAL_MS = 10 * 60_000;

const env = { ...process.env };
for (const k of Object.keys(env)) if (k.startsWith('PROTEUS_TEST_')) delete env[k];

const t0 = performance.now();
const checks = timed('npx', ['turbo', 'run', 'check-types', '--force', '--output-logs=none'], { cwd: repoRoot, env });
await checks.exit;
const checksMs = performance.now() - t0;

const t1 = performance.now();
const run = timed('bash', [join(repoRoot, 'scripts/test.sh')], { cwd: repoRoot, env });
const code = await run.exit;
const totalMs = performance.now() - t1;
const summary = run
  .output()
  .split('\n')
  .filter((l) => /^\d+ passed, \d+ failed/.test(l))
  .at(-1);

console.log('\n| what | seconds |\n|---|---|');
console.log(`| type checks alone (turbo, no cache) | ${seconds(checksMs)} |`);
console.log(`| npm test (services, checks, lint, every suite) | ${seconds(totalMs)} |`);
console.log(`\nexit ${code}; ${summary ?? 'no summary line'}; goal <= ${GOAL_MS / 60_000} min: ${totalMs <= GOAL_MS ? 'yes' : 'NO'}`);
process.exit(code ?? 1);

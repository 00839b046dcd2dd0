/**
 * Load (issue #9, item 4) against the running dev stack from outside: 100 shoppers, each on its
 * own /updates socket, send bursts of warp try-ons (POST /api/catvton/transferOutfit) at set
 * offered rates to the stack's gpu-worker plus extra workers; every job must reach its owner
 * exactly once (none lost, none duplicated, none delivered to someone else). Prints throughput,
 * end-to-end latency percentiles (POST to the terminal event on the owner's socket) per offered
 * rate, and the arbitrator's batch size history from `events:policy`.
 * Scaled to this 2-core machine: the 10,000 jobs would take far longer than 15 minutes on
 * CPU warp; the job counts are arguments.
 *   npm run e2e:load -w @proteus/bench [-- JOBS_PER_RATE RATES EXTRA_WORKERS USERS]
 *   e.g. npm run e2e:load -w @proteus/bench -- 200 10,100,1000 2 100
 */
import { keys } from '@proteus/eventing';
import { Redis } from 'ioredis';
import { ms, offer, percentile, type Shopper, settle, shoppers } from './burst.ts';
import { startE2EStack } from './stack.ts';

const JOBS = Number(process.argv[2] ?? 200);
const RATES = (process.argv[3] ?? '10,100,1000').split(',').map(Number);
const EXTRA_WORKERS = Number(process.argv[4] ?? 2);
const USERS = Number(process.argv[5] ?? 100);
const SETTLE_MS = 600_000;

process.on('SIGINT', () => process.exit(130));

const say = (line: string) => process.stdout.write(`${line}\n`);
const started = performance.now();
const stack = await startE2EStack();
let exitCode = 0;
try {
  say(`dev stack up at ${stack.url} in ${((performance.now() - started) / 1000).toFixed(1)} s`);
  for (let i = 1; i <= EXTRA_WORKERS; i++) await stack.startWorker(`e2e-load-worker-${i}`);
  say(`${EXTRA_WORKERS + 1} gpu-workers (the stack's own + ${EXTRA_WORKERS})`);
  const redis = new Redis(stack.envOf('gpu-worker').REDIS_URL as string);
  const policyFrom = (await redis.xrevrange(keys.arbitrator.policyChanges, '+', '-', 'COUNT', 1))[0]?.[0] ?? '0';

  const t = performance.now();
  const all: Shopper[] = await shoppers(stack.url, USERS);
  say(`${USERS} shoppers signed up, sockets open, photos verified in ${((performance.now() - t) / 1000).toFixed(1)} s`);

  // a few jobs first, so every worker has loaded its engine before anything is measured
  const warm = await offer(all, 6, 6);
  await settle(all, warm.sent, warm.rejected.length, SETTLE_MS);

  const rows: string[] = [];
  let lostTotal = 0;
  for (const [r, rate] of RATES.entries()) {
    const { sent, rejected } = await offer(all, JOBS, rate, r * JOBS);
    if (rejected.length) say(`  ${rejected.length} refused, first: ${rejected[0]}`);
    const tally = await settle(all, sent, rejected.length, SETTLE_MS);
    lostTotal += tally.lost + tally.duplicated + tally.strays;
    const row = `| ${rate} | ${tally.jobs} | ${tally.completed} | ${tally.failed} | ${tally.lost} | ${tally.duplicated} | ${tally.strays} | ${tally.rejected} | ${(tally.completed / tally.seconds).toFixed(1)} | ${ms(percentile(tally.latencies, 0.5))} | ${ms(percentile(tally.latencies, 0.95))} | ${ms(percentile(tally.latencies, 0.99))} |`;
    rows.push(row);
    say(row);
  }

  // the arbitrator lowers the batch size again once the queue is empty: wait for it (at most 60 s)
  const policyTrail = async () =>
    (await redis.xrange(keys.arbitrator.policyChanges, `(${policyFrom}`, '+')).map(
      ([, fields]) => (JSON.parse(fields[fields.indexOf(keys.entryField) + 1] as string) as { data: { batchSize: number } }).data.batchSize,
    );
  let trail = await policyTrail();
  for (let i = 0; i < 60 && trail.at(-1) !== undefined && trail.at(-1) !== 1; i++) {
    await new Promise((res) => setTimeout(res, 1000));
    trail = await policyTrail();
  }
  await redis.quit();

  say('');
  say(`## load: ${USERS} shoppers, ${EXTRA_WORKERS + 1} gpu-workers (warp, CPU), ${JOBS} jobs per offered rate`);
  say('| offered jobs/s | jobs | completed | failed | lost | duplicated | to another user | refused | delivered jobs/s | p50 | p95 | p99 |');
  say('|---|---|---|---|---|---|---|---|---|---|---|---|');
  for (const row of rows) say(row);
  say(`batch size (events:policy during the run): ${trail.length ? trail.join(' -> ') : 'no change'}; max ${trail.length ? Math.max(...trail) : 'n/a'}`);
  say(`jobs lost, duplicated or misdelivered: ${lostTotal}`);
  for (const shopper of all) shopper.updates.close();
  if (lostTotal > 0) exitCode = 1;
} catch (error) {
  say(`load failed: ${(error as Error).stack}`);
  exitCode = 1;
} finally {
  await stack.stop();
}
process.exit(exitCode);

/**
 * Load (issue #9, item 4) against the running dev stack from outside: 100 shoppers, each on its
 * own /updates socket, send warp try-ons (POST /api/catvton/transferOutfit) to the stack's
 * gpu-worker plus extra workers; every job must reach its owner exactly once (none lost, none
 * duplicated, none delivered to someone else).
 *  1. Latency at set offered rates (10, 100, 1,000 jobs/s; JOBS_PER_RATE jobs each): end-to-end
 *     percentiles, from the POST to the terminal event on the owner's socket.
 *  2. The burst: BURST jobs (10,000) as fast as the api takes them (64 POSTs in flight),
 *     then the arbitrator's batch size history from `events:policy` (keys.arbitrator.policyChanges):
 *     it must climb to 8 under the burst and come back to 1 after it, asserted.
 * Exits 1 when a job is lost, duplicated or misdelivered, or the batch size did not climb to 8
 * and come back to 1. Writes section `load` of docs/RELIABILITY.md (RELIABILITY_REPORT=0: print only).
 *   npm run e2e:load -w @proteus/bench [-- JOBS_PER_RATE RATES EXTRA_WORKERS USERS BURST]
 *   defaults 200 10,100,1000 2 100 10000; scaled down e.g. -- 50 10,100 2 20 500
 */
import { loadavg } from 'node:os';
import { keys } from '@proteus/eventing';
import { Redis } from 'ioredis';
import { flood, ms, offer, percentile, type Shopper, settle, shoppers, type Tally } from './burst.ts';
import { report } from './report.ts';
import { startE2EStack } from './stack.ts';

const JOBS = Number(process.argv[2] ?? 200);
const RATES = (process.argv[3] ?? '10,100,1000').split(',').map(Number);
const EXTRA_WORKERS = Number(process.argv[4] ?? 2);
const USERS = Number(process.argv[5] ?? 100);
const BURST = Number(process.argv[6] ?? 10_000);
const IN_FLIGHT = 64;
const SETTLE_MS = 600_000;
const TOP_BATCH = 8;

process.on('SIGINT', () => process.exit(130));

const say = (line: string) => process.stdout.write(`${line}\n`);
const seconds = (since: number) => ((performance.now() - since) / 1000).toFixed(1);
const started = performance.now();
const stack = await startE2EStack();
let exitCode = 0;
// the machine is shared: its 1-minute load average when a phase starts says what else ran
const load = () => (loadavg()[0] as number).toFixed(1);
const row = (offered: string, t: Tally, loadAtStart: string) =>
  `| ${offered} | ${loadAtStart} | ${t.jobs} | ${t.completed} | ${t.failed} | ${t.lost} | ${t.duplicated} | ${t.strays} | ${t.rejected} | ${(t.completed / t.seconds).toFixed(1)} | ${ms(percentile(t.latencies, 0.5))} | ${ms(percentile(t.latencies, 0.95))} | ${ms(percentile(t.latencies, 0.99))} |`;
try {
  say(`dev stack up at ${stack.url} in ${seconds(started)} s`);
  for (let i = 1; i <= EXTRA_WORKERS; i++) await stack.startWorker(`e2e-load-worker-${i}`);
  say(`${EXTRA_WORKERS + 1} gpu-workers (the stack's own + ${EXTRA_WORKERS})`);
  const redis = new Redis(stack.envOf('gpu-worker').REDIS_URL as string);
  const policyFrom = (await redis.xrevrange(keys.arbitrator.policyChanges, '+', '-', 'COUNT', 1))[0]?.[0] ?? '0';

  const t = performance.now();
  const all: Shopper[] = await shoppers(stack.url, USERS);
  say(`${USERS} shoppers signed up, sockets open, photos verified in ${seconds(t)} s`);

  // a few jobs first, so every worker has loaded its engine before anything is measured
  const warm = await offer(all, 6, 6);
  await settle(all, warm.sent, warm.rejected.length, SETTLE_MS);

  const rows: string[] = [];
  let bad = 0;
  for (const [r, rate] of RATES.entries()) {
    const loadAtStart = load();
    const { sent, rejected } = await offer(all, JOBS, rate, r * JOBS);
    if (rejected.length) say(`  ${rejected.length} refused, first: ${rejected[0]}`);
    const tally = await settle(all, sent, rejected.length, SETTLE_MS);
    bad += tally.lost + tally.duplicated + tally.strays;
    rows.push(row(String(rate), tally, loadAtStart));
    say(rows.at(-1) as string);
  }

  const burstLoad = load();
  const b = performance.now();
  const burst = await flood(all, BURST, IN_FLIGHT, RATES.length * JOBS);
  say(`burst of ${BURST} submitted in ${seconds(b)} s (${burst.perSecond.toFixed(0)} POSTs/s accepted or refused)`);
  if (burst.rejected.length) say(`  ${burst.rejected.length} refused, first: ${burst.rejected[0]}`);
  const burstTally = await settle(all, burst.sent, burst.rejected.length, SETTLE_MS);
  bad += burstTally.lost + burstTally.duplicated + burstTally.strays;
  rows.push(row(`burst (${burst.perSecond.toFixed(0)} accepted/s, ${IN_FLIGHT} in flight)`, burstTally, burstLoad));
  say(rows.at(-1) as string);
  say(`burst delivered in ${burstTally.seconds.toFixed(1)} s from the first POST to the last outcome`);

  // the arbitrator lowers the batch size again once the queue is empty: wait for it (at most 90 s)
  const policyTrail = async () =>
    (await redis.xrange(keys.arbitrator.policyChanges, `(${policyFrom}`, '+')).map(
      ([, fields]) => (JSON.parse(fields[fields.indexOf(keys.entryField) + 1] as string) as { data: { batchSize: number } }).data.batchSize,
    );
  const w = performance.now();
  let trail = await policyTrail();
  while (performance.now() - w < 90_000 && trail.at(-1) !== 1) {
    await new Promise((res) => setTimeout(res, 1000));
    trail = await policyTrail();
  }
  await redis.quit();
  const climbed = trail.includes(TOP_BATCH);
  const returned = trail.at(-1) === 1;
  const total = seconds(started);
  const jobsInAll = RATES.length * JOBS + BURST;

  const table = [
    '| offered jobs/s | load avg at start | jobs | completed | failed | lost | duplicated | to another user | refused | delivered jobs/s | p50 | p95 | p99 |',
    '|---|---|---|---|---|---|---|---|---|---|---|---|---|',
    ...rows,
  ].join('\n');
  const section = [
    `\`npm run e2e:load -w @proteus/bench -- ${JOBS} ${RATES.join(',')} ${EXTRA_WORKERS} ${USERS} ${BURST}\`, ${new Date().toISOString().slice(0, 10)},`,
    `shared 2-core machine (CPU only), ${USERS} shoppers, ${EXTRA_WORKERS + 1} gpu-workers (the stack's own + ${EXTRA_WORKERS}), warp engine, 192x256 photos,`,
    `after 6 warm-up jobs: ${JOBS} jobs per offered rate, then a burst of ${BURST}; ${jobsInAll} jobs in all, ${total} s for the whole command including the stack's start.`,
    '"load avg at start": the machine\'s 1-minute load average when the phase began (2 cores; above 2, other work competed).',
    '',
    table,
    '',
    `Batch size, from \`events:policy\` during the run: ${trail.length ? trail.join(' -> ') : 'no change'}.`,
    `Climbed to ${TOP_BATCH}: ${climbed ? 'yes' : '**no**'}; back to 1 after the burst: ${returned ? 'yes' : '**no**'} (asserted).`,
    `Jobs lost, duplicated or misdelivered: ${bad}${bad ? ' (**the run failed**)' : ''}.`,
  ].join('\n');
  say('');
  say(`## load`);
  say(section);
  for (const shopper of all) shopper.updates.close();
  if (bad > 0 || !climbed || !returned) exitCode = 1;
  say(report('load', section));
  say(`total ${total} s`);
} catch (error) {
  say(`load failed: ${(error as Error).stack}`);
  exitCode = 1;
} finally {
  await stack.stop();
}
process.exit(exitCode);

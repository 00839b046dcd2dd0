/**
 * Chaos (issue #9, item 2) against the running dev stack from outside, each fault injected
 * mid-burst with its outcome checked: every job reaches exactly one terminal status on its
 * owner's socket (none lost, none duplicated, none misdelivered), GET /api/status agrees, and
 * the stack recovers by itself; the recovery time is measured.
 *  - kill -9 a gpu-worker while it holds claimed jobs: the survivors reclaim them once idle
 *    for WORKER_RECLAIM_IDLE_MS (default 30 s).
 *  - kill -9 a stream source replica while it holds lifecycle events: the surviving source
 *    reclaims them after STREAM_SOURCE_RECLAIM_IDLE_MS (default 30 s).
 *  - kill -9 Redis (a redis-server of this command's, AOF on, given to the stack as REDIS_URL)
 *    mid-burst, down 3 s, started again over its AOF: the parts must reconnect by themselves.
 * The victims are replicas this command starts beside the supervised parts (bench/src/e2e/stack.ts):
 * the dev supervisor stops the whole stack when one of its own parts dies.
 * Recovery: from the kill to the terminal event, on its owner's socket, of the last job whose
 * entry the victim held when it died; for Redis, from the restart to a new job's outcome.
 * Prints a markdown table for docs/RELIABILITY.md; exits 1 when a job was lost or duplicated.
 *   npm run e2e:chaos -w @proteus/bench [-- JOBS RATE]
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { keys } from '@proteus/eventing';
import { Redis } from 'ioredis';
import { freePort } from '../redis.ts';
import { ms, offer, type Sent, type Shopper, settle, shoppers } from './burst.ts';
import { call } from './client.ts';
import { type E2EStack, startE2EStack } from './stack.ts';

const JOBS = Number(process.argv[2] ?? 120);
const RATE = Number(process.argv[3] ?? 40);
const USERS = 20;
const SETTLE_MS = 300_000;
const DOWN_MS = 3000;

process.on('SIGINT', () => process.exit(130));
const say = (line: string) => process.stdout.write(`${line}\n`);

/** The job ids of the entries `consumer` holds unacknowledged in `stream` (its group per keys.streamGroups). */
async function held(redis: Redis, stream: keyof typeof keys.streamGroups, consumer: string): Promise<string[]> {
  const pending = (await redis.xpending(stream, keys.streamGroups[stream], '-', '+', 1000, consumer)) as [string, string, number, number][];
  const jobIds: string[] = [];
  for (const [id] of pending) {
    const [entry] = await redis.xrange(stream, id, id);
    const fields = entry?.[1] ?? [];
    const raw = fields[fields.indexOf(keys.entryField) + 1];
    if (raw) jobIds.push((JSON.parse(raw) as { data: { jobId: string } }).data.jobId);
  }
  return jobIds;
}

/**
 * Polls every 5 ms until `consumer` holds `atLeast` entries of `stream` (at most `timeoutMs`,
 * then it settles for any); answers what it holds then.
 */
async function whenHolding(redis: Redis, stream: keyof typeof keys.streamGroups, consumer: string, atLeast: number, timeoutMs: number): Promise<string[]> {
  const deadline = performance.now() + timeoutMs;
  for (;;) {
    const pending = (await redis.xpending(stream, keys.streamGroups[stream], '-', '+', atLeast, consumer)) as unknown[];
    if (pending.length >= atLeast || (pending.length && performance.now() > deadline)) return held(redis, stream, consumer);
    if (performance.now() > deadline + 10_000) return [];
    await new Promise((r) => setTimeout(r, 5));
  }
}

/** ms until nothing is pending for `consumer` any more (its entries acknowledged or taken over), at most `timeoutMs`. */
async function drained(redis: Redis, stream: keyof typeof keys.streamGroups, consumer: string, since: number, timeoutMs: number): Promise<number> {
  for (;;) {
    const pending = (await redis.xpending(stream, keys.streamGroups[stream], '-', '+', 1, consumer)) as unknown[];
    if (!pending.length) return performance.now() - since;
    if (performance.now() - since > timeoutMs) return Number.POSITIVE_INFINITY;
    await new Promise((r) => setTimeout(r, 50));
  }
}

interface Outcome {
  fault: string;
  expected: string;
  /** entries the victim held when it died (n/a for Redis) */
  held: number | undefined;
  recoveryMs: number;
  /** until the victim's entries were taken over (n/a for Redis) */
  drainMs: number | undefined;
  jobs: number;
  refused: number;
  lost: number;
  duplicated: number;
  strays: number;
  failed: number;
  statusDisagrees: number;
}

/** Every job's GET /api/status is terminal and says what its owner's socket said. */
async function statusDisagreements(sent: Sent[]): Promise<number> {
  let bad = 0;
  for (const s of sent) {
    const seen = s.shopper.updates.events.find((e) => e.job_id === s.jobId && e.type === 'job' && (e.status === 'completed' || e.status === 'failed'));
    const status = await call<{ status: string }>(s.shopper.session.url, 'GET', `/api/status/${s.jobId}`, { token: s.shopper.session.token });
    if (!seen || seen.status !== status.status) bad++;
  }
  return bad;
}

async function scenario(
  all: Shopper[],
  redis: Redis,
  fault: string,
  expected: string,
  stream: keyof typeof keys.streamGroups,
  consumer: string,
  kill: () => void,
  first: number,
  atLeast: number,
): Promise<Outcome> {
  const burst = offer(all, JOBS, RATE, first);
  const victimHeld = await whenHolding(redis, stream, consumer, atLeast, (JOBS / RATE) * 500);
  const killedAt = performance.now();
  kill();
  say(`${fault}: killed holding ${victimHeld.length} entries`);
  const { sent, rejected } = await burst;
  const tally = await settle(all, sent, rejected.length, SETTLE_MS);
  const drainMs = await drained(redis, stream, consumer, killedAt, 120_000);
  const byJob = new Map(sent.map((s) => [s.jobId, s]));
  let recoveredAt = killedAt;
  for (const jobId of victimHeld) {
    const s = byJob.get(jobId);
    const event = s?.shopper.updates.events.find((e) => e.job_id === jobId && e.type === 'job' && (e.status === 'completed' || e.status === 'failed'));
    const at = event ? s?.shopper.updates.arrivedAt.get(event) : undefined;
    if (at === undefined) recoveredAt = Number.POSITIVE_INFINITY;
    else recoveredAt = Math.max(recoveredAt, at);
  }
  return {
    fault,
    expected,
    held: victimHeld.length,
    recoveryMs: recoveredAt - killedAt,
    drainMs,
    jobs: tally.jobs,
    refused: tally.rejected,
    lost: tally.lost,
    duplicated: tally.duplicated,
    strays: tally.strays,
    failed: tally.failed,
    statusDisagrees: await statusDisagreements(sent),
  };
}

/** A redis-server with AOF on (appendfsync everysec, its default), on a fixed port and folder, so it can be killed and started again. */
async function ownRedis() {
  const dir = mkdtempSync(join(tmpdir(), 'proteus-e2e-redis-'));
  const port = await freePort();
  let child: ChildProcess | undefined;
  const start = async () => {
    child = spawn('redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--dir', dir, '--appendonly', 'yes', '--save', ''], { stdio: 'ignore' });
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
    const gone = new Promise((r) => child?.once('exit', r));
    child?.kill('SIGKILL');
    await gone;
  };
  process.on('exit', () => {
    child?.kill('SIGKILL');
    rmSync(dir, { recursive: true, force: true });
  });
  await start();
  return { url: `redis://127.0.0.1:${port}`, start, kill9 };
}

/**
 * kill -9 Redis mid-burst, start it again over its AOF after DOWN_MS; recovery is from the
 * restart to the owner's socket receiving the outcome of a probe job submitted after it (its
 * POST retried while the api refuses).
 */
async function redisRestart(all: Shopper[], server: Awaited<ReturnType<typeof ownRedis>>, first: number): Promise<Outcome> {
  const burst = offer(all, JOBS, RATE, first);
  await new Promise((r) => setTimeout(r, (JOBS / RATE) * 400));
  const killedAt = performance.now();
  await server.kill9();
  say('kill -9 Redis: killed');
  await new Promise((r) => setTimeout(r, DOWN_MS));
  await server.start();
  const restartedAt = performance.now();
  const { sent, rejected } = await burst;
  let probe: Sent | undefined;
  for (let i = 0; !probe && performance.now() - restartedAt < 120_000; i++) {
    const answer = await offer(all, 1, 1, first + JOBS + i);
    probe = answer.sent[0];
    if (!probe) await new Promise((r) => setTimeout(r, 200));
  }
  const probeDone = probe ? await probe.shopper.updates.terminal(probe.jobId, SETTLE_MS).catch(() => undefined) : undefined;
  const recoveredAt = probeDone && probe ? (probe.shopper.updates.arrivedAt.get(probeDone) as number) : Number.POSITIVE_INFINITY;
  // accepted jobs have had their chance once the probe went through: a minute more, not SETTLE_MS
  const tally = await settle(all, sent, rejected.length, 60_000);
  const missing = sent.filter(
    (s) => !s.shopper.updates.events.some((e) => e.job_id === s.jobId && e.type === 'job' && (e.status === 'completed' || e.status === 'failed')),
  );
  const statuses = await Promise.all(
    missing.map((s) =>
      call<{ status: string }>(s.shopper.session.url, 'GET', `/api/status/${s.jobId}`, { token: s.shopper.session.token }).then((j) => j.status),
    ),
  );
  const accepted = missing.map((s) => Math.round(s.acceptedAt - killedAt));
  if (missing.length)
    say(`  jobs with no outcome on the socket: GET /api/status says ${statuses.join(', ')}; accepted at ${accepted.join(', ')} ms from the kill`);
  return {
    fault: `kill -9 Redis (AOF, appendfsync everysec), down ${DOWN_MS / 1000} s, restarted`,
    expected: 'submissions during the outage refused (503); every accepted job ends once; the parts reconnect by themselves',
    held: undefined,
    recoveryMs: recoveredAt - restartedAt,
    drainMs: undefined,
    jobs: tally.jobs,
    refused: tally.rejected,
    lost: tally.lost,
    duplicated: tally.duplicated,
    strays: tally.strays,
    failed: tally.failed,
    statusDisagrees: await statusDisagreements(sent),
  };
}

let stack: E2EStack | undefined;
let exitCode = 0;
const outcomes: Outcome[] = [];
try {
  const server = await ownRedis();
  stack = await startE2EStack({ REDIS_URL: server.url });
  say(`dev stack up at ${stack.url}`);
  const redis = new Redis(server.url);
  const all = await shoppers(stack.url, USERS);
  const warm = await offer(all, 4, 4);
  await settle(all, warm.sent, warm.rejected.length, SETTLE_MS);

  const worker = await stack.startWorker('e2e-chaos-worker');
  outcomes.push(
    await scenario(
      all,
      redis,
      'kill -9 a gpu-worker mid-batch',
      'its claimed jobs are reclaimed by a surviving worker; each ends once',
      keys.streams.jobs,
      'e2e-chaos-worker',
      () => worker.child.kill('SIGKILL'),
      0,
      3,
    ),
  );

  const source = await stack.startStreamSource('e2e-chaos-source');
  outcomes.push(
    await scenario(
      all,
      redis,
      'kill -9 a stream source replica mid-stream',
      'its unacknowledged lifecycle events are reclaimed by the other source; each job ends once',
      keys.streams.lifecycle,
      'e2e-chaos-source',
      () => source.child.kill('SIGKILL'),
      JOBS,
      1,
    ),
  );
  redis.disconnect();
  outcomes.push(await redisRestart(all, server, 2 * JOBS));
  for (const shopper of all) shopper.updates.close();
} catch (error) {
  say(`chaos failed: ${(error as Error).stack}`);
  say(stack?.dev.output().slice(-3000) ?? '');
  exitCode = 1;
} finally {
  await stack?.stop();
}
say('');
say(`## chaos: ${USERS} shoppers, ${JOBS} warp try-ons at ${RATE}/s offered per fault`);
say(
  "| fault | expected | entries the victim held | recovery | victim's entries taken over after | jobs accepted | refused | lost | duplicated | to another user | failed | status disagrees with socket |",
);
say('|---|---|---|---|---|---|---|---|---|---|---|---|');
for (const o of outcomes) {
  say(
    `| ${o.fault} | ${o.expected} | ${o.held ?? 'n/a'} | ${o.held === 0 ? 'n/a (held nothing)' : ms(o.recoveryMs)} | ${o.drainMs === undefined ? 'n/a' : ms(o.drainMs)} | ${o.jobs} | ${o.refused} | ${o.lost} | ${o.duplicated} | ${o.strays} | ${o.failed} | ${o.statusDisagrees} |`,
  );
  if (o.lost || o.duplicated || o.strays || o.statusDisagrees || !Number.isFinite(o.recoveryMs) || (o.drainMs !== undefined && !Number.isFinite(o.drainMs)))
    exitCode = 1;
}
process.exit(exitCode);

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
 *  - stop PostgreSQL (one of this command's, bench/src/postgres.ts, given to the stack as
 *    DATABASE_URL) mid-burst with `pg_ctl stop -m fast`, 10 s, start it again: submissions while
 *    it is down are refused with 503 database-unavailable (problem+json) and leave no queued entry without a row;
 *    lifecycle events the api could not record are retried by the stream source.
 *  - kill -9 a realtime replica (started beside the supervised one) holding half the shoppers'
 *    sockets: they see the close, reconnect through the gateway, resync from GET /api/jobs, and
 *    every outcome reaches its owner once after reconciliation (keyed by job id, burst.ts).
 * The victims are replicas this command starts beside the supervised parts (bench/src/e2e/stack.ts):
 * the dev supervisor stops the whole stack when one of its own parts dies.
 * Recovery: from the kill to the terminal event, on its owner's socket, of the last job whose
 * entry the victim held when it died; for Redis, from the restart to a new job's outcome; for
 * PostgreSQL, from the restart to the later of a new job's outcome and the last outcome of the
 * jobs that had none at the stop; for realtime, from the kill to the last outcome of the moved shoppers' jobs then open.
 * Every fault also counts the dead letters it caused (a lifecycle event given up on).
 * Writes section `chaos` of docs/RELIABILITY.md when all faults ran (RELIABILITY_REPORT=0:
 * print only); exits 1 when a job was lost or duplicated, or a check failed.
 *   npm run e2e:chaos -w @proteus/bench [-- JOBS RATE FAULTS]
 *   FAULTS: comma-separated subset of worker,source,redis,postgres,realtime (default all)
 */
import { loadavg } from 'node:os';
import { keys } from '@proteus/eventing';
import { Redis } from 'ioredis';
import { type OwnPostgres, startPostgres } from '../postgres.ts';
import { type OwnRedis, startRedis } from '../redis.ts';
import { ms, offer, type Sent, type Shopper, settle, shoppers } from './burst.ts';
import { call, facingLandmarks, isTerminal, Updates } from './client.ts';
import { report } from './report.ts';
import { type E2EStack, startE2EStack } from './stack.ts';

const JOBS = Number(process.argv[2] ?? 120);
const RATE = Number(process.argv[3] ?? 40);
const ALL_FAULTS = ['worker', 'source', 'redis', 'postgres', 'realtime'] as const;
const FAULTS = new Set((process.argv[4] ?? ALL_FAULTS.join(',')).split(','));
const USERS = 20;
const SETTLE_MS = 300_000;
const DOWN_MS = 3000;
const PG_DOWN_MS = 10_000;

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
  /** dead letters written during the fault (lifecycle events given up on) */
  deadLetters: number;
  /** what else was checked, and how it went; `ok: false` fails the run */
  checks: { what: string; ok: boolean }[];
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** The id of the newest entry of `stream` ('0' when empty): later entries are this fault's. */
const lastId = async (redis: Redis, stream: string) => (await redis.xrevrange(stream, '+', '-', 'COUNT', 1))[0]?.[0] ?? '0';
const countSince = async (redis: Redis, stream: string, from: string) => (await redis.xrange(stream, `(${from}`, '+')).length;

/** Retries one submission until it is accepted (at most `timeoutMs`); answers when its outcome reached its owner. */
async function probe(all: Shopper[], first: number, timeoutMs: number): Promise<number> {
  const since = performance.now();
  let sent: Sent | undefined;
  for (let i = 0; !sent && performance.now() - since < timeoutMs; i++) {
    sent = (await offer(all, 1, 1, first + i)).sent[0];
    if (!sent) await sleep(200);
  }
  const done = sent ? await sent.shopper.updates.terminal(sent.jobId, SETTLE_MS).catch(() => undefined) : undefined;
  return done && sent ? (sent.shopper.updates.arrivedAt.get(done) as number) : Number.POSITIVE_INFINITY;
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
  const deadFrom = await lastId(redis, keys.streams.dead);
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
    ...counts(tally),
    statusDisagrees: await statusDisagreements(sent),
    deadLetters: await countSince(redis, keys.streams.dead, deadFrom),
    checks: [],
  };
}

/**
 * kill -9 Redis mid-burst, start it again over its AOF after DOWN_MS; recovery is from the
 * restart to the owner's socket receiving the outcome of a probe job submitted after it (its
 * POST retried while the api refuses).
 */
async function redisRestart(all: Shopper[], server: OwnRedis, first: number): Promise<Outcome> {
  const before = new Redis(server.url);
  const deadFrom = await lastId(before, keys.streams.dead);
  before.disconnect();
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
    ...counts(tally),
    statusDisagrees: await statusDisagreements(sent),
    deadLetters: await withRedis(server.url, (r) => countSince(r, keys.streams.dead, deadFrom)),
    checks: [],
  };
}

/** What a fault's tally says about its jobs, in the fields of its table row. */
const counts = (tally: Awaited<ReturnType<typeof settle>>) => ({
  jobs: tally.jobs,
  refused: tally.rejected,
  lost: tally.lost,
  duplicated: tally.duplicated,
  strays: tally.strays,
  failed: tally.failed,
});

async function withRedis<T>(url: string, work: (redis: Redis) => Promise<T>): Promise<T> {
  const redis = new Redis(url);
  try {
    return await work(redis);
  } finally {
    redis.disconnect();
  }
}

/** One submission sent by hand: its status, content type and problem title. */
async function rawSubmit(shopper: Shopper): Promise<{ status: number; contentType: string; title: string }> {
  const response = await fetch(`${shopper.session.url}/api/catvton/transferOutfit`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${shopper.session.token}`, 'idempotency-key': crypto.randomUUID() },
    body: JSON.stringify({ personKey: shopper.personKey, garmentKey: shopper.garmentKey, landmarks: facingLandmarks(), engine: 'warp' }),
    signal: AbortSignal.timeout(30_000),
  });
  const text = await response.text();
  let title = '';
  try {
    title = (JSON.parse(text) as { title?: string }).title ?? '';
  } catch {}
  return { status: response.status, contentType: response.headers.get('content-type') ?? '', title };
}

/**
 * Queued entries without a job row: every `queue:jobs` entry added since `from` must name a job
 * its owner can read (GET /api/status answers 404 for a job with no row).
 */
async function entriesWithoutRow(redis: Redis, from: string, all: Shopper[]): Promise<{ entries: number; orphans: number }> {
  const owners = new Map(all.map((s) => [s.session.userId, s]));
  const entries = await redis.xrange(keys.streams.jobs, `(${from}`, '+');
  let orphans = 0;
  for (const [, fields] of entries) {
    const { data } = JSON.parse(fields[fields.indexOf(keys.entryField) + 1] as string) as { data: { jobId: string; userId: string } };
    const owner = owners.get(data.userId);
    if (!owner) continue;
    const found = await fetch(`${owner.session.url}/api/status/${data.jobId}`, { headers: { authorization: `Bearer ${owner.session.token}` } });
    if (found.status === 404) orphans++;
  }
  return { entries: entries.length, orphans };
}

/**
 * pg_ctl stop -m fast mid-burst, once a backlog of accepted jobs is still to be done (so workers
 * finish jobs whose lifecycle events the api cannot record while it is down), PG_DOWN_MS down,
 * pg_ctl start. Recovery: from the restart until the owners have the outcome of a probe job
 * submitted after it and of every job that had none at the stop.
 */
async function postgresStop(all: Shopper[], redis: Redis, pg: OwnPostgres, first: number): Promise<Outcome> {
  const deadFrom = await lastId(redis, keys.streams.dead);
  const jobsFrom = await lastId(redis, keys.streams.jobs);
  const outcomesBefore = all.reduce((n, s) => n + s.updates.events.filter((e) => e.type === 'job' && isTerminal(e.status)).length, 0);
  const burst = offer(all, JOBS, RATE, first);
  // the backlog: accepted (queued) jobs whose outcome has not reached their owner yet
  const wantBacklog = Math.max(5, Math.round(JOBS / 6));
  let backlog = 0;
  for (const deadline = performance.now() + (JOBS / RATE) * 1000; performance.now() < deadline && backlog < wantBacklog; await sleep(20)) {
    const outcomes = all.reduce((n, s) => n + s.updates.events.filter((e) => e.type === 'job' && isTerminal(e.status)).length, 0) - outcomesBefore;
    backlog = (await countSince(redis, keys.streams.jobs, jobsFrom)) - outcomes;
  }
  pg.stop('fast');
  const stoppedAt = performance.now();
  say(`stop PostgreSQL: stopped (pg_ctl stop -m fast) with about ${backlog} accepted jobs not done`);
  const refused = await rawSubmit(all[0] as Shopper);
  say(`  a submission while it is down: ${refused.status} ${refused.contentType} "${refused.title}"`);
  await sleep(PG_DOWN_MS - (performance.now() - stoppedAt));
  pg.start();
  const restartedAt = performance.now();
  say(`stop PostgreSQL: started again after ${Math.round(restartedAt - stoppedAt)} ms`);
  const { sent, rejected } = await burst;
  const probedAt = await probe(all, first + JOBS, 120_000);
  const tally = await settle(all, sent, rejected.length, 120_000);
  // the jobs accepted before the stop whose outcome had not reached their owner by then: their
  // lifecycle events met the outage and had to be retried by the stream source
  const outcomeAt = (s: Sent) => {
    const event = s.shopper.updates.events.find((e) => e.job_id === s.jobId && e.type === 'job' && isTerminal(e.status));
    return event ? (s.shopper.updates.arrivedAt.get(event) as number) : Number.POSITIVE_INFINITY;
  };
  const open = sent.filter((s) => s.acceptedAt < stoppedAt && outcomeAt(s) >= stoppedAt);
  const openDoneAt = Math.max(restartedAt, ...open.map(outcomeAt));
  const recoveredAt = Math.max(probedAt, openDoneAt);
  const not5xx = rejected.filter((m) => !/HTTP 5\d\d /.test(m));
  if (not5xx.length) say(`  refused otherwise than 5xx: ${not5xx.slice(0, 3).join(' | ')}`);
  const left = await entriesWithoutRow(redis, jobsFrom, all);
  const deadLetters = await countSince(redis, keys.streams.dead, deadFrom);
  say(`  queue:jobs entries since the burst: ${left.entries}, without a row: ${left.orphans}; dead letters: ${deadLetters}`);
  return {
    fault: `stop PostgreSQL (pg_ctl stop -m fast) mid-burst, down ${PG_DOWN_MS / 1000} s, started again`,
    expected:
      'submissions while down refused with 503 database-unavailable (problem+json), no queued entry left without a row; lifecycle events retried by the stream source; every accepted job ends once',
    held: open.length,
    recoveryMs: recoveredAt - restartedAt,
    drainMs: undefined,
    ...counts(tally),
    statusDisagrees: await statusDisagreements(sent),
    deadLetters,
    checks: [
      {
        what: `${open.length} accepted jobs had no outcome at the stop: the last reached its owner ${ms(openDoneAt - restartedAt)} after the restart; a job submitted after the restart ${ms(probedAt - restartedAt)}`,
        ok: open.length > 0,
      },
      {
        what: `a submission while down: ${refused.status} ${refused.contentType}${refused.title ? ` "${refused.title}"` : ''}`,
        ok: refused.status === 503 && refused.title === 'Database unavailable' && refused.contentType.startsWith('application/problem+json'),
      },
      { what: `refusals that were not 5xx: ${not5xx.length} of ${rejected.length}`, ok: not5xx.length === 0 },
      { what: `queue:jobs entries without a job row: ${left.orphans} of ${left.entries}`, ok: left.orphans === 0 },
      { what: `lifecycle events dead-lettered: ${deadLetters}`, ok: deadLetters === 0 },
    ],
  };
}

/**
 * A realtime replica beside the supervised one takes every other shopper's socket (each set to
 * reconnect through the gateway, as the web app does); kill -9 mid-burst. Recovery: from the
 * kill to the last outcome, seen by its owner, of a moved shopper's job accepted before the kill
 * and not finished by then.
 */
async function realtimeKill(stack: E2EStack, all: Shopper[], redis: Redis, first: number): Promise<Outcome> {
  const replica = await stack.startRealtime('e2e-chaos-realtime');
  const moved = all.filter((_, i) => i % 2 === 0);
  for (const shopper of moved) {
    shopper.updates.close();
    shopper.updates = await Updates.open(shopper.session, 30_000, { socketUrl: replica.url, reconnectTo: shopper.session.url });
  }
  say(`kill -9 a realtime replica: ${moved.length} of ${all.length} shoppers' sockets on it`);
  const deadFrom = await lastId(redis, keys.streams.dead);
  const burst = offer(all, JOBS, RATE, first);
  await sleep((JOBS / RATE) * 400);
  const open = new Set(moved);
  const killedAt = performance.now();
  replica.child.kill('SIGKILL');
  say('kill -9 a realtime replica: killed');
  const { sent, rejected } = await burst;
  const tally = await settle(all, sent, rejected.length, SETTLE_MS);
  const finished = (s: Sent) =>
    s.shopper.updates.events.filter((e) => e.job_id === s.jobId && e.type === 'job' && (e.status === 'completed' || e.status === 'failed'));
  // the moved shoppers' jobs accepted before the kill whose outcome had not arrived by then
  const affected = sent.filter(
    (s) => open.has(s.shopper) && s.acceptedAt < killedAt && !finished(s).some((e) => (s.shopper.updates.arrivedAt.get(e) as number) < killedAt),
  );
  let recoveredAt = killedAt;
  let viaResync = 0;
  for (const s of affected) {
    const [first] = finished(s);
    if (!first) recoveredAt = Number.POSITIVE_INFINITY;
    else recoveredAt = Math.max(recoveredAt, s.shopper.updates.arrivedAt.get(first) as number);
    if (first?.viaResync) viaResync++;
  }
  const reconnected = moved.filter((s) => s.updates.drops.length > 0 && s.updates.reconnects.length > 0);
  const reconnectMs = Math.max(...reconnected.map((s) => (s.updates.reconnects[0] as number) - killedAt));
  say(
    `  ${reconnected.length} of ${moved.length} sockets saw the close and reconnected, the last ${ms(reconnectMs)} after the kill; ${affected.length} jobs affected, ${viaResync} of their outcomes read by the resync`,
  );
  return {
    fault: 'kill -9 a realtime replica holding half the sockets mid-burst',
    expected:
      'its clients see the close, reconnect through the gateway to the surviving realtime, resync from GET /api/jobs; each outcome reaches its owner once',
    held: affected.length,
    recoveryMs: recoveredAt - killedAt,
    drainMs: undefined,
    ...counts(tally),
    statusDisagrees: await statusDisagreements(sent),
    deadLetters: await countSince(redis, keys.streams.dead, deadFrom),
    checks: [
      {
        what: `sockets that saw the close and reconnected: ${reconnected.length} of ${moved.length}, the last after ${ms(reconnectMs)}`,
        ok: reconnected.length === moved.length,
      },
      { what: `affected jobs: ${affected.length}, outcomes read by the resync: ${viaResync}`, ok: true },
    ],
  };
}

let stack: E2EStack | undefined;
let exitCode = 0;
const outcomes: Outcome[] = [];
const started = performance.now();
const loadAtStart = (loadavg()[0] as number).toFixed(1);
try {
  const server = await startRedis({ aof: true });
  const pg = await startPostgres();
  stack = await startE2EStack({ REDIS_URL: server.url, DATABASE_URL: pg.url });
  say(`dev stack up at ${stack.url} (its own Redis and PostgreSQL)`);
  const redis = new Redis(server.url);
  const all = await shoppers(stack.url, USERS);
  const warm = await offer(all, 4, 4);
  await settle(all, warm.sent, warm.rejected.length, SETTLE_MS);

  if (FAULTS.has('worker')) {
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
  }
  if (FAULTS.has('source')) {
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
  }
  if (FAULTS.has('postgres')) outcomes.push(await postgresStop(all, redis, pg, 2 * JOBS));
  if (FAULTS.has('realtime')) outcomes.push(await realtimeKill(stack, all, redis, 3 * JOBS + 10));
  redis.disconnect();
  // last: a Redis restart leaves the parts reconnected, but this command's own client would need to be too
  if (FAULTS.has('redis')) outcomes.push(await redisRestart(all, server, 4 * JOBS + 20));
  for (const shopper of all) shopper.updates.close();
} catch (error) {
  say(`chaos failed: ${(error as Error).stack}`);
  say(stack?.dev.output().slice(-3000) ?? '');
  exitCode = 1;
} finally {
  await stack?.stop();
}
const total = ((performance.now() - started) / 1000).toFixed(0);
const rows = outcomes.map(
  (o) =>
    `| ${o.fault} | ${o.expected} | ${o.held ?? 'n/a'} | ${o.held === 0 ? 'n/a (held nothing)' : ms(o.recoveryMs)} | ${o.drainMs === undefined ? 'n/a' : ms(o.drainMs)} | ${o.jobs} | ${o.refused} | ${o.lost} | ${o.duplicated} | ${o.strays} | ${o.failed} | ${o.statusDisagrees} | ${o.deadLetters} |`,
);
const checks = outcomes.flatMap((o) => o.checks.map((c) => `- ${o.fault}: ${c.what}${c.ok ? '' : ' (**failed**)'}`));
for (const o of outcomes) {
  if (o.lost || o.duplicated || o.strays || o.statusDisagrees || !Number.isFinite(o.recoveryMs) || (o.drainMs !== undefined && !Number.isFinite(o.drainMs)))
    exitCode = 1;
  if (o.checks.some((c) => !c.ok)) exitCode = 1;
}
const section = [
  `\`npm run e2e:chaos -w @proteus/bench -- ${JOBS} ${RATE} ${[...FAULTS].join(',')}\`, ${new Date().toISOString().slice(0, 10)}, shared 2-core machine (CPU only):`,
  `${USERS} shoppers, ${JOBS} warp try-ons per fault at ${RATE}/s offered, ${total} s in all;`,
  `the stack on a Redis and a PostgreSQL of the command's own; 1-minute load average ${loadAtStart} at the start, ${(loadavg()[0] as number).toFixed(1)} at the end.`,
  `${exitCode === 0 ? 'Every check passed.' : '**The run failed** (see the marked cells and checks).'}`,
  '',
  "| fault | expected | entries the victim held (PostgreSQL: jobs without an outcome at the stop; realtime: its clients' jobs without one at the kill) | recovery | victim's entries taken over after | jobs accepted | refused | lost | duplicated | to another user | failed | status disagrees with socket | dead letters |",
  '|---|---|---|---|---|---|---|---|---|---|---|---|---|',
  ...rows,
  '',
  ...(checks.length ? ['Further checks:', '', ...checks] : []),
].join('\n');
say('');
say('## chaos');
say(section);
say(
  ALL_FAULTS.every((f) => FAULTS.has(f)) && outcomes.length === ALL_FAULTS.length
    ? report('chaos', section)
    : 'docs/RELIABILITY.md not changed: not every fault ran',
);
say(`total ${total} s`);
process.exit(exitCode);

/**
 * What the policy decides on, read from Redis each tick: queue depth (lag + pending of the
 * weavers group), the age of the oldest job nobody picked up (entry ids carry enqueue times), the
 * mean wait of recent completions (their `waitMs` on events:jobs), the arrival rate, the workers
 * alive and their latency profile. A reply that is not what Redis 7 answers throws a MetricsError
 * naming the metric: the tick then keeps the last good policy. Single malformed entries of streams
 * or of the profile that other parties write are skipped and reported, not fatal.
 */
import { fieldMap, keys } from '@proteus/eventing';
import { type Redis, ReplyError } from 'ioredis';
import type { ArrivalMeter } from './arrivals.ts';
import type { PolicyMetrics } from './policy.ts';
import { type ProfileEntry, parseProfileEntry } from './profile.ts';

export const metricNames = ['queue-depth', 'wait', 'arrival-rate', 'workers', 'profile', 'stored-policy', 'redis'] as const;
export type MetricName = (typeof metricNames)[number];

export class MetricsError extends Error {
  constructor(
    readonly metric: MetricName,
    message: string,
  ) {
    super(message);
    this.name = 'MetricsError';
  }
}

export interface MetricsOptions {
  /** the arrival rate is measured over this */
  rateWindowMs: number;
  /** completions younger than this make the mean wait */
  waitWindowMs: number;
  /** at most this many lifecycle entries are read for it */
  waitSamples: number;
}

export interface Skipped {
  metric: MetricName;
  detail: string;
}

export interface Reading {
  metrics: PolicyMetrics;
  /** malformed entries left out */
  skipped: Skipped[];
}

/** Counting undelivered entries by hand stops here; the policy saturates long before. */
const LAG_COUNT_CAP = 10_000;
/** A fresh arrival meter counts at most this many entries of the last window. */
const SEED_COUNT_CAP = 2_000;
const ENTRY_ID = /^\d{1,15}-\d{1,20}$/;

/** The millisecond part of a stream entry id is its enqueue time. */
export const entryTimeMs = (id: string) => Number(id.split('-')[0]);

export async function readPolicyMetrics(redis: Redis, meter: ArrivalMeter, options: MetricsOptions, now = Date.now()): Promise<Reading> {
  const skipped: Skipped[] = [];
  const [queue, waits, arrivalRate, workers, profile] = await Promise.all([
    named('queue-depth', readQueue(redis, now)),
    named('wait', readRecentWaits(redis, options, now, skipped)),
    named('arrival-rate', readArrivalRate(redis, meter, now)),
    named('workers', countWorkers(redis)),
    named('profile', readProfile(redis, skipped)),
  ]);
  const avgWaitMs = waits.length ? waits.reduce((a, b) => a + b, 0) / waits.length : 0;
  return {
    metrics: { at: now, ...queue, avgWaitMs: Math.round(avgWaitMs), completions: waits.length, arrivalRate, workers, profile },
    skipped,
  };
}

/** Queue depth = lag + pending of the weavers group; the oldest wait is of the first entry not yet delivered. */
export async function readQueue(redis: Redis, now = Date.now()): Promise<{ queueDepth: number; oldestWaitMs: number }> {
  const stream = keys.streams.jobs;
  let info: unknown;
  try {
    info = await redis.xinfo('GROUPS', stream);
  } catch (error) {
    if (String((error as Error).message).includes('no such key')) return { queueDepth: 0, oldestWaitMs: 0 };
    throw error;
  }
  if (!Array.isArray(info) || !info.every(Array.isArray)) throw new MetricsError('queue-depth', 'XINFO GROUPS did not answer a list of groups');
  const group = info.map((fields: unknown[]) => fieldMap(fields)).find((g) => g.name === keys.groups.weavers);
  if (!group) {
    // no worker has started yet: every job is waiting, the first one longest
    const first = await redis.xrange(stream, '-', '+', 'COUNT', 1);
    return { queueDepth: await redis.xlen(stream), oldestWaitMs: waitOf(first[0]?.[0], now) };
  }
  const lastDelivered = String(group['last-delivered-id']);
  const pending = Number(group.pending);
  const reportedLag = group.lag;
  if (!ENTRY_ID.test(lastDelivered))
    throw new MetricsError('queue-depth', `last-delivered-id ${JSON.stringify(lastDelivered).slice(0, 60)} is not a stream id`);
  if (!Number.isInteger(pending) || pending < 0) throw new MetricsError('queue-depth', `pending ${JSON.stringify(group.pending)} is not a count`);
  if (reportedLag !== null && reportedLag !== undefined && (!Number.isInteger(Number(reportedLag)) || Number(reportedLag) < 0)) {
    throw new MetricsError('queue-depth', `lag ${JSON.stringify(reportedLag)} is not a count`);
  }
  const after = `(${lastDelivered}`;
  // Redis reports no lag after entries were deleted mid-stream: count what is left to deliver
  const lag = reportedLag === null || reportedLag === undefined ? (await redis.xrange(stream, after, '+', 'COUNT', LAG_COUNT_CAP)).length : Number(reportedLag);
  const next = await redis.xrange(stream, after, '+', 'COUNT', 1);
  return { queueDepth: lag + pending, oldestWaitMs: waitOf(next[0]?.[0], now) };
}

/** waitMs of the `tryon.completed` events of the last window on events:jobs, newest first, at most `waitSamples` entries read. */
export async function readRecentWaits(redis: Redis, options: MetricsOptions, now: number, skipped: Skipped[]): Promise<number[]> {
  const since = Math.max(0, now - options.waitWindowMs);
  const entries = (await redis.xrevrange(keys.streams.lifecycle, '+', `${since}-0`, 'COUNT', options.waitSamples)) as [string, string[]][];
  const waits: number[] = [];
  for (const [id, fields] of entries) {
    const text = fieldMap(fields)[keys.entryField];
    let event: { type?: unknown; data?: { waitMs?: unknown } };
    try {
      event = JSON.parse(String(text)) as typeof event;
    } catch {
      skipped.push({ metric: 'wait', detail: `lifecycle entry ${id} is not JSON` });
      continue;
    }
    if (event?.type !== 'dev.proteus.tryon.completed') continue;
    const wait = event.data?.waitMs;
    if (typeof wait !== 'number' || !Number.isFinite(wait) || wait < 0) {
      skipped.push({ metric: 'wait', detail: `completion ${id} has waitMs ${JSON.stringify(wait)}` });
      continue;
    }
    waits.push(wait);
  }
  return waits;
}

/** Jobs/s enqueued on queue:jobs over the meter's window. */
export async function readArrivalRate(redis: Redis, meter: ArrivalMeter, now: number): Promise<number> {
  const stream = keys.streams.jobs;
  let added = 0;
  try {
    const fields = fieldMap((await redis.xinfo('STREAM', stream)) as unknown[]);
    added = Number(fields['entries-added']);
    if (!Number.isInteger(added) || added < 0) {
      throw new MetricsError('arrival-rate', `XINFO STREAM answered entries-added ${JSON.stringify(fields['entries-added'])} (Redis 7 or later counts them)`);
    }
  } catch (error) {
    if (!String((error as Error).message).includes('no such key')) throw error;
  }
  if (!meter.seeded) {
    const since = Math.max(0, now - meter.windowMs);
    const recent = added ? (await redis.xrange(stream, `${since}-0`, '+', 'COUNT', SEED_COUNT_CAP)).length : 0;
    meter.seed(now, added, recent);
    return recent / (meter.windowMs / 1000);
  }
  return meter.record(now, added) ?? 0;
}

/** Workers whose heartbeat key has not expired. */
export async function countWorkers(redis: Redis): Promise<number> {
  let cursor = '0';
  let count = 0;
  do {
    const [next, found] = await redis.scan(cursor, 'MATCH', keys.templates.workerHeartbeatPattern, 'COUNT', 100);
    cursor = next;
    count += found.length;
  } while (cursor !== '0');
  return count;
}

/** The latency profile; malformed fields are skipped and reported. */
export async function readProfile(redis: Redis, skipped: Skipped[]): Promise<ProfileEntry[]> {
  const raw = await redis.hgetall(keys.worker.profile);
  const entries: ProfileEntry[] = [];
  for (const [field, value] of Object.entries(raw)) {
    const parsed = parseProfileEntry(field, value);
    if (typeof parsed === 'string') skipped.push({ metric: 'profile', detail: parsed });
    else entries.push(parsed);
  }
  return entries;
}

/** An error reply of Redis (WRONGTYPE: a key of the wrong type) makes that metric malformed; a lost connection stays a Redis error. */
async function named<T>(metric: MetricName, read: Promise<T>): Promise<T> {
  try {
    return await read;
  } catch (error) {
    if (error instanceof ReplyError && !(error instanceof MetricsError)) throw new MetricsError(metric, (error as Error).message);
    throw error;
  }
}

const waitOf = (oldest: string | undefined, now: number) => (oldest ? Math.max(0, now - entryTimeMs(oldest)) : 0);

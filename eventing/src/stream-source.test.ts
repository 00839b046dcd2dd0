import { isolatedRedisUrl, waitFor } from '@proteus/testkit';
import { Redis } from 'ioredis';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { type Respond, type Sink, sleep, startSink } from '../test/sink.ts';
import { createEvent, type ProteusEvent } from './events.ts';
import { fromHttp } from './http.ts';
import { entryField, groups, streams } from './keys.ts';
import { createProducer } from './producer.ts';
import { createStreamSource, durationMs, ensureGroup } from './stream-source.ts';
import { type Delivery, defaultDelivery, type StreamRoute } from './topology.ts';

// Each test gets a Redis database of its own, so the contract's stream and group names are used as they are.
const stream = streams.lifecycle;
const group = groups.recorders;

function route(delivery: Partial<Delivery> = {}, inFlight = 1): StreamRoute {
  return {
    name: 'lifecycle-test',
    stream,
    group,
    sink: { part: 'api', path: '/events' },
    delivery: { ...defaultDelivery, retry: 3, backoffPolicy: 'exponential', backoffDelay: 'PT0.01S', timeout: 'PT2S', ...delivery },
    inFlight,
  };
}

let redis: Redis;
let cleanups: (() => Promise<void>)[];
let logs: { level: string; msg: string; fields?: Record<string, unknown> }[];

beforeEach(async () => {
  redis = new Redis(await isolatedRedisUrl());
  cleanups = [];
  logs = [];
});

afterEach(async () => {
  for (const cleanup of cleanups.reverse()) await cleanup();
  redis.disconnect();
});

const log = {
  info: (msg: string, fields?: Record<string, unknown>) => logs.push({ level: 'info', msg, fields }),
  warn: (msg: string, fields?: Record<string, unknown>) => logs.push({ level: 'warn', msg, fields }),
  error: (msg: string, fields?: Record<string, unknown>) => logs.push({ level: 'error', msg, fields }),
};

async function sink(respond?: Respond): Promise<Sink> {
  const s = await startSink(respond);
  cleanups.push(() => s.close());
  return s;
}

/** A started source; stopped after the test unless the test stops it. */
function source(sinkUrl: string, r: StreamRoute = route(), consumer = 'consumer-1') {
  const s = createStreamSource({ redis, routes: [{ route: r, sinkUrl }], consumer, log, blockMs: 50 });
  let stopped = false;
  s.start();
  cleanups.push(async () => {
    if (!stopped) await s.stop();
  });
  return {
    async stop() {
      stopped = true;
      await s.stop();
    },
  };
}

let seq = 0;
const progressEvent = () => createEvent('dev.proteus.tryon.progress', 'gpu-worker', { jobId: `job-${++seq}`, userId: 'u1', step: 1, steps: 4 });

async function emit(event: ProteusEvent = progressEvent()): Promise<{ id: string; event: ProteusEvent }> {
  return { id: await createProducer(redis).emit(stream, event), event };
}

/** Pending entries of the group and the last id it handed out. */
async function groupState(): Promise<{ pending: number; lastDeliveredId: string }> {
  const infos = (await redis.xinfo('GROUPS', stream)) as unknown[][];
  const info = infos.map((flat) => Object.fromEntries(pairs(flat as string[]))).find((g) => g.name === group);
  if (!info) throw new Error(`group ${group} does not exist`);
  return { pending: Number(info.pending), lastDeliveredId: String(info['last-delivered-id']) };
}

function pairs(flat: (string | null)[] | null): [string, string | null][] {
  const out: [string, string | null][] = [];
  for (let i = 0; flat && i + 1 < flat.length; i += 2) out.push([String(flat[i]), flat[i + 1] ?? null]);
  return out;
}

/** Waits until the group has handed out `id` and nothing is pending: the entry was acked. */
async function acked(id: string) {
  await waitFor(
    async () => {
      const state = await groupState();
      return state.lastDeliveredId === id && state.pending === 0;
    },
    { timeoutMs: 5000, what: `entry ${id} acked` },
  );
}

/** The dead letters, each with its `at` checked to be an ISO time and then left out. */
async function deadLetters(): Promise<Record<string, string | null>[]> {
  const entries = await redis.xrange(streams.dead, '-', '+');
  return entries.map(([, fields]) => {
    const { at, ...rest } = Object.fromEntries(pairs(fields));
    expect(Number.isNaN(Date.parse(String(at)))).toBe(false);
    return rest;
  });
}

describe('stream source: delivery (real Redis, real sink)', () => {
  it('sends the event in binary mode to a 2xx sink, then XACKs the entry', async () => {
    const s = await sink(() => 202);
    source(s.url);
    const { id, event } = await emit();
    await acked(id);
    expect(s.requests).toHaveLength(1);
    const [request] = s.requests;
    expect(request?.method).toBe('POST');
    expect(request?.headers.get('content-type')).toBe('application/json');
    expect(request?.headers.get('ce-specversion')).toBe('1.0');
    expect(request?.headers.get('ce-id')).toBe(event.id);
    expect(request?.headers.get('ce-type')).toBe('dev.proteus.tryon.progress');
    expect(request?.headers.get('ce-source')).toBe('/proteus/gpu-worker');
    expect(JSON.parse(request?.body ?? '')).toEqual(event.data);
    expect(fromHttp(request!.headers, request!.body)).toEqual(event);
    await sleep(100);
    expect(s.requests).toHaveLength(1);
    expect(await deadLetters()).toEqual([]);
  });

  it('delivers entries added before the group existed (the group starts at 0)', async () => {
    const first = await emit();
    const second = await emit();
    const s = await sink();
    source(s.url);
    await acked(second.id);
    expect(s.requests.map((r) => r.headers.get('ce-id'))).toEqual([first.event.id, second.event.id]);
  });

  it('retries a 500 and acks once the sink answers 202', async () => {
    const s = await sink(({ n }) => (n === 1 ? 500 : 202));
    source(s.url);
    const { id, event } = await emit();
    await acked(id);
    expect(s.requests.map((r) => r.headers.get('ce-id'))).toEqual([event.id, event.id]);
    await sleep(100);
    expect(s.requests).toHaveLength(2);
    expect(await deadLetters()).toEqual([]);
  });

  it('never retries a 400: one delivery, then a dead letter with the reason, and the entry acked', async () => {
    const s = await sink(() => 400);
    source(s.url);
    const { id, event } = await emit();
    await acked(id);
    await waitFor(async () => (await deadLetters()).length === 1, { what: 'a dead letter' });
    expect(await deadLetters()).toEqual([
      { [entryField]: JSON.stringify(event), reason: 'sink answered 400', stream, group, route: 'lifecycle-test', entry: id, status: '400', attempts: '1' },
    ]);
    await sleep(100);
    expect(s.requests).toHaveLength(1);
  });

  it('dead-letters after retry + 1 deliveries to a sink that never answers 2xx', async () => {
    const s = await sink(() => 503);
    source(s.url, route({ retry: 2 }));
    const { id, event } = await emit();
    await waitFor(async () => (await deadLetters()).length === 1, { what: 'a dead letter' });
    await acked(id);
    expect(s.requests).toHaveLength(3);
    expect(await deadLetters()).toEqual([
      { [entryField]: JSON.stringify(event), reason: 'sink answered 503', stream, group, route: 'lifecycle-test', entry: id, status: '503', attempts: '3' },
    ]);
    await sleep(100);
    expect(s.requests).toHaveLength(3);
  });

  it.each([404, 409, 429, 500, 502])('retries %i', async (status) => {
    const s = await sink(() => status);
    source(s.url, route({ retry: 1 }));
    const { id } = await emit();
    await waitFor(async () => (await deadLetters()).length === 1, { what: 'a dead letter' });
    await acked(id);
    expect(s.requests).toHaveLength(2);
    expect((await deadLetters())[0]).toMatchObject({ status: String(status), attempts: '2' });
  });

  it.each([400, 401, 403, 410, 413, 422])('does not retry %i', async (status) => {
    const s = await sink(() => status);
    source(s.url, route({ retry: 3 }));
    const { id } = await emit();
    await waitFor(async () => (await deadLetters()).length === 1, { what: 'a dead letter' });
    await acked(id);
    expect(s.requests).toHaveLength(1);
    expect((await deadLetters())[0]).toMatchObject({ reason: `sink answered ${status}`, status: String(status), attempts: '1' });
  });

  it('waits longer before each retry with exponential backoff', async () => {
    const s = await sink(() => 503);
    source(s.url, route({ retry: 3, backoffPolicy: 'exponential', backoffDelay: 'PT0.04S' }));
    await emit();
    await waitFor(async () => (await deadLetters()).length === 1, { what: 'a dead letter' });
    const gaps = s.requests.slice(1).map((r, i) => r.receivedAt - s.requests[i]!.receivedAt);
    expect(gaps).toHaveLength(3);
    // 40, 80, 160 ms; timers never fire early, a small allowance covers clock granularity
    expect(gaps[0]).toBeGreaterThanOrEqual(38);
    expect(gaps[1]).toBeGreaterThanOrEqual(78);
    expect(gaps[2]).toBeGreaterThanOrEqual(158);
  });

  it('waits base × attempt with linear backoff', async () => {
    const s = await sink(() => 503);
    source(s.url, route({ retry: 2, backoffPolicy: 'linear', backoffDelay: 'PT0.05S' }));
    await emit();
    await waitFor(async () => (await deadLetters()).length === 1, { what: 'a dead letter' });
    const gaps = s.requests.slice(1).map((r, i) => r.receivedAt - s.requests[i]!.receivedAt);
    expect(gaps).toHaveLength(2);
    expect(gaps[0]).toBeGreaterThanOrEqual(48);
    expect(gaps[1]).toBeGreaterThanOrEqual(98);
  });

  it('retries a sink slower than the delivery timeout', async () => {
    const s = await sink(({ n }) => (n === 1 ? { status: 202, delayMs: 400 } : 202));
    source(s.url, route({ timeout: 'PT0.1S' }));
    const { id, event } = await emit();
    await acked(id);
    expect(s.requests.map((r) => r.headers.get('ce-id'))).toEqual([event.id, event.id]);
    expect(await deadLetters()).toEqual([]);
  });

  it('dead-letters with no status when every delivery times out', async () => {
    const s = await sink(() => ({ status: 202, delayMs: 300 }));
    source(s.url, route({ retry: 1, timeout: 'PT0.05S' }));
    const { id } = await emit();
    await waitFor(async () => (await deadLetters()).length === 1, { what: 'a dead letter' });
    await acked(id);
    expect(s.requests).toHaveLength(2);
    const [dead] = await deadLetters();
    expect(dead).toMatchObject({ entry: id, status: '', attempts: '2' });
    expect(dead?.reason).toBe('sink did not answer within 50 ms');
  });

  it('dead-letters with no status when the sink cannot be reached', async () => {
    const s = await sink();
    await s.close(); // nothing listens on its port any more
    source(s.url, route({ retry: 1 }));
    const { id } = await emit();
    await waitFor(async () => (await deadLetters()).length === 1, { what: 'a dead letter' });
    await acked(id);
    const [dead] = await deadLetters();
    expect(dead).toMatchObject({ entry: id, status: '', attempts: '2' });
    expect(dead?.reason).toMatch(/^sink unreachable: /);
  });
});

describe('stream source: malformed entries', () => {
  it('dead-letters each malformed entry with the reason, acks it, and keeps delivering good ones', async () => {
    const s = await sink();
    const unknownType = { ...progressEvent(), type: 'dev.proteus.nope' };
    const badData = { ...progressEvent(), data: { jobId: 'j1', userId: 'u1', step: -1, steps: 4 } };
    const bad = [
      { fields: [entryField, '{"specversion": "1.0",'], reason: /^malformed entry: not JSON: / },
      { fields: [entryField, '{"hello":"world"}'], reason: /^malformed entry: unknown event type undefined; expected one of / },
      { fields: [entryField, JSON.stringify(unknownType)], reason: /^malformed entry: unknown event type "dev\.proteus\.nope"/ },
      { fields: [entryField, JSON.stringify(badData)], reason: /^malformed entry: invalid dev\.proteus\.tryon\.progress event: data\.step/ },
      { fields: ['payload', JSON.stringify(progressEvent())], reason: /^malformed entry: entry has no event field$/ },
    ];
    await ensureGroup(redis, stream, group);
    const ids: string[] = [];
    for (const { fields } of bad) ids.push((await redis.xadd(stream, '*', ...fields))!);
    const good = await emit();

    source(s.url);
    await acked(good.id);
    expect(s.requests.map((r) => r.headers.get('ce-id'))).toEqual([good.event.id]);
    const dead = await deadLetters();
    expect(dead.map((d) => d.entry)).toEqual(ids);
    bad.forEach(({ fields, reason }, i) => {
      expect(dead[i]?.reason).toMatch(reason);
      expect(dead[i]).toMatchObject({ stream, status: '', attempts: '0' });
      // the raw value is kept for inspection; an entry without the field keeps nothing
      expect(dead[i]?.[entryField]).toBe(fields[0] === entryField ? fields[1] : '');
    });
    expect(logs.filter((l) => l.level === 'error')).toEqual([]);
  });

  it('dead-letters an entry deleted while it was pending, instead of failing the read forever', async () => {
    const s = await sink();
    await ensureGroup(redis, stream, group);
    const gone = await emit();
    // a consumer read it and died without acking; then the entry was deleted (XDEL or trimming)
    await redis.xreadgroup('GROUP', group, 'consumer-1', 'COUNT', 10, 'STREAMS', stream, '>');
    await redis.xdel(stream, gone.id);
    const next = await emit();

    source(s.url, route(), 'consumer-1');
    await acked(next.id);
    expect(s.requests.map((r) => r.headers.get('ce-id'))).toEqual([next.event.id]);
    expect(await deadLetters()).toEqual([
      {
        [entryField]: '',
        reason: 'malformed entry: entry was deleted from the stream',
        stream,
        group,
        route: 'lifecycle-test',
        entry: gone.id,
        status: '',
        attempts: '0',
      },
    ]);
    expect(logs.filter((l) => l.level === 'error')).toEqual([]);
  });
});

describe('stream source: restarts', () => {
  it('delivers every entry added while it was stopped, in order, and keeps the group', async () => {
    const s = await sink();
    const first = source(s.url);
    const before = await emit();
    await acked(before.id);
    await first.stop();

    const whileStopped = [await emit(), await emit(), await emit()];
    expect((await groupState()).lastDeliveredId).toBe(before.id);
    await sleep(100);
    expect(s.requests).toHaveLength(1);

    source(s.url);
    await acked(whileStopped[2]!.id);
    expect(s.requests.map((r) => r.headers.get('ce-id'))).toEqual([before, ...whileStopped].map((e) => e.event.id));
  });

  it('redelivers an entry a crashed consumer read but never acked, when the same consumer starts again', async () => {
    const s = await sink();
    await ensureGroup(redis, stream, group);
    const orphan = await emit();
    // the "crash": consumer-1 read the entry and went away without an ack
    await redis.xreadgroup('GROUP', group, 'consumer-1', 'COUNT', 10, 'STREAMS', stream, '>');
    expect(await groupState()).toEqual({ pending: 1, lastDeliveredId: orphan.id });
    const later = await emit();

    source(s.url, route(), 'consumer-1');
    await acked(later.id);
    expect(s.requests.map((r) => r.headers.get('ce-id'))).toEqual([orphan.event.id, later.event.id]);
  });

  it('leaves an entry pending when stopped in the middle of its retries, and the same consumer delivers it after a restart', async () => {
    const failing = await sink(() => 500);
    const first = source(failing.url, route({ retry: 5, backoffDelay: 'PT0.05S' }), 'consumer-1');
    const { id, event } = await emit();
    await waitFor(() => failing.requests.length >= 1, { what: 'the first delivery' });
    await first.stop();

    expect(await groupState()).toEqual({ pending: 1, lastDeliveredId: id });
    expect(await deadLetters()).toEqual([]);
    const attemptsBeforeStop = failing.requests.length;
    expect(attemptsBeforeStop).toBeLessThanOrEqual(2);

    const working = await sink(() => 200);
    source(working.url, route(), 'consumer-1');
    await acked(id);
    expect(working.requests.map((r) => r.headers.get('ce-id'))).toEqual([event.id]);
    expect(failing.requests).toHaveLength(attemptsBeforeStop);
    expect(await deadLetters()).toEqual([]);
  });
});

describe('stream source: Redis trouble', () => {
  it('keeps trying when Redis is unreachable at start, and stop() still returns', async () => {
    const down = new Redis('redis://127.0.0.1:1', { lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => 20 });
    down.on('error', () => {});
    cleanups.push(async () => down.disconnect());
    const s = await sink();
    const unreachable = createStreamSource({ redis: down, routes: [{ route: route(), sinkUrl: s.url }], consumer: 'consumer-1', log, blockMs: 50 });
    unreachable.start();
    await waitFor(() => logs.some((l) => l.level === 'error' && l.msg === 'stream read failed'), { what: 'a logged read failure' });
    await unreachable.stop();
    expect(s.requests).toEqual([]);
  });

  it('recreates its group when it is destroyed under it, and goes on delivering (from 0: at least once)', async () => {
    const s = await sink();
    source(s.url);
    const first = await emit();
    await acked(first.id);
    await redis.xgroup('DESTROY', stream, group);
    const second = await emit();

    await waitFor(() => s.requests.length === 3, { what: 'both entries delivered by the recreated group' });
    await acked(second.id);
    expect(s.requests.map((r) => r.headers.get('ce-id'))).toEqual([first.event.id, first.event.id, second.event.id]);
    expect(logs.find((l) => l.level === 'error')?.fields?.error).toMatch(/NOGROUP/);
  });
});

describe('durationMs', () => {
  it.each([
    ['PT0.2S', 200],
    ['PT10S', 10_000],
    ['PT1M', 60_000],
    ['PT1H30M', 5_400_000],
    ['PT1H', 3_600_000],
    ['PT1M0.5S', 60_500],
    ['PT0.01S', 10],
  ])('%s is %i ms', (iso, ms) => {
    expect(durationMs(iso)).toBe(ms);
  });

  it.each(['P1D', '10s', 'PT', '', 'PT-1S', 'pt1s', 'PT1S ', 'PT1.S'])('rejects %j, naming it', (bad) => {
    expect(() => durationMs(bad)).toThrow(RangeError);
    expect(() => durationMs(bad)).toThrow(`${JSON.stringify(bad)} is not an ISO-8601 duration like PT0.2S`);
  });
});

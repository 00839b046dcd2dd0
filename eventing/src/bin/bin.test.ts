/**
 * The sources as processes: spawned the way the dev stack runs them, with an explicit environment,
 * against the real Redis and a real sink.
 */
import type { ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import { isolatedRedisUrl, type PartProcess, startPart, waitFor } from '@proteus/testkit';
import { Redis } from 'ioredis';
import { afterEach, describe, expect, it } from 'vitest';
import { type Sink, startSink } from '../../test/sink.ts';
import { createEvent } from '../events.ts';
import { fromHttp } from '../http.ts';
import { groups, streams } from '../keys.ts';
import { createProducer } from '../producer.ts';

const packageDir = join(import.meta.dirname, '..', '..');

type Running = PartProcess;

let children: ChildProcess[] = [];
let cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const child of children) if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  children = [];
  for (const cleanup of cleanups.reverse()) await cleanup();
  cleanups = [];
});

function run(bin: 'stream-source' | 'tick-source', env: Record<string, string>): Running {
  const proc = startPart(packageDir, `src/bin/${bin}.ts`, env);
  children.push(proc.child);
  return proc;
}

async function sink(): Promise<Sink> {
  const s = await startSink(() => 202);
  cleanups.push(() => s.close());
  return s;
}

/** The url of the process's 'listening' log line. */
async function listening(proc: Running): Promise<string> {
  const line = await waitFor(() => proc.logs().find((l) => l.msg === 'listening'), {
    timeoutMs: 10_000,
    what: `a 'listening' log line (stdout: ${proc.stdout()} stderr: ${proc.stderr()})`,
  });
  return String(line.url);
}

async function stopsCleanly(proc: Running) {
  const started = performance.now();
  proc.child.kill('SIGTERM');
  const exit = await Promise.race([proc.exited, new Promise<'timeout'>((r) => setTimeout(() => r('timeout'), 10_000))]);
  expect(exit, proc.stdout() + proc.stderr()).toEqual({ code: 0, signal: null });
  expect(performance.now() - started).toBeLessThan(10_000);
  expect(proc.logs().some((l) => l.msg === 'stopping' && l.signal === 'SIGTERM')).toBe(true);
}

describe('stream-source process', () => {
  it('exits 2 naming REDIS_URL when it is not a redis:// URL', async () => {
    const proc = run('stream-source', { REDIS_URL: 'http://x', API_URL: 'http://127.0.0.1:1', TAILOR_URL: 'http://127.0.0.1:1' });
    expect(await proc.exited).toEqual({ code: 2, signal: null });
    expect(proc.stderr()).toMatch(/REDIS_URL: expected a redis:\/\/ or rediss:\/\/ URL.*\(got "http:\/\/x"\)/);
    expect(proc.stdout()).toBe('');
  }, 20_000);

  it('exits 2 naming an unknown route in STREAM_SOURCE_ROUTES', async () => {
    const proc = run('stream-source', { REDIS_URL: 'redis://127.0.0.1:1', STREAM_SOURCE_ROUTES: 'lifecycle,no-such-route', API_URL: 'http://127.0.0.1:1' });
    expect(await proc.exited).toEqual({ code: 2, signal: null });
    expect(proc.stderr()).toMatch(/STREAM_SOURCE_ROUTES: expected a comma-separated list of segment-requests, lifecycle \(got "lifecycle,no-such-route"\)/);
  }, 20_000);

  it('exits 2 naming the sink variable a route needs when it is unset', async () => {
    const proc = run('stream-source', { REDIS_URL: 'redis://127.0.0.1:1', STREAM_SOURCE_ROUTES: 'lifecycle' });
    expect(await proc.exited).toEqual({ code: 2, signal: null });
    expect(proc.stderr()).toMatch(/API_URL: required for route lifecycle \(or set K_SINK\)/);
    expect(proc.stderr()).not.toMatch(/TAILOR_URL/);
  }, 20_000);

  it('serves /health, delivers an entry of its route to the sink, and exits 0 on SIGTERM', async () => {
    const redisUrl = await isolatedRedisUrl();
    const redis = new Redis(redisUrl);
    cleanups.push(async () => redis.disconnect());
    const s = await sink();
    const proc = run('stream-source', {
      REDIS_URL: redisUrl,
      PORT: '0',
      STREAM_SOURCE_ROUTES: 'lifecycle',
      API_URL: s.url,
      CONSUMER_NAME: 'bin-test',
      K_CE_OVERRIDES: '{"extensions":{"cluster":"lke-1"}}',
    });
    const url = await listening(proc);
    expect(proc.logs().find((l) => l.msg === 'listening')?.routes).toEqual(['lifecycle']);

    const health = await fetch(`${url}/health`);
    expect(health.status).toBe(200);

    const event = createEvent('dev.proteus.tryon.progress', 'gpu-worker', { jobId: 'j1', userId: 'u1', step: 2, steps: 4 });
    const id = await createProducer(redis).emit(streams.lifecycle, event);
    await waitFor(() => s.requests.length === 1, { timeoutMs: 10_000, what: 'the event at the sink' });
    expect(s.requests[0]?.path).toBe('/events');
    // K_CE_OVERRIDES adds its extension to the event as sent
    expect(fromHttp(s.requests[0]!.headers, s.requests[0]!.body)).toEqual({ ...event, cluster: 'lke-1' });
    await waitFor(async () => (await redis.xpending(streams.lifecycle, groups.recorders))[0] === 0, { what: `entry ${id} acked` });
    const metrics = await (await fetch(`${url}/metrics`)).text();
    expect(metrics).toContain('proteus_eventing_delivered_total{route="lifecycle"} 1');
    expect(metrics).toContain('proteus_eventing_group_pending{route="lifecycle"} 0');

    await stopsCleanly(proc);
    expect(proc.stderr()).toBe('');
  }, 30_000);
});

describe('tick-source process', () => {
  it('exits 2 naming K_CE_OVERRIDES when it is not the Knative JSON', async () => {
    const proc = run('tick-source', { ARBITRATOR_URL: 'http://127.0.0.1:1', K_CE_OVERRIDES: '{"extensions":{"id":"x"}}' });
    expect(await proc.exited).toEqual({ code: 2, signal: null });
    expect(proc.stderr()).toMatch(/K_CE_OVERRIDES: an extension cannot override a core attribute/);
  }, 20_000);

  it('exits 2 naming ARBITRATOR_URL when neither it nor K_SINK is set', async () => {
    const proc = run('tick-source', {});
    expect(await proc.exited).toEqual({ code: 2, signal: null });
    expect(proc.stderr()).toMatch(/ARBITRATOR_URL: required \(or set K_SINK\)/);
  }, 20_000);

  it('ticks the arbitrator sink, serves /health with its counts, and exits 0 on SIGTERM', async () => {
    const s = await sink();
    const proc = run('tick-source', { PORT: '0', ARBITRATOR_URL: s.url, TICK_PERIOD_MS: '50' });
    const url = await listening(proc);
    await waitFor(() => s.requests.length >= 3, { timeoutMs: 10_000, what: 'three ticks' });
    for (const request of s.requests.slice(0, 3)) {
      expect(request.path).toBe('/');
      expect(fromHttp(request.headers, request.body).type).toBe('dev.proteus.arbitrator.tick');
    }
    const health = await fetch(`${url}/health`);
    expect(health.status).toBe(200);
    expect(await health.json()).toMatchObject({ status: 'ok', part: 'tick-source', sink: s.url, failed: 0 });
    const metrics = await (await fetch(`${url}/metrics`)).text();
    expect(metrics).toMatch(/proteus_tick_sent_total [1-9]\d*/);
    expect(metrics).toContain('proteus_tick_failed_total 0');

    await stopsCleanly(proc);
    expect(proc.stderr()).toBe('');
  }, 30_000);
});

import { waitFor } from '@proteus/testkit';
import { afterEach, describe, expect, it } from 'vitest';
import { type Respond, type Sink, sleep, startSink } from '../test/sink.ts';
import { fromHttp } from './http.ts';
import { createTickSource } from './tick-source.ts';

// Timing on a small, busy machine: counts and gaps are asserted within bands, never exactly.

let cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.reverse()) await cleanup();
  cleanups = [];
});

async function sink(respond?: Respond): Promise<Sink> {
  const s = await startSink(respond);
  cleanups.push(() => s.close());
  return s;
}

function ticks(options: Parameters<typeof createTickSource>[0]) {
  const source = createTickSource(options);
  cleanups.push(() => source.stop());
  return source;
}

const seqOf = (body: string) => (JSON.parse(body) as { seq: number }).seq;

describe('tick source (real sink)', () => {
  it('sends a valid dev.proteus.arbitrator.tick about every period, seq counting up', async () => {
    const s = await sink(() => 204);
    const source = ticks({ sinkUrl: s.url, periodMs: 50 });
    source.start();
    await sleep(525);
    await source.stop();

    // 10 slots in 525 ms; a busy machine may drop a few, a drift-free schedule never adds any
    expect(s.requests.length).toBeGreaterThanOrEqual(6);
    expect(s.requests.length).toBeLessThanOrEqual(10);
    const events = s.requests.map((r) => fromHttp(r.headers, r.body));
    for (const event of events) {
      expect(event.type).toBe('dev.proteus.arbitrator.tick');
      expect(event.source).toBe('/proteus/eventing');
    }
    expect(new Set(events.map((e) => e.id)).size).toBe(events.length);
    const seqs = s.requests.map((r) => seqOf(r.body));
    expect(seqs[0]).toBe(0);
    for (let i = 1; i < seqs.length; i++) expect(seqs[i]).toBeGreaterThan(seqs[i - 1]!);
    // drift-free: the n-th tick lands near n periods after the first
    const first = s.requests[0]!.receivedAt;
    const last = s.requests.at(-1)!.receivedAt;
    const meanGap = (last - first) / (seqs.at(-1)! - seqs[0]!);
    expect(meanGap).toBeGreaterThan(40);
    expect(meanGap).toBeLessThan(65);
    expect(source.stats.sent).toBe(s.requests.length);
    expect(source.stats.failed).toBe(0);
    expect(source.stats.seq).toBe(source.stats.sent + source.stats.skipped);
  });

  it('skips ticks while a slow delivery is in flight, and never overlaps deliveries', async () => {
    const s = await sink(() => ({ status: 200, delayMs: 120 }));
    const errors: Error[] = [];
    // a timeout well above the sink's 120 ms: under a loaded CI the default (4 periods, 160 ms) can expire
    const source = ticks({ sinkUrl: s.url, periodMs: 40, timeoutMs: 2000, onError: (e) => errors.push(e) });
    source.start();
    await sleep(700);
    await source.stop();

    expect(errors).toEqual([]);
    expect(s.maxInFlight).toBe(1);
    expect(source.stats.skipped).toBeGreaterThan(0);
    // each delivery takes 120 ms, so at most one in three 40 ms slots gets sent
    expect(s.requests.length).toBeGreaterThanOrEqual(2);
    expect(s.requests.length).toBeLessThanOrEqual(6);
    expect(source.stats.sent).toBe(s.requests.length);
    expect(source.stats.seq).toBe(source.stats.sent + source.stats.skipped);
    // the tick carries how many were skipped before it
    const data = s.requests.map((r) => JSON.parse(r.body) as { seq: number; skipped: number });
    for (let i = 1; i < data.length; i++) {
      expect(data[i]!.seq).toBeGreaterThan(data[i - 1]!.seq + 1);
      expect(data[i]!.skipped).toBeGreaterThan(data[i - 1]!.skipped);
    }
  });

  it('counts a 500 as failed and reports it through onError', async () => {
    const s = await sink(() => 500);
    const errors: Error[] = [];
    const source = ticks({ sinkUrl: s.url, periodMs: 30, onError: (e) => errors.push(e) });
    source.start();
    await waitFor(() => errors.length >= 2, { timeoutMs: 3000, what: 'two failed ticks' });
    await source.stop();

    expect(source.stats.sent).toBe(0);
    expect(source.stats.failed).toBe(s.requests.length);
    expect(errors).toHaveLength(s.requests.length);
    expect(errors[0]?.message).toBe('tick sink answered 500');
  });

  it('counts an unreachable sink as failed', async () => {
    const s = await sink();
    await s.close();
    const errors: Error[] = [];
    const source = ticks({ sinkUrl: s.url, periodMs: 30, onError: (e) => errors.push(e) });
    source.start();
    await waitFor(() => errors.length >= 1, { timeoutMs: 3000, what: 'a failed tick' });
    await source.stop();
    expect(source.stats.sent).toBe(0);
    expect(source.stats.failed).toBe(errors.length);
  });

  it('gives up on a delivery after timeoutMs and counts it failed', async () => {
    const s = await sink(() => ({ status: 200, delayMs: 400 }));
    const errors: Error[] = [];
    const source = ticks({ sinkUrl: s.url, periodMs: 30, timeoutMs: 60, onError: (e) => errors.push(e) });
    source.start();
    await waitFor(() => errors.length >= 1, { timeoutMs: 3000, what: 'a timed-out tick' });
    await source.stop();
    expect(errors[0]?.name).toBe('TimeoutError');
    expect(source.stats.sent).toBe(0);
  });

  it('stop() waits for the delivery in flight and sends nothing after', async () => {
    const s = await sink(() => ({ status: 200, delayMs: 200 }));
    const source = ticks({ sinkUrl: s.url, periodMs: 30, timeoutMs: 2000 });
    source.start();
    await waitFor(() => s.requests.length === 1, { timeoutMs: 3000, what: 'the first tick' });
    const stopAt = performance.now();
    await source.stop();
    const stoppedAfter = performance.now() - stopAt;

    expect(source.stats.sent).toBe(1);
    expect(stoppedAfter).toBeGreaterThanOrEqual(100);
    await sleep(150);
    expect(s.requests).toHaveLength(1);
    expect(source.stats.sent).toBe(1);
  });
});

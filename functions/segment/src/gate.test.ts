import { describe, expect, it } from 'vitest';
import { Busy, createGate } from './gate.ts';

const deferred = () => {
  let resolve!: () => void;
  const promise = new Promise<void>((r) => {
    resolve = r;
  });
  return { promise, resolve };
};

describe('createGate', () => {
  it('runs at most `concurrency` at once, in arrival order, and refuses past `maxWaiting`', async () => {
    const gate = createGate(1, 2);
    const order: string[] = [];
    const first = deferred();
    const a = gate.run(async () => {
      order.push('a');
      await first.promise;
    });
    const b = gate.run(async () => {
      order.push('b');
    });
    const c = gate.run(async () => {
      order.push('c');
    });
    expect([gate.active, gate.waiting]).toEqual([1, 2]);
    const busy = await gate.run(async () => 'd').catch((e: unknown) => e);
    expect(busy).toBeInstanceOf(Busy);
    // nothing has finished yet: no average, the least wait
    expect((busy as Busy).retryAfterSeconds).toBe(1);
    expect(order).toEqual(['a']);
    first.resolve();
    await Promise.all([a, b, c]);
    expect(order).toEqual(['a', 'b', 'c']);
    expect([gate.active, gate.waiting]).toEqual([0, 0]);
  });

  it('frees the slot when the work throws', async () => {
    const gate = createGate(1, 0);
    await expect(gate.run(async () => Promise.reject(new Error('boom')))).rejects.toThrow('boom');
    expect(await gate.run(async () => 'next')).toBe('next');
  });

  it('asks a refused caller to come back when the queue ahead should have drained', async () => {
    let clock = 0;
    const gate = createGate(1, 1, () => clock);
    const sleep = (ms: number) => async () => {
      clock += ms;
    };
    await gate.run(sleep(1500));
    expect(gate.averageMs).toBe(1500);
    await gate.run(sleep(2500));
    // a moving average: 0.8 x 1500 + 0.2 x 2500
    expect(gate.averageMs).toBe(1700);
    const release = deferred();
    const running = gate.run(() => release.promise);
    const waiting = gate.run(async () => undefined);
    const busy = (await gate.run(async () => undefined).catch((e: unknown) => e)) as Busy;
    // one waiting plus the caller, 1.7 s each, in whole seconds
    expect(busy.retryAfterSeconds).toBe(4);
    expect(busy.message).toBe('1 segmentations are already waiting; try again in 4 s');
    release.resolve();
    await Promise.all([running, waiting]);
  });
});

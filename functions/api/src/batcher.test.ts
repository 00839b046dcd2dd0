import { describe, expect, it } from 'vitest';
import { Batcher, batchersOf } from './batcher.ts';

/** A run that records its batches and answers each item doubled once released. */
function recording() {
  const batches: number[][] = [];
  const releases: (() => void)[] = [];
  const run = (items: readonly number[]) => {
    batches.push([...items]);
    return new Promise<number[]>((resolve) => releases.push(() => resolve(items.map((i) => i * 2))));
  };
  const releaseAll = async () => {
    while (releases.length) releases.shift()?.();
    await new Promise((r) => setImmediate(r));
  };
  return { batches, run, releaseAll };
}

const turn = () => new Promise((r) => setImmediate(r));

describe('Batcher', () => {
  it('sends a lone item at the end of its event loop turn, without waiting for company', async () => {
    const batcher = new Batcher(async (items: readonly number[]) => items.map((i) => i + 1));
    expect(await batcher.add(1)).toBe(2);
  });

  it('sends what arrives in one turn as one batch, and answers each caller its own output', async () => {
    const r = recording();
    const batcher = new Batcher(r.run);
    const answers = Promise.all([1, 2, 3, 4].map((i) => batcher.add(i)));
    await turn();
    expect(r.batches).toEqual([[1, 2, 3, 4]]);
    await r.releaseAll();
    expect(await answers).toEqual([2, 4, 6, 8]);
  });

  it('keeps at most maxInFlight batches out; what arrives meanwhile leaves together when one returns', async () => {
    const r = recording();
    const batcher = new Batcher(r.run, { maxInFlight: 1 });
    const first = batcher.add(1);
    await turn();
    const later = [2, 3, 4].map((i) => batcher.add(i));
    await turn();
    expect(r.batches).toEqual([[1]]);
    await r.releaseAll();
    expect(await first).toBe(2);
    await turn();
    expect(r.batches).toEqual([[1], [2, 3, 4]]);
    await r.releaseAll();
    expect(await Promise.all(later)).toEqual([4, 6, 8]);
  });

  it('cuts batches at maxBatch', async () => {
    const r = recording();
    const batcher = new Batcher(r.run, { maxBatch: 2, maxInFlight: 8 });
    const answers = Promise.all([1, 2, 3, 4, 5].map((i) => batcher.add(i)));
    await turn();
    expect(r.batches).toEqual([[1, 2], [3, 4], [5]]);
    await r.releaseAll();
    expect(await answers).toEqual([2, 4, 6, 8, 10]);
  });

  it('when a batch fails, runs its items one by one, so only the bad one fails', async () => {
    const batches: number[][] = [];
    const batcher = new Batcher(async (items: readonly number[]) => {
      batches.push([...items]);
      if (items.includes(13)) throw new Error('unlucky');
      return items.map(String);
    });
    const answers = await Promise.allSettled([12, 13, 14].map((i) => batcher.add(i)));
    expect(answers).toEqual([
      { status: 'fulfilled', value: '12' },
      { status: 'rejected', reason: new Error('unlucky') },
      { status: 'fulfilled', value: '14' },
    ]);
    expect(batches).toEqual([[12, 13, 14], [12], [13], [14]]);
    // and it goes on batching afterwards
    expect(await Promise.all([15, 16].map((i) => batcher.add(i)))).toEqual(['15', '16']);
    expect(batches.at(-1)).toEqual([15, 16]);
  });

  it('refuses a run that answers the wrong number of outputs, item by item', async () => {
    const batcher = new Batcher(async (items: readonly number[]) => items.slice(1));
    await expect(batcher.add(1)).rejects.toThrow('a batch of 1 answered 0 outputs');
  });

  it('batchersOf keeps one batcher per owner, and never mixes two owners in a batch', async () => {
    const seen: [string, number[]][] = [];
    const of = batchersOf(async (owner: { name: string }, items: readonly number[]) => {
      seen.push([owner.name, [...items]]);
      return items.map((i) => `${owner.name}${i}`);
    });
    const a = { name: 'a' };
    const b = { name: 'b' };
    expect(of(a)).toBe(of(a));
    expect(of(a)).not.toBe(of(b));
    expect(await Promise.all([of(a).add(1), of(b).add(2), of(a).add(3)])).toEqual(['a1', 'b2', 'a3']);
    expect(seen).toEqual([
      ['a', [1, 3]],
      ['b', [2]],
    ]);
  });

  it('fails every item with the batch’s error, without reruns, when retryAlone says it is not about them', async () => {
    let runs = 0;
    const down = Object.assign(new Error('connect ECONNREFUSED'), { code: 'ECONNREFUSED' });
    const batcher = new Batcher(
      async () => {
        runs++;
        throw down;
      },
      { retryAlone: (error) => (error as { code?: string }).code !== 'ECONNREFUSED' },
    );
    const answers = await Promise.allSettled([1, 2, 3].map((i) => batcher.add(i)));
    expect(answers.map((a) => a.status)).toEqual(['rejected', 'rejected', 'rejected']);
    expect(answers.map((a) => (a as PromiseRejectedResult).reason)).toEqual([down, down, down]);
    expect(runs).toBe(1);
  });

  it('batchersOf does not rerun a batch the database could not take', async () => {
    let runs = 0;
    const of = batchersOf(async (_owner: object, _items: readonly number[]): Promise<number[]> => {
      runs++;
      throw Object.assign(new Error('terminating connection due to administrator command'), { code: '57P01' });
    });
    const owner = {};
    const answers = await Promise.allSettled([1, 2].map((i) => of(owner).add(i)));
    expect(answers.every((a) => a.status === 'rejected')).toBe(true);
    expect(runs).toBe(1);
  });
});

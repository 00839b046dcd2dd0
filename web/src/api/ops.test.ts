import { describe, expect, it } from 'vitest';
import type { ApiClient } from './client.ts';
import { fetchOpsStatus, newChanges, type PolicyChange, parseOpsStatus } from './ops.ts';
import { ApiError } from './problem.ts';

const change = (id: string, at: string): PolicyChange => ({
  id,
  at,
  batchSize: 4,
  degraded: false,
  mode: 'ECONOMY',
  reason: 'depth 12 > 10',
  queueDepth: 12,
  avgWaitMs: 800,
});
const status = {
  at: '2026-01-01T00:00:00.000Z',
  queueDepth: 12,
  policy: { batchSize: 4, degraded: false, mode: 'ECONOMY', reason: 'depth 12 > 10', since: '2026-01-01T00:00:00.000Z' },
  workers: [{ name: 'w1', engine: 'warp', at: '2026-01-01T00:00:00.000Z' }],
  waitP95Ms: 1200,
  waitWindowS: 60,
  recentChanges: [change('2-0', '2026-01-01T00:00:02.000Z'), change('1-0', '2026-01-01T00:00:01.000Z')],
};
const apiAnswering = (answer: () => unknown): ApiClient => ({
  tokens: { get: () => undefined, set: () => {} },
  request: (async () => answer()) as ApiClient['request'],
});

describe('the ops status contract', () => {
  it('reads a status that keeps the contract', () => {
    expect(parseOpsStatus(status)).toEqual(status);
    expect(parseOpsStatus({ ...status, policy: null, waitP95Ms: null, workers: [], recentChanges: [] }).policy).toBeNull();
  });

  it.each([
    ['a negative queue depth', { ...status, queueDepth: -1 }, 'queueDepth'],
    ['an unknown mode', { ...status, policy: { ...status.policy, mode: 'TURBO' } }, 'policy'],
    ['a worker without a name', { ...status, workers: [{ engine: 'warp', at: 'x' }] }, 'workers[0]'],
    ['a change without an id', { ...status, recentChanges: [{ ...change('x', 'y'), id: 5 }] }, 'recentChanges[0]'],
    ['no body at all', null, 'body'],
  ])('refuses %s by name', (_, raw, field) => {
    expect(() => parseOpsStatus(raw)).toThrow(`GET /api/ops/status answered an unexpected ${field}`);
  });

  it('says "missing" when the api has no such endpoint, and "forbidden" for a shopper', async () => {
    expect(await fetchOpsStatus(apiAnswering(() => Promise.reject(new ApiError('not-found', 'no route', 404))))).toEqual({
      available: false,
      reason: 'missing',
    });
    expect(await fetchOpsStatus(apiAnswering(() => Promise.reject(new ApiError('forbidden', 'admins only', 403))))).toEqual({
      available: false,
      reason: 'forbidden',
    });
    await expect(fetchOpsStatus(apiAnswering(() => Promise.reject(new ApiError('unreachable', 'down'))))).rejects.toMatchObject({ kind: 'unreachable' });
    expect(await fetchOpsStatus(apiAnswering(() => status))).toMatchObject({ available: true });
  });

  it('feeds only changes not seen before, oldest first', () => {
    const seen = new Set(['1-0']);
    expect(newChanges(seen, status.recentChanges).map((c) => c.id)).toEqual(['2-0']);
    expect(newChanges(new Set(), status.recentChanges).map((c) => c.id)).toEqual(['1-0', '2-0']);
  });
});

import { describe, expect, it } from 'vitest';
import type { ApiClient } from '../api/client.ts';
import type { JobPage, JobView } from '../api/types.ts';
import { createResync } from './resync.ts';

const job = (id: string): JobView => ({
  job_id: id,
  status: 'completed',
  kind: 'tryon',
  vton_id: null,
  result_url: null,
  error: null,
  engine: null,
  resolution: null,
  waiting_for: null,
  enqueued_at: null,
  finished_at: null,
  updated_at: null,
});

function fakeApi(pages: JobPage[]) {
  const queries: Record<string, unknown>[] = [];
  const api: ApiClient = {
    tokens: { get: () => undefined, set: () => {} },
    request: (async (_method: string, _path: string, options?: { query?: Record<string, unknown> }) => {
      queries.push(options?.query ?? {});
      const page = pages.shift();
      if (!page) throw new Error('no more pages');
      return page;
    }) as ApiClient['request'],
  };
  return { api, queries };
}

describe('resync', () => {
  it('looks back a week the first time, pages through, then resumes from the cursor', async () => {
    const { api, queries } = fakeApi([
      { items: [job('a'), job('b')], nextCursor: 'c1', hasMore: true },
      { items: [job('c')], nextCursor: 'c2', hasMore: false },
      { items: [job('d')], nextCursor: 'c3', hasMore: false },
    ]);
    const seen: string[] = [];
    const resync = createResync(api, (v) => seen.push(v.job_id), { now: () => Date.parse('2026-02-08T00:00:00.000Z') });
    await resync();
    expect(queries[0]).toEqual({ since: '2026-02-01T00:00:00.000Z', limit: 100 });
    expect(queries[1]).toEqual({ cursor: 'c1', limit: 100 });
    expect(resync.cursor).toBe('c2');
    await resync();
    expect(queries[2]).toEqual({ cursor: 'c2', limit: 100 });
    expect(seen).toEqual(['a', 'b', 'c', 'd']);
  });

  it('keeps its cursor when a page has no new one (nothing changed)', async () => {
    const { api } = fakeApi([
      { items: [job('a')], nextCursor: 'c1', hasMore: false },
      { items: [], nextCursor: null, hasMore: false },
    ]);
    const resync = createResync(api, () => {});
    await resync();
    await resync();
    expect(resync.cursor).toBe('c1');
  });

  it('shares one run between calls made at once', async () => {
    const { api, queries } = fakeApi([{ items: [], nextCursor: 'c1', hasMore: false }]);
    const resync = createResync(api, () => {});
    await Promise.all([resync(), resync()]);
    expect(queries).toHaveLength(1);
  });
});

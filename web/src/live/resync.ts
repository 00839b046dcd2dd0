/**
 * Catching up from the api: `GET /api/jobs` pages through what changed, oldest change first,
 * and answers a cursor to resume from next time. The first sync looks back `lookBackMs`; each
 * later one starts at the cursor, so a reconnect fetches only what it missed. Two calls at
 * once share one run.
 */
import type { ApiClient } from '../api/client.ts';
import type { JobPage, JobView } from '../api/types.ts';

export interface Resync {
  (): Promise<void>;
  readonly cursor: string | null;
}

export function createResync(
  api: ApiClient,
  apply: (view: JobView) => void,
  { lookBackMs = 7 * 24 * 3600 * 1000, maxPages = 20, now = () => Date.now() } = {},
): Resync {
  let cursor: string | null = null;
  let running: Promise<void> | undefined;

  async function run() {
    for (let page = 0; page < maxPages; page++) {
      const query = cursor ? { cursor } : { since: new Date(now() - lookBackMs).toISOString() };
      const answer = await api.request<JobPage>('GET', '/api/jobs', { query: { ...query, limit: 100 } });
      for (const view of answer.items) apply(view);
      if (answer.nextCursor) cursor = answer.nextCursor;
      if (!answer.hasMore) return;
    }
  }

  const resync = (() => {
    running ??= run().finally(() => {
      running = undefined;
    });
    return running;
  }) as Resync;
  Object.defineProperty(resync, 'cursor', { get: () => cursor });
  return resync;
}

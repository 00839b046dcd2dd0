/**
 * The shopper's jobs, live: the ledger (live/ledger.ts) fed by the `/updates` socket and by
 * resyncs from the api, connected while someone is signed in. Screens read `job(id)` and
 * `list()`; listeners hear about every job that changed (the wardrobe waits for its cut-outs).
 */
import { createEffect, createMemo, createSignal, onCleanup } from 'solid-js';
import { createStore, reconcile } from 'solid-js/store';
import type { JobUpdate, JobView, SubmittedJob } from '../api/types.ts';
import { updatesUrl } from '../health.ts';
import { type Connection, type ConnectionState, connectUpdates } from '../live/connection.ts';
import { type JobState, mergeUpdate, mergeView } from '../live/ledger.ts';
import { createResync } from '../live/resync.ts';
import type { Session } from './createSession.ts';

export interface Jobs {
  job(id: string): JobState | undefined;
  list(): JobState[];
  connection: () => ConnectionState;
  /** a job just submitted, so it shows before any message about it */
  track(job: SubmittedJob): void;
  /** the job's current view from the api (a fresh result URL) */
  refresh(id: string): Promise<void>;
  onChange(listener: (job: JobState) => void): () => void;
  reconnect(): void;
}

export function createJobs(session: Session): Jobs {
  const [jobs, setJobs] = createStore<Record<string, JobState>>({});
  const [connection, setConnection] = createSignal<ConnectionState>('closed');
  const listeners = new Set<(job: JobState) => void>();
  let socket: Connection | undefined;

  const put = (next: JobState) => {
    setJobs(next.job_id, reconcile(next));
    for (const listener of listeners) listener(next);
  };
  const applyUpdate = (update: JobUpdate) => put(mergeUpdate(jobs[update.job_id], update));
  const applyView = (view: JobView) => put(mergeView(jobs[view.job_id], view));

  // keyed by the account, not the user object: a refreshed profile keeps the socket and the jobs
  const userId = createMemo(() => session.user()?.id);
  createEffect(() => {
    const user = userId();
    socket?.close();
    socket = undefined;
    setJobs(reconcile({}));
    if (!user) {
      setConnection('closed');
      return;
    }
    const resync = createResync(session.api, applyView);
    socket = connectUpdates({
      url: updatesUrl(window.location),
      token: () => session.api.tokens.get()?.accessToken,
      renewToken: () => session.renew(),
      resync,
      onUpdate: applyUpdate,
      onState: setConnection,
    });
  });

  const online = () => socket?.wake();
  window.addEventListener('online', online);
  onCleanup(() => {
    window.removeEventListener('online', online);
    socket?.close();
  });

  return {
    job: (id) => jobs[id],
    list: () => Object.values(jobs).sort((a, b) => (b.enqueued_at ?? '').localeCompare(a.enqueued_at ?? '') || b.job_id.localeCompare(a.job_id)),
    connection,
    track(job) {
      if (jobs[job.job_id]) return;
      put(
        mergeView(undefined, {
          ...job,
          result_url: null,
          error: null,
          engine: null,
          resolution: null,
          waiting_for: null,
          enqueued_at: new Date().toISOString(),
          finished_at: null,
          updated_at: null,
        }),
      );
    },
    async refresh(id) {
      applyView(await session.api.request<JobView>('GET', `/api/status/${encodeURIComponent(id)}`));
    },
    onChange(listener) {
      listeners.add(listener);
      return () => listeners.delete(listener);
    },
    reconnect: () => socket?.wake(),
  };
}

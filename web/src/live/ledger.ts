/**
 * What the web app knows of each job, merged from two sources that can arrive in any order
 * and more than once: WebSocket messages and the api's job views (a resync after the socket
 * was down). The merge only moves forward: a finished job keeps its outcome (as the api does),
 * progress never goes back, and a newer view may refresh a result's download URL.
 */
import type { JobKind, JobStatus, JobUpdate, JobView } from '../api/types.ts';

export interface JobState {
  job_id: string;
  kind: JobKind | undefined;
  status: JobStatus;
  vton_id: string | null;
  result_url: string | null;
  error: string | null;
  step: number | undefined;
  steps: number | undefined;
  engine: string | null;
  resolution: string | null;
  /** the segmentation job (person mask) this try-on waits for */
  waiting_for: string | null;
  enqueued_at: string | null;
  updated_at: string | null;
}

const rank: Record<JobStatus, number> = { queued: 0, running: 1, completed: 2, failed: 2 };
export const isFinal = (status: JobStatus) => rank[status] === 2;

function empty(job_id: string): JobState {
  return {
    job_id,
    kind: undefined,
    status: 'queued',
    vton_id: null,
    result_url: null,
    error: null,
    step: undefined,
    steps: undefined,
    engine: null,
    resolution: null,
    waiting_for: null,
    enqueued_at: null,
    updated_at: null,
  };
}

/** The later of two statuses; between two outcomes the first one stays. */
function laterStatus(current: JobStatus, next: JobStatus, hadState: boolean): JobStatus {
  if (!hadState) return next;
  if (isFinal(current)) return current;
  return rank[next] > rank[current] ? next : current;
}

export function mergeUpdate(previous: JobState | undefined, update: JobUpdate): JobState {
  const base = previous ?? empty(update.job_id);
  const status = laterStatus(base.status, update.status, previous !== undefined);
  const sameOutcome = status === update.status;
  const step = update.step !== undefined ? Math.max(update.step, base.step ?? 0) : base.step;
  return {
    ...base,
    kind: update.kind ?? base.kind,
    status,
    vton_id: update.vton_id ?? base.vton_id,
    result_url: sameOutcome && update.result_url ? update.result_url : base.result_url,
    error: sameOutcome && update.error ? update.error : base.error,
    step,
    steps: update.steps ?? base.steps,
    engine: update.engine ?? base.engine,
    resolution: update.resolution ?? base.resolution,
  };
}

export function mergeView(previous: JobState | undefined, view: JobView): JobState {
  const base = previous ?? empty(view.job_id);
  const status = laterStatus(base.status, view.status, previous !== undefined);
  const sameOutcome = status === view.status;
  return {
    ...base,
    kind: view.kind,
    status,
    vton_id: view.vton_id ?? base.vton_id,
    // a view's URL is freshly signed: it replaces an older one of the same outcome
    result_url: sameOutcome && view.result_url ? view.result_url : base.result_url,
    error: sameOutcome && view.error ? view.error : base.error,
    engine: view.engine ?? base.engine,
    resolution: view.resolution ?? base.resolution,
    waiting_for: view.waiting_for,
    enqueued_at: view.enqueued_at ?? base.enqueued_at,
    updated_at: view.updated_at ?? base.updated_at,
  };
}

/** A WebSocket message, checked: anything else (hello, ready, a foreign shape) is not a job update. */
export function parseUpdate(data: unknown): JobUpdate | undefined {
  if (typeof data !== 'string') return undefined;
  let message: unknown;
  try {
    message = JSON.parse(data);
  } catch {
    return undefined;
  }
  if (!message || typeof message !== 'object') return undefined;
  const m = message as Record<string, unknown>;
  if (m.type !== 'job' && m.type !== 'progress') return undefined;
  if (typeof m.job_id !== 'string' || !m.job_id) return undefined;
  if (typeof m.status !== 'string' || !(m.status in rank)) return undefined;
  if (m.result_url !== null && m.result_url !== undefined && typeof m.result_url !== 'string') return undefined;
  for (const field of ['step', 'steps'] as const) if (m[field] !== undefined && typeof m[field] !== 'number') return undefined;
  return message as JobUpdate;
}

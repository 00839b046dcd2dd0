/**
 * The operator view's contract with the api: `GET /api/ops/status` (admins only,
 * functions/api/src/routes/ops.ts). The client is still a feature check, for an older api: a 404
 * means "not on this server" and the view falls back to /api/health; an answer that breaks the
 * contract is refused by name rather than drawn wrongly.
 */
import type { ApiClient } from './client.ts';
import { ApiError } from './problem.ts';

export type Mode = 'VIP' | 'ECONOMY' | 'SURGE';

export interface OpsPolicy {
  batchSize: number;
  degraded: boolean;
  mode: Mode;
  reason: string;
  /** ISO time this batch size and resolution took effect */
  since: string;
}

export interface OpsWorker {
  name: string;
  engine: string | null;
  /** ISO time of its last heartbeat */
  at: string;
}

export interface PolicyChange {
  /** the events:policy entry id: unique, and ordered by time */
  id: string;
  at: string;
  batchSize: number;
  degraded: boolean;
  mode: Mode;
  reason: string;
  queueDepth: number;
  avgWaitMs: number;
}

export interface OpsStatus {
  at: string;
  /** jobs waiting on queue:jobs: group lag plus pending */
  queueDepth: number;
  /** null until the arbitrator has decided once */
  policy: OpsPolicy | null;
  workers: OpsWorker[];
  /** p95 of enqueue-to-start wait over the last `waitWindowS` seconds; null without completions */
  waitP95Ms: number | null;
  waitWindowS: number;
  /** newest first, at most 50 */
  recentChanges: PolicyChange[];
}

export type OpsAnswer = { available: true; status: OpsStatus } | { available: false; reason: 'missing' | 'forbidden' };

const modes = new Set<Mode>(['VIP', 'ECONOMY', 'SURGE']);
const isNumber = (v: unknown): v is number => typeof v === 'number' && Number.isFinite(v);
const isString = (v: unknown): v is string => typeof v === 'string';

/** The status, checked field by field; throws naming the first field that breaks the contract. */
export function parseOpsStatus(raw: unknown): OpsStatus {
  const fail = (field: string): never => {
    throw new ApiError('server', `GET /api/ops/status answered an unexpected ${field}`);
  };
  if (!raw || typeof raw !== 'object') fail('body');
  const r = raw as Record<string, unknown>;
  if (!isString(r.at)) fail('at');
  if (!isNumber(r.queueDepth) || r.queueDepth < 0) fail('queueDepth');
  if (r.waitP95Ms !== null && !isNumber(r.waitP95Ms)) fail('waitP95Ms');
  if (!isNumber(r.waitWindowS)) fail('waitWindowS');
  let policy: OpsPolicy | null = null;
  if (r.policy !== null) {
    const p = r.policy as Record<string, unknown> | undefined;
    if (!p || !isNumber(p.batchSize) || typeof p.degraded !== 'boolean' || !modes.has(p.mode as Mode) || !isString(p.reason) || !isString(p.since))
      fail('policy');
    policy = p as unknown as OpsPolicy;
  }
  if (!Array.isArray(r.workers)) fail('workers');
  const workers = (r.workers as unknown[]).map((w, i) => {
    const o = w as Record<string, unknown> | null;
    if (!o || !isString(o.name) || !isString(o.at) || (o.engine !== null && !isString(o.engine))) fail(`workers[${i}]`);
    return o as unknown as OpsWorker;
  });
  if (!Array.isArray(r.recentChanges)) fail('recentChanges');
  const recentChanges = (r.recentChanges as unknown[]).map((c, i) => {
    const o = c as Record<string, unknown> | null;
    if (
      !o ||
      !isString(o.id) ||
      !isString(o.at) ||
      !isNumber(o.batchSize) ||
      typeof o.degraded !== 'boolean' ||
      !modes.has(o.mode as Mode) ||
      !isString(o.reason) ||
      !isNumber(o.queueDepth) ||
      !isNumber(o.avgWaitMs)
    ) {
      fail(`recentChanges[${i}]`);
    }
    return o as unknown as PolicyChange;
  });
  return {
    at: r.at as string,
    queueDepth: r.queueDepth as number,
    policy,
    workers,
    waitP95Ms: r.waitP95Ms as number | null,
    waitWindowS: r.waitWindowS as number,
    recentChanges,
  };
}

export async function fetchOpsStatus(api: ApiClient): Promise<OpsAnswer> {
  try {
    return { available: true, status: parseOpsStatus(await api.request<unknown>('GET', '/api/ops/status')) };
  } catch (error) {
    if (error instanceof ApiError && error.kind === 'not-found') return { available: false, reason: 'missing' };
    if (error instanceof ApiError && error.kind === 'forbidden') return { available: false, reason: 'forbidden' };
    throw error;
  }
}

/** Changes not seen before, oldest first: what the feed appends after a poll. */
export function newChanges(seen: ReadonlySet<string>, changes: readonly PolicyChange[]): PolicyChange[] {
  return changes.filter((c) => !seen.has(c.id)).sort((a, b) => a.at.localeCompare(b.at) || a.id.localeCompare(b.id));
}

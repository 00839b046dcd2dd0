/**
 * Try-ons waiting for their person mask (jobs/person-mask.ts) are released when the segmentation
 * job that makes it ends: in the transaction that records its outcome, and its (source, id), each
 * waiting row is cleared and the tryon.requested kept on it is XADDed to queue:jobs, with
 * `maskKey` when a mask was made, without when none was (the worker then builds one from the
 * landmarks). The entries are XADDed before COMMIT: a refused XADD rolls the record back (503,
 * the stream source retries) and recordEvent withdraws what a transaction that did not commit
 * had queued. A re-delivered outcome is a recorded (source, id), and another outcome of the same
 * job finds it finished and no row still waiting: a try-on is queued once.
 */
import type { Logger } from '@proteus/common';
import type { Database } from '@proteus/common/db';
import { EventValidationError, keys, type Producer, type ProteusEvent, parseEvent } from '@proteus/eventing';
import type { Transaction } from 'kysely';
import { queueUnavailable } from '../jobs/queue.ts';

export interface QueuedEntry {
  stream: string;
  id: string;
}

export interface ReleaseContext {
  producer: Producer;
  log: Logger;
  /** entries XADDed in this transaction so far: withdrawn if it does not commit */
  queued: QueuedEntry[];
}

type TryonRequested = ProteusEvent<'dev.proteus.tryon.requested'>;

const isRecord = (value: unknown): value is Record<string, unknown> => typeof value === 'object' && value !== null && !Array.isArray(value);

/** The kept request, with the mask when there is one, checked against the contract (once: a release may queue thousands). */
export function releasedRequest(pending: string, maskKey: string | undefined): TryonRequested {
  let kept: unknown;
  try {
    kept = JSON.parse(pending);
  } catch (error) {
    throw new EventValidationError(`not JSON: ${(error as Error).message}`, [{ path: '(root)', message: 'not JSON' }]);
  }
  const request = parseEvent(maskKey && isRecord(kept) && isRecord(kept.data) ? { ...kept, data: { ...kept.data, maskKey } } : kept);
  if (request.type !== 'dev.proteus.tryon.requested') {
    throw new EventValidationError(`a ${request.type} was kept instead of a dev.proteus.tryon.requested`, [{ path: 'type', message: 'unexpected type' }]);
  }
  return request;
}

/** Queues every try-on waiting for `segmentJobId`; answers the VTONs of those queued (one per try-on). */
export async function releaseWaiting(
  trx: Transaction<Database>,
  ctx: ReleaseContext,
  { segmentJobId, maskKey, now }: { segmentJobId: string; maskKey: string | undefined; now: Date },
): Promise<string[]> {
  // RETURNING sees the new row: the kept event is read from the row as it was (`kept`)
  const waiting = await trx
    .updateTable('jobs')
    .set({ waiting_for: null, pending_event: null, updated_at: now })
    .from('jobs as kept')
    .whereRef('kept.id', '=', 'jobs.id')
    .where('jobs.waiting_for', '=', segmentJobId)
    .returning(['jobs.id', 'jobs.vton_id', 'jobs.status', 'kept.pending_event'])
    .execute();
  const releasing: { jobId: string; vtonId: string; request: TryonRequested }[] = [];
  for (const row of waiting) {
    if (row.status !== 'queued' || row.pending_event === null) continue;
    try {
      releasing.push({ jobId: row.id, vtonId: row.vton_id, request: releasedRequest(row.pending_event, maskKey) });
    } catch (error) {
      if (!(error instanceof EventValidationError)) throw error;
      // it would fail every retry of this delivery: the try-on fails, visibly, instead
      const reason = `its request no longer passes the contract: ${error.message}`.slice(0, 2000);
      await trx.updateTable('jobs').set({ status: 'failed', error: reason, finished_at: now, updated_at: now }).where('id', '=', row.id).execute();
      ctx.log.error('waiting try-on not queued', { jobId: row.id, segmentJobId, reason });
    }
  }
  // XADDed all at once (auto-pipelined: one round trip, not one each); every entry made is
  // remembered, so a refusal of any withdraws them all with the transaction
  const added = await Promise.allSettled(releasing.map(({ request }) => ctx.producer.emit(keys.streams.jobs, request)));
  let firstRefused: { error: unknown; jobId: string } | undefined;
  let refused = 0;
  for (const [i, result] of added.entries()) {
    if (result.status === 'fulfilled') ctx.queued.push({ stream: keys.streams.jobs, id: result.value });
    else {
      refused++;
      firstRefused ??= { error: result.reason, jobId: (releasing[i] as { jobId: string }).jobId };
    }
  }
  if (firstRefused) {
    ctx.log.error('waiting try-ons not queued: XADD failed', { ...firstRefused, segmentJobId, refused });
    throw queueUnavailable();
  }
  return releasing.map((r) => r.vtonId);
}

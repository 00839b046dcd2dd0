/**
 * The CloudEvents ingest without its transport: each validated `*.requested` event of a shop
 * backend becomes a job through the one submission path (jobs/submit.ts). Delivery to us is
 * at-least-once, so each event is deduplicated on (source, id) by the submission's own
 * idempotency: a redelivered event answers the job it made the first time and writes nothing.
 */
import { Problem } from '@proteus/common';
import type { ProteusEvent } from '@proteus/eventing';
import { sha256Hex } from '../auth/secrets.ts';
import type { ApiDeps } from '../env.ts';
import { type Idempotency, requestHash } from './idempotency.ts';
import { type Submission, submitJob } from './submit.ts';

export const requestedTypes = ['dev.proteus.segment.requested', 'dev.proteus.tryon.requested'] as const;
export type RequestedEvent = ProteusEvent<(typeof requestedTypes)[number]>;

export const isRequested = (event: ProteusEvent): event is RequestedEvent => (requestedTypes as readonly string[]).includes(event.type);

export type IngestResult =
  | { id: string; source: string; job_id: string; status: 'queued' }
  | { id: string; source: string; problem: { type: string; title: string; status: number; detail?: string | undefined } };

// longer sources are hashed, so the key stays short enough to read in a log line
const MAX_LITERAL_SOURCE = 128;

/**
 * `ce:<source>:<id>`. `%`, `:` and `=` in the source are percent-encoded, so the first `:`
 * after the prefix ends the source (`a:b` + `c` and `a` + `b:c` stay apart) and a literal
 * source can never look like a hashed one (`sha256=<hex>`).
 */
export function ingestKey(source: string, id: string): string {
  const literal = source.replace(/[%:=]/g, (c) => encodeURIComponent(c));
  return `ce:${literal.length > MAX_LITERAL_SOURCE ? `sha256=${sha256Hex(source)}` : literal}:${id}`;
}

/**
 * What the event asks for. The job id is the api's own (data.jobId is the producer's
 * correlation id and is not kept: a client-chosen primary key could collide with another
 * user's job and would tell that it exists); vtonId must be one of the caller's VTONs.
 */
export function submissionOf(event: RequestedEvent): Submission {
  // the time and extension attributes may be re-stamped by a retrying producer: only what is asked for is hashed
  const idempotency: Idempotency = { key: ingestKey(event.source, event.id), requestHash: requestHash('CE', event.type, event.data) };
  if (event.type === 'dev.proteus.segment.requested') {
    const { userId, vtonId, imageKey, purpose } = event.data;
    return { userId, vtonId, work: { kind: 'segment', imageKey, purpose }, idempotency };
  }
  const { jobId: _, userId, vtonId, ...work } = event.data;
  return { userId, vtonId, work: { kind: 'tryon', ...work }, idempotency };
}

/**
 * Submits each event in order (a batch repeating one (source, id) gets one job). A Problem of
 * one event (a rejected image, a VTON that is not the caller's, 503 from the queue) becomes
 * its result and the others go on; anything else propagates, and a retry of the whole request
 * is safe because every event already submitted answers its job again.
 */
export async function ingestEvents(deps: ApiDeps, events: RequestedEvent[]): Promise<IngestResult[]> {
  const results: IngestResult[] = [];
  for (const event of events) {
    const { id, source } = event;
    try {
      const { job } = await submitJob(deps, submissionOf(event));
      results.push({ id, source, job_id: job.job_id, status: job.status });
    } catch (error) {
      if (!(error instanceof Problem)) throw error;
      const { type, title, status, detail } = error.details;
      results.push({ id, source, problem: { type, title, status, detail } });
    }
  }
  return results;
}

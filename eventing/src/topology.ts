/**
 * Which stream feeds which sink, declared once. The dev stack runs these routes; the cluster
 * manifests (issue #7) are generated from, or tested against, this list.
 */
import { createEvent, type ProteusEvent } from './events.ts';
import { groups, streams } from './keys.ts';

/** A segmentation request that could not be delivered fails its job (the owner gets segment.failed). */
function segmentationFailed(event: ProteusEvent, reason: string): ProteusEvent | undefined {
  if (event.type !== 'dev.proteus.segment.requested') return undefined;
  const { jobId, userId, vtonId } = event.data;
  return createEvent('dev.proteus.segment.failed', 'eventing', { jobId, userId, vtonId, error: `not delivered to segment: ${reason}`.slice(0, 2000) });
}

export type SinkPart = 'api' | 'segment' | 'arbitrator';

/**
 * Knative's delivery spec, same field names and meanings: `retry` attempts after the first,
 * `backoffDelay` (ISO-8601) grown linearly or exponentially, `timeout` per attempt,
 * `retryAfterMax` caps a sink's Retry-After, `deadLetterSink` is where undeliverable events go
 * (here: a Redis stream, `queue:dead`).
 */
export interface Delivery {
  retry: number;
  backoffPolicy: 'linear' | 'exponential';
  backoffDelay: string;
  timeout: string;
  retryAfterMax: string;
  deadLetterSink: string;
}

export interface StreamRoute {
  name: string;
  stream: string;
  group: string;
  sink: { part: SinkPart; path: string };
  delivery: Delivery;
  /** deliveries under way at once; order is not kept beyond 1 (as with Knative's parallel dispatch) */
  inFlight: number;
  /**
   * When an event is dead-lettered, the lifecycle event that tells its owner it failed, appended
   * to `stream` in the same MULTI: a job whose request could not be delivered must not stay queued.
   */
  onDeadLetter?: { stream: string; failure: (event: ProteusEvent, reason: string) => ProteusEvent | undefined };
}

export interface TickRoute {
  name: string;
  periodMs: number;
  sink: { part: SinkPart; path: string };
}

export const defaultDelivery: Delivery = {
  retry: 5,
  backoffPolicy: 'exponential',
  backoffDelay: 'PT0.2S',
  timeout: 'PT10S',
  retryAfterMax: 'PT60S',
  deadLetterSink: streams.dead,
};

export const streamRoutes: StreamRoute[] = [
  {
    name: 'segment-requests',
    stream: streams.segment,
    group: groups.tailors,
    sink: { part: 'segment', path: '/' },
    // a segmentation takes ~1 s on 2 cores and the function runs one at a time: the 8th request
    // in flight waits ~7 s, too close to the default 10 s timeout (a timeout is retried, the work redone)
    delivery: { ...defaultDelivery, timeout: 'PT30S' },
    inFlight: 8,
    onDeadLetter: { stream: streams.lifecycle, failure: segmentationFailed },
  },
  {
    name: 'lifecycle',
    stream: streams.lifecycle,
    group: groups.recorders,
    sink: { part: 'api', path: '/events' },
    // a dead-lettered lifecycle event is a job outcome its owner never sees (nothing fails the job):
    // ride out an api or database outage of about 3.5 minutes (0.2 s doubled 10 times), not 6 s
    // (the default's 5 retries lost every job finishing during a 10 s PostgreSQL stop: bench e2e:chaos)
    delivery: { ...defaultDelivery, retry: 10 },
    inFlight: 64,
  },
];

export const tickRoutes: TickRoute[] = [{ name: 'arbitrator-tick', periodMs: 500, sink: { part: 'arbitrator', path: '/' } }];

/** The environment variable that holds each sink part's base URL (TAILOR_URL is the original design's name). */
export const sinkUrlEnv: Record<SinkPart, string> = { api: 'API_URL', segment: 'TAILOR_URL', arbitrator: 'ARBITRATOR_URL' };

/**
 * Which stream feeds which sink, declared once. The dev stack runs these routes; the cluster
 * manifests (issue #7) are generated from, or tested against, this list.
 */
import { groups, streams } from './keys.ts';

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
  { name: 'segment-requests', stream: streams.segment, group: groups.tailors, sink: { part: 'segment', path: '/' }, delivery: defaultDelivery, inFlight: 8 },
  { name: 'lifecycle', stream: streams.lifecycle, group: groups.recorders, sink: { part: 'api', path: '/events' }, delivery: defaultDelivery, inFlight: 64 },
];

export const tickRoutes: TickRoute[] = [{ name: 'arbitrator-tick', periodMs: 500, sink: { part: 'arbitrator', path: '/' } }];

/** The environment variable that holds each sink part's base URL (TAILOR_URL is the original design's name). */
export const sinkUrlEnv: Record<SinkPart, string> = { api: 'API_URL', segment: 'TAILOR_URL', arbitrator: 'ARBITRATOR_URL' };

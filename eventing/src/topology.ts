/**
 * Which stream feeds which sink, declared once. The dev stack runs these routes; the cluster
 * manifests (issue #7) are generated from, or tested against, this list.
 */
import { groups, streams } from './keys.ts';

export type SinkPart = 'api' | 'segment' | 'arbitrator';

/** Knative delivery spec fields (retry, backoff, dead letter): issue #3 fills in the behaviour. */
export interface Delivery {
  retry: number;
  backoffPolicy: 'linear' | 'exponential';
  backoffDelay: string;
  timeout: string;
}

export interface StreamRoute {
  name: string;
  stream: string;
  group: string;
  sink: { part: SinkPart; path: string };
  delivery: Delivery;
}

export interface TickRoute {
  name: string;
  periodMs: number;
  sink: { part: SinkPart; path: string };
}

const defaultDelivery: Delivery = { retry: 5, backoffPolicy: 'exponential', backoffDelay: 'PT0.2S', timeout: 'PT10S' };

export const streamRoutes: StreamRoute[] = [
  { name: 'segment-requests', stream: streams.segment, group: groups.tailors, sink: { part: 'segment', path: '/' }, delivery: defaultDelivery },
  { name: 'lifecycle', stream: streams.lifecycle, group: groups.recorders, sink: { part: 'api', path: '/events' }, delivery: defaultDelivery },
];

export const tickRoutes: TickRoute[] = [{ name: 'arbitrator-tick', periodMs: 500, sink: { part: 'arbitrator', path: '/' } }];

/** The environment variable that holds each sink part's base URL (TAILOR_URL is the original design's name). */
export const sinkUrlEnv: Record<SinkPart, string> = { api: 'API_URL', segment: 'TAILOR_URL', arbitrator: 'ARBITRATOR_URL' };

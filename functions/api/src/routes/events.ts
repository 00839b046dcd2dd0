/**
 * POST /events: the sink of the `events:jobs` route (internal, not exposed by the ingress).
 * Delivery is at-least-once: each lifecycle event updates its job and VTON once per
 * (source, id), and the owner is told on `events:job_done` after the commit. The end of a
 * segmentation job queues the try-ons waiting for its mask (lifecycle/release.ts); a refused
 * XADD answers 503, retried. A job not known (yet) answers 404, which the stream source retries;
 * other event types are not for this sink (400).
 */
import { problem } from '@proteus/common';
import { EventValidationError, fromHttp, keys, type ProteusEvent } from '@proteus/eventing';
import { Hono } from 'hono';
import { bodyLimit } from 'hono/body-limit';
import type { AppEnv } from '../env.ts';
import { producerOf } from '../jobs/queue.ts';
import { isLifecycleEvent, publishUpdate, recordEvent } from '../lifecycle/record.ts';
import { UNREAD_BODY } from '../validation.ts';

const MAX_EVENT_BYTES = 256 * 1024;

// counts bytes as they arrive (a chunked body has no content-length), not UTF-16 characters
const eventSizeLimit = bodyLimit({
  maxSize: MAX_EVENT_BYTES,
  onError: () => {
    throw problem(413, 'event-too-large', 'Event too large', { detail: `at most ${MAX_EVENT_BYTES} bytes` }, UNREAD_BODY);
  },
});

export const events = new Hono<AppEnv>().post('/', eventSizeLimit, async (c) => {
  const body = await c.req.text();
  let event: ProteusEvent;
  try {
    event = fromHttp(c.req.raw.headers, body);
  } catch (error) {
    if (error instanceof EventValidationError) {
      throw problem(400, 'invalid-event', 'Invalid CloudEvent', { detail: error.message, errors: error.issues });
    }
    throw error;
  }
  if (!isLifecycleEvent(event.type)) {
    throw problem(400, 'unexpected-event-type', 'Unexpected event type', { detail: `this sink takes job lifecycle events, not ${event.type}` });
  }
  const deps = c.get('deps');
  const { database, redis, storage, images, log } = deps;
  const outcome = await recordEvent({ db: database.db, producer: producerOf(deps), log }, event);
  if (outcome.kind === 'unknown-job') {
    throw problem(404, 'job-not-found', 'No such job', { detail: `no job ${(event.data as { jobId: string }).jobId} of that user (yet)` });
  }
  const released = outcome.kind === 'recorded' ? outcome.released : 0;
  if (released) deps.metrics?.submissions.inc({ stream: keys.streams.jobs }, released);
  log.info('event recorded', { type: event.type, source: event.source, id: event.id, duplicate: outcome.kind === 'duplicate', released });
  if (outcome.kind === 'recorded' && outcome.update) await publishUpdate(redis, storage, images, outcome.update, log);
  return c.body(null, 204);
});

/**
 * POST /: the sink of the `segment-requests` route (the stream source delivers
 * `dev.proteus.segment.requested` here, binary or structured). The answer tells the source what
 * to do: 200 when the job ended either way (completed, or failed for a reason a retry cannot
 * fix: the `segment.failed` event is already out), 503 when a dependency is down or the
 * function is busy (retried), 400 for what is not a valid segment.requested (dead-lettered,
 * and the source fails the job).
 */
import { problem } from '@proteus/common';
import { EventValidationError, fromHttp, type ProteusEvent } from '@proteus/eventing';
import { Hono } from 'hono';
import { bodyLimit } from 'hono/body-limit';
import type { AppEnv } from '../env.ts';
import { Busy } from '../gate.ts';
import { handleSegmentRequest } from '../requests.ts';

const MAX_EVENT_BYTES = 64 * 1024;

const eventSizeLimit = bodyLimit({
  maxSize: MAX_EVENT_BYTES,
  onError: () => {
    throw problem(413, 'event-too-large', 'Event too large', { detail: `at most ${MAX_EVENT_BYTES} bytes` });
  },
});

export const events = new Hono<AppEnv>().post('/', eventSizeLimit, async (c) => {
  let event: ProteusEvent;
  try {
    event = fromHttp(c.req.raw.headers, await c.req.text());
  } catch (error) {
    if (error instanceof EventValidationError) throw problem(400, 'invalid-event', 'Invalid CloudEvent', { detail: error.message, errors: error.issues });
    throw error;
  }
  if (event.type !== 'dev.proteus.segment.requested') {
    throw problem(400, 'unexpected-event-type', 'Unexpected event type', { detail: `this sink takes dev.proteus.segment.requested, not ${event.type}` });
  }
  const deps = c.get('deps');
  try {
    return c.json(await handleSegmentRequest(event, deps), 200);
  } catch (error) {
    const purpose = event.data.purpose;
    if (error instanceof Busy) {
      deps.metrics.outcomes.inc({ via: 'event', purpose, outcome: 'busy' });
      throw problem(503, 'busy', 'Busy', { detail: error.message }, { 'retry-after': String(error.retryAfterSeconds) });
    }
    deps.metrics.outcomes.inc({ via: 'event', purpose, outcome: 'error' });
    deps.log.warn('segmentation request not handled; it will be retried', { jobId: event.data.jobId, error });
    throw problem(503, 'unavailable', 'Temporarily unavailable', { detail: 'object storage or Redis did not answer; retry later' });
  }
});

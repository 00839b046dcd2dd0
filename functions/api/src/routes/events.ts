/**
 * POST /events: the sink of the `events:jobs` route (internal, not exposed by the ingress).
 * Delivery is at-least-once, so every event is recorded once per (source, id). Issue #4 adds
 * updating jobs and VTONs and publishing to `events:job_done`.
 */
import { problem } from '@proteus/common';
import { EventValidationError, fromHttp, type ProteusEvent } from '@proteus/eventing';
import { Hono } from 'hono';
import { bodyLimit } from 'hono/body-limit';
import type { AppEnv } from '../env.ts';

const MAX_EVENT_BYTES = 256 * 1024;

// counts bytes as they arrive (a chunked body has no content-length), not UTF-16 characters
const eventSizeLimit = bodyLimit({
  maxSize: MAX_EVENT_BYTES,
  onError: () => {
    throw problem(413, 'event-too-large', 'Event too large', { detail: `at most ${MAX_EVENT_BYTES} bytes` });
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
  const { database, log } = c.var.deps;
  const inserted = await database.db
    .insertInto('processed_events')
    .values({ source: event.source, id: event.id, type: event.type })
    .onConflict((oc) => oc.columns(['source', 'id']).doNothing())
    .executeTakeFirst();
  const duplicate = inserted.numInsertedOrUpdatedRows === 0n;
  log.info('event recorded', { type: event.type, source: event.source, id: event.id, duplicate });
  return c.body(null, 204);
});

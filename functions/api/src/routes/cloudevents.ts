/**
 * POST /api/cloudevents: shop backends submit jobs as `dev.proteus.*.requested` CloudEvents in
 * binary, structured or batch mode (`application/cloudevents-batch+json`, at most 100). Only an
 * API key may call it. Every event is checked (contract, type, owner) before any is submitted:
 * one bad event refuses the whole request. Then each becomes a job (jobs/ingest.ts); 202 when
 * all were submitted, 207 when some carry a problem instead of a job.
 */
import { problem } from '@proteus/common';
import { EventValidationError, fromHttp, type ProteusEvent, parseEvent, STRUCTURED_CONTENT_TYPE } from '@proteus/eventing';
import { Hono } from 'hono';
import { bodyLimit } from 'hono/body-limit';
import { createMiddleware } from 'hono/factory';
import { forbidden, requireAuth } from '../auth/require-auth.ts';
import type { AppEnv } from '../env.ts';
import { ingestEvents, isRequested, type RequestedEvent, requestedTypes } from '../jobs/ingest.ts';
import { UNREAD_BODY } from '../validation.ts';

export const BATCH_CONTENT_TYPE = 'application/cloudevents-batch+json';
export const MAX_BATCH_EVENTS = 100;
export const MAX_INGEST_BYTES = 1024 * 1024;

type Issue = { path: string; message: string };

// counts bytes as they arrive (a chunked body has no content-length), not UTF-16 characters
const ingestSizeLimit = bodyLimit({
  maxSize: MAX_INGEST_BYTES,
  onError: () => {
    throw problem(413, 'body-too-large', 'Request body too large', { detail: `at most ${MAX_INGEST_BYTES} bytes` }, UNREAD_BODY);
  },
});

const apiKeysOnly = createMiddleware<AppEnv>(async function apiKeysOnly(c, next) {
  if (c.get('auth').via !== 'api-key') throw forbidden('use an API key');
  await next();
});

const invalidEvent = (detail: string, errors: Issue[]) => problem(400, 'invalid-event', 'Invalid CloudEvent', { detail, errors });

/** One event as sent: its declared type (when it says one) and how to read it against the contract. */
interface Sent {
  type: unknown;
  read: () => ProteusEvent;
}

function jsonOf(body: string): unknown {
  try {
    return JSON.parse(body);
  } catch {
    return undefined;
  }
}

const typeOf = (value: unknown) => (value as { type?: unknown } | null | undefined)?.type;

/** The events of the request in its mode; a batch is numbered from 0. */
function sentEvents(headers: Headers, body: string): { batch: boolean; sent: Sent[] } {
  const mediaType = headers.get('content-type')?.split(';')[0]?.trim().toLowerCase();
  if (mediaType !== BATCH_CONTENT_TYPE) {
    const type = mediaType === STRUCTURED_CONTENT_TYPE ? typeOf(jsonOf(body)) : (headers.get('ce-type') ?? undefined);
    return { batch: false, sent: [{ type, read: () => fromHttp(headers, body) }] };
  }
  const batch = jsonOf(body);
  if (!Array.isArray(batch)) throw invalidEvent('a batch is a JSON array of structured CloudEvents', [{ path: '(body)', message: 'expected a JSON array' }]);
  if (batch.length > MAX_BATCH_EVENTS) {
    throw problem(400, 'batch-too-large', 'Batch too large', { detail: `a batch holds at most ${MAX_BATCH_EVENTS} events, got ${batch.length}` });
  }
  return { batch: true, sent: batch.map((value: unknown) => ({ type: typeOf(value), read: () => parseEvent(value) })) };
}

/** Every event valid and of a requested type, or a 400 naming each bad one (by index in a batch). */
function checkedEvents(batch: boolean, sent: Sent[]): RequestedEvent[] {
  const where = (i: number) => (batch ? `event ${i}` : 'the event');
  const invalid: { detail: string; issues: Issue[] }[] = [];
  const unexpected: string[] = [];
  const events: RequestedEvent[] = [];
  sent.forEach(({ type, read }, i) => {
    // a type the contract knows nothing of is as unexpected here as one it knows (segment.completed)
    if (typeof type === 'string' && !(requestedTypes as readonly string[]).includes(type)) {
      unexpected.push(`${where(i)} is a ${type}`);
      return;
    }
    try {
      const event = read();
      if (isRequested(event)) events.push(event);
      else unexpected.push(`${where(i)} is a ${event.type}`);
    } catch (error) {
      if (!(error instanceof EventValidationError)) throw error;
      const prefix = batch ? `[${i}].` : '';
      invalid.push({ detail: `${where(i)}: ${error.message}`, issues: error.issues.map((issue) => ({ ...issue, path: prefix + issue.path })) });
    }
  });
  if (invalid.length) {
    const more = invalid.length > 1 ? ` (and ${invalid.length - 1} more invalid)` : '';
    throw invalidEvent(
      `${invalid[0]?.detail}${more}; nothing was submitted`,
      invalid.flatMap((e) => e.issues),
    );
  }
  if (unexpected.length) {
    throw problem(400, 'unexpected-event-type', 'Unexpected event type', {
      detail: `${unexpected.join('; ')}; this ingest takes ${requestedTypes.join(' and ')}; nothing was submitted`,
    });
  }
  return events;
}

export const cloudEvents = new Hono<AppEnv>().post('/', requireAuth(), apiKeysOnly, ingestSizeLimit, async (c) => {
  const { batch, sent } = sentEvents(c.req.raw.headers, await c.req.text());
  const events = checkedEvents(batch, sent);
  const { userId } = c.get('auth');
  const foreign = events.findIndex((e) => e.data.userId !== userId);
  if (foreign !== -1) {
    throw forbidden(`${batch ? `event ${foreign}` : 'the event'}: data.userId is not the owner of this API key; nothing was submitted`);
  }
  const results = await ingestEvents(c.get('deps'), events);
  const failed = results.filter((r) => 'problem' in r).length;
  c.get('deps').log.info('cloudevents ingested', { userId, events: results.length, failed, batch });
  return c.json({ results }, failed ? 207 : 202);
});

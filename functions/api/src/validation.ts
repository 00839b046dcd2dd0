/**
 * Request bodies and queries are checked by zod schemas; every rejection is a 400
 * `invalid-request` problem whose `errors` name each field. JSON bodies are at most 64 KiB
 * (counted in bytes as they arrive) and must say they are JSON.
 */
import { problem } from '@proteus/common';
import { bodyLimit } from 'hono/body-limit';
import { createMiddleware } from 'hono/factory';
import { validator } from 'hono/validator';
import type { z } from 'zod';

export const MAX_JSON_BYTES = 64 * 1024;

/**
 * The header of an answer given before the body was read to its end (RFC 9112 §9.6): the rest
 * of the body is still on the connection, so it must not carry another request. Without it a
 * keep-alive client (the dev gateway, an ingress) reuses the connection and its next request,
 * maybe another user's, fails.
 */
export const UNREAD_BODY = { connection: 'close' };

export interface FieldError {
  path: string;
  message: string;
}

/** Flattens zod issues to one entry per field; unknown keys are named one by one. */
export function fieldErrors(error: z.ZodError): FieldError[] {
  // zod still runs length checks on a value of the wrong type ("expected array to have >=12 items"): the type error says it all
  const mistyped = new Set(error.issues.filter((i) => i.code === 'invalid_type').map((i) => i.path.join('.')));
  return error.issues.flatMap((issue) => {
    if (issue.code !== 'invalid_type' && mistyped.has(issue.path.join('.'))) return [];
    const base = issue.path.map(String);
    if (issue.code === 'unrecognized_keys') return issue.keys.map((key) => ({ path: [...base, key].join('.'), message: 'unknown or read-only field' }));
    return [{ path: base.join('.') || '(body)', message: issue.message }];
  });
}

export function invalidRequest(errors: FieldError[]) {
  const fields = [...new Set(errors.map((e) => e.path))];
  return problem(400, 'invalid-request', 'Invalid request', { detail: `invalid: ${fields.join(', ')}`, errors });
}

const bodyTooLarge = bodyLimit({
  maxSize: MAX_JSON_BYTES,
  onError: () => {
    throw problem(413, 'body-too-large', 'Request body too large', { detail: `at most ${MAX_JSON_BYTES} bytes` }, UNREAD_BODY);
  },
});

/**
 * For a router whose POST, PUT and PATCH take JSON: the size limit, the media type (415),
 * and malformed JSON (400) are answered before any handler. The parsed body stays cached for
 * `json(schema)`.
 */
export const jsonRequests = createMiddleware(async function jsonRequests(c, next) {
  if (!['POST', 'PUT', 'PATCH'].includes(c.req.method)) return next();
  return bodyTooLarge(c, async () => {
    const type = c.req.header('content-type')?.split(';')[0]?.trim().toLowerCase();
    if (type !== 'application/json') {
      throw problem(415, 'unsupported-media-type', 'Unsupported media type', { detail: 'expected content-type: application/json' });
    }
    try {
      await c.req.json();
    } catch {
      throw problem(400, 'invalid-request', 'Invalid request', {
        detail: 'the body is not valid JSON',
        errors: [{ path: '(body)', message: 'malformed JSON' }],
      });
    }
    await next();
  });
});

function check<S extends z.ZodType>(schema: S) {
  return (value: unknown): z.output<S> => {
    const result = schema.safeParse(value);
    if (!result.success) throw invalidRequest(fieldErrors(result.error));
    return result.data;
  };
}

/** The JSON body, checked; read it with `c.req.valid('json')`. Mount `jsonRequests` on the router first. */
export const json = <S extends z.ZodType>(schema: S) => validator('json', check(schema));

/** The query string, checked; read it with `c.req.valid('query')`. */
export const query = <S extends z.ZodType>(schema: S) => validator('query', check(schema));

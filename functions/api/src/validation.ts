/**
 * Request bodies and queries are checked by zod schemas; every rejection is a 400
 * `invalid-request` problem whose `errors` name each field. JSON bodies are at most 64 KiB
 * (counted in bytes as they arrive) and must say they are JSON.
 */
import { IncomingMessage } from 'node:http';
import { problem } from '@proteus/common';
import type { Context } from 'hono';
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

const tooLarge = () => problem(413, 'body-too-large', 'Request body too large', { detail: `at most ${MAX_JSON_BYTES} bytes` }, UNREAD_BODY);

const bodyTooLarge = bodyLimit({
  maxSize: MAX_JSON_BYTES,
  onError: () => {
    throw tooLarge();
  },
});

const malformed = () =>
  problem(400, 'invalid-request', 'Invalid request', {
    detail: 'the body is not valid JSON',
    errors: [{ path: '(body)', message: 'malformed JSON' }],
  });

/**
 * On @hono/node-server (the api's server) the body is read from Node's request itself, counted
 * in bytes as it arrives: reading it through `c.req` builds a web Request and a stream adapter
 * first, which cost more than everything else a small POST does. Undefined elsewhere
 * (app.request in tests, another runtime), where `c.req` reads it behind `bodyLimit`.
 */
function nodeRequest(c: Context): IncomingMessage | undefined {
  const incoming = (c.env as { incoming?: unknown } | undefined)?.incoming;
  return incoming instanceof IncomingMessage && !incoming.readableDidRead ? incoming : undefined;
}

/** The whole body when it has all arrived already (the usual small POST, in the headers' packet): read at once, nothing awaited. */
function arrivedBody(incoming: IncomingMessage): Buffer | undefined {
  if (!incoming.complete || incoming.readableLength > MAX_JSON_BYTES) return undefined;
  const chunks: Buffer[] = [];
  for (let chunk = incoming.read() as Buffer | null; chunk !== null; chunk = incoming.read() as Buffer | null) chunks.push(chunk);
  return chunks.length === 1 ? chunks[0] : Buffer.concat(chunks);
}

async function readNodeBody(incoming: IncomingMessage): Promise<Buffer> {
  const arrived = arrivedBody(incoming);
  if (arrived) return arrived;
  const chunks: Buffer[] = [];
  let size = 0;
  // not destroyed on an early exit: the 413 still has to reach the client
  for await (const chunk of incoming.iterator({ destroyOnReturn: false }) as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > MAX_JSON_BYTES) throw tooLarge();
    chunks.push(chunk);
  }
  return Buffer.concat(chunks, size);
}

const DRAIN_MAX_BYTES = 16 * 1024 * 1024;
const DRAIN_MAX_MS = 5000;

/**
 * Before a refusal that leaves a body unread (UNREAD_BODY) goes out, the rest of the body is
 * read and dropped, up to 16 MiB or 5 s: answering and closing while the client is still
 * sending makes its kernel reset the connection, which can discard the answer before the client
 * reads it (and a proxy in between passes the reset on). Bigger or slower bodies are cut off,
 * the connection closed at once. Only on @hono/node-server; elsewhere there is nothing to read.
 */
export function drainUnread(c: Context): Promise<void> {
  const incoming = (c.env as { incoming?: unknown } | undefined)?.incoming;
  if (!(incoming instanceof IncomingMessage) || incoming.readableEnded || incoming.destroyed) return Promise.resolve();
  if (Number(incoming.headers['content-length'] ?? 0) > DRAIN_MAX_BYTES) return Promise.resolve();
  return new Promise((resolve) => {
    let seen = 0;
    const done = () => {
      clearTimeout(timer);
      incoming.off('data', onData).off('end', done).off('error', done).off('close', done);
      resolve();
    };
    const onData = (chunk: Buffer) => {
      seen += chunk.length;
      if (seen > DRAIN_MAX_BYTES) {
        incoming.pause();
        done();
      }
    };
    const timer = setTimeout(done, DRAIN_MAX_MS);
    incoming.on('data', onData).once('end', done).once('error', done).once('close', done);
    incoming.resume();
  });
}

// as Request.json() decodes: UTF-8, a byte order mark dropped
const utf8 = new TextDecoder();

/**
 * For a router whose POST, PUT and PATCH take JSON: the size limit, the media type (415),
 * and malformed JSON (400) are answered before any handler. The parsed body stays cached for
 * `json(schema)` and `c.req.json()`.
 */
export const jsonRequests = createMiddleware(async function jsonRequests(c, next) {
  if (!['POST', 'PUT', 'PATCH'].includes(c.req.method)) return next();
  const incoming = nodeRequest(c);
  if (incoming && Number(incoming.headers['content-length'] ?? 0) > MAX_JSON_BYTES) throw tooLarge();
  const parse = async () => {
    const type = c.req.header('content-type')?.split(';')[0]?.trim().toLowerCase();
    if (type !== 'application/json') {
      throw problem(415, 'unsupported-media-type', 'Unsupported media type', { detail: 'expected content-type: application/json' });
    }
    if (incoming) {
      const text = utf8.decode(await readNodeBody(incoming));
      let body: unknown;
      try {
        body = JSON.parse(text);
      } catch {
        throw malformed();
      }
      // the caches c.req.json() answers from (this Hono's json() parses the cached text; with
      // only `json` cached it would rebuild a Response to read the text back). Hono keeps
      // promises there, whatever its types say.
      c.req.bodyCache.text = Promise.resolve(text) as unknown as string;
      c.req.bodyCache.json = Promise.resolve(body);
    } else {
      try {
        await c.req.json();
      } catch {
        throw malformed();
      }
    }
    await next();
  };
  return incoming ? parse() : bodyTooLarge(c, parse);
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

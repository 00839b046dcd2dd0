/**
 * RFC 9457 problem details. Every error a function answers is `application/problem+json`
 * with a stable `type` URI; handlers throw `problem(...)` and one onError renders it.
 */
import type { Context } from 'hono';
import { HTTPException } from 'hono/http-exception';
import type { ContentfulStatusCode } from 'hono/utils/http-status';
import type { Logger } from './log.ts';

export const PROBLEM_BASE = 'https://proteus.dev/problems/';
export const PROBLEM_CONTENT_TYPE = 'application/problem+json';

export interface ProblemDetails {
  type: string;
  title: string;
  status: number;
  detail?: string;
  instance?: string;
  [extension: string]: unknown;
}

export class Problem extends HTTPException {
  constructor(
    readonly details: ProblemDetails,
    /** response headers that belong to the error, e.g. WWW-Authenticate on a 401, Retry-After on a 429 */
    readonly headers: Record<string, string> = {},
  ) {
    super(details.status as ContentfulStatusCode, { message: details.detail ?? details.title });
  }
}

/** `problem(404, 'not-found', 'No such VTON', { detail })`; `headers` go on the response */
export function problem(
  status: number,
  slug: string,
  title: string,
  extra: Omit<Partial<ProblemDetails>, 'type' | 'status' | 'title'> = {},
  headers: Record<string, string> = {},
): Problem {
  return new Problem({ type: PROBLEM_BASE + slug, title, status, ...extra }, headers);
}

export function problemResponse(details: ProblemDetails, headers: Record<string, string> = {}): Response {
  return new Response(JSON.stringify(details), { status: details.status, headers: { 'content-type': PROBLEM_CONTENT_TYPE, ...headers } });
}

/** The app's onError: known problems as they are, other HTTP errors mapped, the rest a 500 that leaks nothing. */
export function problemErrorHandler(log: Logger) {
  return function onProblem(error: Error, c: Context): Response {
    const instance = new URL(c.req.url).pathname;
    if (error instanceof Problem) return problemResponse({ ...error.details, instance }, error.headers);
    if (error instanceof HTTPException) {
      const status = error.status;
      return problemResponse({
        type: PROBLEM_BASE + (status === 404 ? 'not-found' : `http-${status}`),
        title: error.message || 'HTTP error',
        status,
        instance,
      });
    }
    log.error('unhandled error', { error, path: instance, method: c.req.method });
    return problemResponse({ type: `${PROBLEM_BASE}internal`, title: 'Internal server error', status: 500, instance });
  };
}

export function notFoundHandler(c: Context): Response {
  const path = new URL(c.req.url).pathname;
  return problemResponse({ type: `${PROBLEM_BASE}not-found`, title: 'Not found', status: 404, detail: `no route for ${c.req.method} ${path}`, instance: path });
}

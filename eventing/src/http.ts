/**
 * CloudEvents over HTTP (the HTTP protocol binding, v1.0): binary mode (attributes in
 * `ce-` headers, data in the body) and structured mode (`application/cloudevents+json`).
 * Sources send; sinks parse and validate against the contracts.
 */
import { EventValidationError, type ProteusEvent, parseEvent } from './events.ts';

export const STRUCTURED_CONTENT_TYPE = 'application/cloudevents+json';

/** Headers and body for binary mode. */
export function toBinaryHttp(event: ProteusEvent): { headers: Record<string, string>; body: string } {
  const headers: Record<string, string> = {};
  for (const [name, value] of Object.entries(event)) {
    if (name === 'data' || name === 'datacontenttype' || value === undefined) continue;
    headers[`ce-${name}`] = percentEncode(String(value));
  }
  headers['content-type'] = event.datacontenttype;
  return { headers, body: JSON.stringify(event.data) };
}

export function toStructuredHttp(event: ProteusEvent): { headers: Record<string, string>; body: string } {
  return { headers: { 'content-type': `${STRUCTURED_CONTENT_TYPE}; charset=utf-8` }, body: JSON.stringify(event) };
}

/** Reads a CloudEvent from an HTTP request in either mode; throws EventValidationError. */
export function fromHttp(headers: Headers, body: string): ProteusEvent {
  const contentType = headers.get('content-type') ?? '';
  if (contentType.toLowerCase().startsWith(STRUCTURED_CONTENT_TYPE)) {
    return parseEvent(parseJson(body, 'structured CloudEvent'));
  }
  if (!headers.has('ce-specversion')) {
    throw new EventValidationError('not a CloudEvent: no ce-specversion header and not application/cloudevents+json', [
      { path: 'ce-specversion', message: 'required' },
    ]);
  }
  const event: Record<string, unknown> = {};
  headers.forEach((value, name) => {
    if (name.startsWith('ce-')) event[name.slice(3)] = percentDecode(name, value);
  });
  event.datacontenttype = contentType.split(';')[0]?.trim() || undefined;
  if (body.length) event.data = parseJson(body, 'event data');
  return parseEvent(event);
}

/**
 * The binding's header encoding: space, '"', '%' and everything outside printable ASCII become
 * UTF-8 %XX; the rest stays readable (`/proteus/api`, times). A bare space would also be trimmed at the ends.
 */
function percentEncode(value: string): string {
  return value.replace(/[^\x21\x23\x24\x26-\x7e]/gu, (c) => encodeURIComponent(c));
}

function percentDecode(header: string, value: string): string {
  try {
    return decodeURIComponent(value);
  } catch {
    throw new EventValidationError(`header ${header} is not valid percent-encoded UTF-8: ${JSON.stringify(value)}`, [
      { path: header, message: 'invalid percent-encoding' },
    ]);
  }
}

function parseJson(text: string, what: string): unknown {
  try {
    return JSON.parse(text);
  } catch (error) {
    throw new EventValidationError(`${what} is not valid JSON: ${(error as Error).message}`, [{ path: '(body)', message: 'invalid JSON' }]);
  }
}

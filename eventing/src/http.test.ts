import { describe, expect, it } from 'vitest';
import { validVectors } from '../test/vectors.ts';
import { EventValidationError, type ProteusEvent } from './events.ts';
import { fromHttp, STRUCTURED_CONTENT_TYPE, toBinaryHttp, toStructuredHttp } from './http.ts';

const vector = (name: string) => structuredClone(validVectors.find((v) => v.name === name)!.value) as ProteusEvent;

/** What a sink sees: the headers through the fetch `Headers` class (names lower-cased, values trimmed). */
function receive({ headers, body }: { headers: Record<string, string>; body: string }): ProteusEvent {
  return fromHttp(new Headers(headers), body);
}

/** An event with extension attributes added (the zod catchall type cannot express a spread). */
const extend = (event: ProteusEvent, extensions: Record<string, string | number | boolean>) => ({ ...event, ...extensions }) as ProteusEvent;

const binaryTick = () => toBinaryHttp(vector('arbitrator-tick'));

describe('CloudEvents over HTTP: round trips', () => {
  it.each(validVectors)('binary: $name comes back equal', ({ value }) => {
    expect(receive(toBinaryHttp(value as ProteusEvent))).toEqual(value);
  });

  it.each(validVectors)('structured: $name comes back equal', ({ value }) => {
    expect(receive(toStructuredHttp(value as ProteusEvent))).toEqual(value);
  });

  it('binary mode puts every attribute but data in ce- headers and the data in the body', () => {
    const event = vector('tryon-requested-full');
    const { headers, body } = toBinaryHttp(event);
    expect(Object.keys(headers).sort()).toEqual(
      ['ce-id', 'ce-source', 'ce-specversion', 'ce-subject', 'ce-time', 'ce-traceparent', 'ce-type', 'content-type'].sort(),
    );
    expect(headers['content-type']).toBe('application/json');
    expect(headers['ce-traceparent']).toBe(event.traceparent);
    expect(JSON.parse(body)).toEqual(event.data);
  });

  it('structured mode sends the whole event as application/cloudevents+json', () => {
    const event = vector('segment-requested');
    const { headers, body } = toStructuredHttp(event);
    expect(headers['content-type']).toBe(`${STRUCTURED_CONTENT_TYPE}; charset=utf-8`);
    expect(JSON.parse(body)).toEqual(event);
  });

  it('keeps string extension attributes in both modes', () => {
    const event = extend(vector('tryon-progress'), { partitionkey: 'user-u1', traceparent: '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01' });
    expect(receive(toBinaryHttp(event))).toEqual(event);
    expect(receive(toStructuredHttp(event))).toEqual(event);
  });

  it('binary mode carries number and boolean extensions as their string form (HTTP headers have no types)', () => {
    const event = extend(vector('tryon-progress'), { priority: 3, replay: true });
    expect(receive(toStructuredHttp(event))).toEqual(event);
    expect(receive(toBinaryHttp(event))).toEqual({ ...event, priority: '3', replay: 'true' });
  });

  it('keeps values with spaces (leading and trailing too), quotes, percent signs and unicode', () => {
    const subject = '  Jöb "50%" done ✓ 😀 100%25 ';
    const event = extend(vector('segment-completed'), { subject, note: 'a%20b c\u00e9' });
    const sent = toBinaryHttp(event);
    // the HTTP binding: space, '"', '%' and anything outside printable ASCII are percent-encoded
    for (const value of Object.values(sent.headers)) expect(value).toMatch(/^[\x21-\x7e]*$/);
    expect(sent.headers['ce-subject']).not.toMatch(/[ "]/);
    expect(receive(sent)).toEqual(event);
    expect(receive(toStructuredHttp(event))).toEqual(event);
  });

  it('percent-encodes exactly what the binding requires and leaves the rest readable', () => {
    const event = extend(vector('arbitrator-tick'), { subject: 'Euro € 😀', quoted: '"100%"', path: '/a:b?c=d&e#f~' });
    const { headers } = toBinaryHttp(event);
    // the spec's own example
    expect(headers['ce-subject']).toBe('Euro%20%E2%82%AC%20%F0%9F%98%80');
    expect(headers['ce-quoted']).toBe('%22100%25%22');
    expect(headers['ce-path']).toBe('/a:b?c=d&e#f~');
    expect(headers['ce-source']).toBe('/proteus/eventing');
    expect(headers['ce-time']).toBe('2026-11-29T01:00:00.000Z');
    expect(receive(toBinaryHttp(event))).toEqual(event);
  });

  it('accepts lower-case percent-encoding and needlessly encoded characters', () => {
    const { headers, body } = binaryTick();
    const event = receive({ headers: { ...headers, 'ce-subject': '%6a%c3%b6b' }, body });
    expect(event.subject).toBe('jöb');
  });

  it('takes the data content type from content-type without its parameters', () => {
    const { headers, body } = binaryTick();
    expect(receive({ headers: { ...headers, 'content-type': 'application/json; charset=utf-8' }, body })).toEqual(vector('arbitrator-tick'));
  });

  it('recognizes structured mode whatever the case of the content type', () => {
    const { body } = toStructuredHttp(vector('arbitrator-tick'));
    expect(receive({ headers: { 'content-type': 'Application/CloudEvents+JSON; charset=UTF-8' }, body })).toEqual(vector('arbitrator-tick'));
  });
});

describe('CloudEvents over HTTP: rejects', () => {
  it('a request with no ce-specversion that is not structured', () => {
    const { headers, body } = binaryTick();
    const { 'ce-specversion': _, ...withoutVersion } = headers;
    expect(() => receive({ headers: withoutVersion, body })).toThrow(EventValidationError);
    expect(() => receive({ headers: withoutVersion, body })).toThrow(/no ce-specversion header and not application\/cloudevents\+json/);
    expect(() => receive({ headers: { 'content-type': 'application/json' }, body: JSON.stringify(vector('arbitrator-tick')) })).toThrow(/not a CloudEvent/);
  });

  it('a binary body that is not JSON', () => {
    const { headers } = binaryTick();
    expect(() => receive({ headers, body: '{"seq": 1,' })).toThrow(EventValidationError);
    expect(() => receive({ headers, body: '{"seq": 1,' })).toThrow(/event data is not valid JSON/);
  });

  it('a structured body that is not JSON', () => {
    const { headers } = toStructuredHttp(vector('arbitrator-tick'));
    expect(() => receive({ headers, body: 'specversion=1.0' })).toThrow(EventValidationError);
    expect(() => receive({ headers, body: 'specversion=1.0' })).toThrow(/structured CloudEvent is not valid JSON/);
  });

  it('a valid envelope whose data breaks the contract, naming the field (binary)', () => {
    const event = vector('tryon-requested-minimal');
    const { headers } = toBinaryHttp(event);
    const body = JSON.stringify({ ...event.data, seed: -1 });
    expect(() => receive({ headers, body })).toThrow(/invalid dev\.proteus\.tryon\.requested event: data\.seed/);
  });

  it('a valid envelope whose data breaks the contract, naming the field (structured)', () => {
    const event = vector('segment-requested');
    const bad = { ...event, data: { ...event.data, purpose: 'hat' } } as unknown as ProteusEvent;
    expect(() => receive(toStructuredHttp(bad))).toThrow(/invalid dev\.proteus\.segment\.requested event: data\.purpose/);
  });

  it('a binary event without a body, naming data', () => {
    const { headers } = binaryTick();
    expect(() => receive({ headers, body: '' })).toThrow(/invalid dev\.proteus\.arbitrator\.tick event: data/);
  });

  it('a binary event without content-type, naming datacontenttype', () => {
    const { headers, body } = binaryTick();
    const { 'content-type': _, ...rest } = headers;
    expect(() => receive({ headers: rest, body })).toThrow(/datacontenttype/);
  });

  it('an unknown type in either mode, listing the known ones', () => {
    const { headers, body } = binaryTick();
    expect(() => receive({ headers: { ...headers, 'ce-type': 'dev.proteus.nope' }, body })).toThrow(
      /unknown event type "dev\.proteus\.nope"; expected one of .*dev\.proteus\.arbitrator\.tick/,
    );
    const structured = { ...vector('arbitrator-tick'), type: 'dev.proteus.nope' } as unknown as ProteusEvent;
    expect(() => receive(toStructuredHttp(structured))).toThrow(/unknown event type "dev\.proteus\.nope"/);
  });

  it('a header that is not valid percent-encoded UTF-8, naming the header', () => {
    const { headers, body } = binaryTick();
    for (const bad of ['50%', '%E2%82', '%C0%A0']) {
      expect(() => receive({ headers: { ...headers, 'ce-subject': bad }, body })).toThrow(EventValidationError);
      expect(() => receive({ headers: { ...headers, 'ce-subject': bad }, body })).toThrow(/header ce-subject is not valid percent-encoded UTF-8/);
    }
  });
});

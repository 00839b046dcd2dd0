import type { ObjectStorage } from '@proteus/common/storage';
import { describe, expect, it } from 'vitest';
import { cursorField, encodeCursor } from './cursor.ts';
import { canonicalJson, isIdempotencyConflict, requestHash } from './idempotency.ts';
import { keyOfReference } from './references.ts';

describe('canonicalJson and requestHash', () => {
  it('ignores key order and spacing at every depth, not array order', () => {
    expect(canonicalJson({ b: 1, a: { d: [2, { y: 1, x: 0 }], c: null } })).toBe('{"a":{"c":null,"d":[2,{"x":0,"y":1}]},"b":1}');
    expect(requestHash('POST', '/api/snap', { a: 1, b: 2 })).toBe(requestHash('post', '/api/snap', JSON.parse('{ "b": 2, "a": 1 }')));
    expect(requestHash('POST', '/api/snap', [1, 2])).not.toBe(requestHash('POST', '/api/snap', [2, 1]));
    expect(requestHash('POST', '/api/snap', {})).not.toBe(requestHash('POST', '/api/upload/cloth', {}));
  });

  it('knows the unique violation of (user_id, idempotency_key) only', () => {
    expect(isIdempotencyConflict({ code: '23505', constraint: 'jobs_user_idempotency_key' })).toBe(true);
    expect(isIdempotencyConflict({ code: '23505', constraint: 'jobs_pkey' })).toBe(false);
    expect(isIdempotencyConflict({ code: '23503' })).toBe(false);
    expect(isIdempotencyConflict(null)).toBe(false);
  });
});

describe('keyOfReference', () => {
  const storage = { bucket: 'proteus', config: { endpoint: 'http://127.0.0.1:8333' } } as ObjectStorage;
  const key = 'users/u1/person/p1.jpg';

  it.each([
    [key, key],
    [`http://127.0.0.1:8333/proteus/${key}`, key],
    [`http://127.0.0.1:8333/proteus/${key}?X-Amz-Signature=abc&X-Amz-Expires=300`, key],
    [`http://127.0.0.1:8333/proteus/${key.replace('/', '%2F')}`, key],
    [`http://127.0.0.1:8334/proteus/${key}`, undefined],
    [`https://evil.example/proteus/${key}`, undefined],
    [`http://user:pw@127.0.0.1:8333/proteus/${key}`, undefined],
    [`http://127.0.0.1:8333/other/${key}`, undefined],
    ['http://127.0.0.1:8333/proteus/users/u1/person/../x.jpg', undefined],
    ['http://127.0.0.1:8333/proteus/%E0%A4%A', undefined],
    ['users/u1/person/p1.gif', undefined],
    ['not a url', undefined],
  ])('%s -> %s', (reference, expected) => {
    expect(keyOfReference(storage, reference)).toBe(expected);
  });
});

describe('cursorField', () => {
  it('round-trips a position and refuses anything else', () => {
    const position = { at: '2025-01-02T03:04:05.123456Z', id: 'abc' };
    expect(cursorField.parse(encodeCursor(position))).toEqual(position);
    for (const bad of ['', 'abc', encodeCursor({ at: '2025-01-02', id: 'x' }), Buffer.from('[1,2]').toString('base64url')]) {
      expect(cursorField.safeParse(bad).success).toBe(false);
    }
  });
});

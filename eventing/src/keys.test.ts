import { describe, expect, it } from 'vitest';
import {
  config,
  isUploadKey,
  objectKey,
  objectKeyPattern,
  rateLimit,
  streamGroups,
  streams,
  userPrefix,
  verifiedObjectKey,
  worker,
  workerHeartbeat,
} from './keys.ts';

describe('keys', () => {
  it('are the names of ARCHITECTURE section 3', () => {
    expect(streams).toEqual({ jobs: 'queue:jobs', segment: 'queue:segment', lifecycle: 'events:jobs', dead: 'queue:dead' });
    expect(streamGroups).toEqual({ 'queue:jobs': 'weavers', 'queue:segment': 'tailors', 'events:jobs': 'recorders' });
    expect(Object.values(config)).toEqual(['config:batch_size', 'config:degraded_mode', 'config:mode', 'config:policy']);
    expect(worker).toEqual({ profile: 'worker:profile' });
  });

  it('builds object keys under the owner prefix and checks them', () => {
    const key = objectKey('u1', 'results', 'job-1', 'png');
    expect(key).toBe('users/u1/results/job-1.png');
    expect(key.startsWith(userPrefix('u1'))).toBe(true);
    expect(objectKeyPattern.test(key)).toBe(true);
    expect(objectKeyPattern.test('users/u1/results/../x.png')).toBe(false);
    expect(objectKeyPattern.test('users/u1/other/x.png')).toBe(false);
  });

  it.each([
    ['..', 'id'],
    ['a/b', 'id'],
    ['', 'id'],
    ['-x', 'id'],
    ['x'.repeat(129), 'id'],
  ])('rejects the unsafe id %j', (bad) => {
    expect(() => objectKey('u1', 'results', bad, 'png')).toThrow(/id .* must match/);
    expect(() => objectKey(bad, 'results', 'j', 'png')).toThrow(/userId .* must match/);
    expect(() => workerHeartbeat(bad)).toThrow(/consumer .* must match/);
    expect(() => rateLimit('user', bad)).toThrow(/id .* must match/);
  });

  it('builds rate-limit keys per scope and rejects unknown scopes', () => {
    expect(rateLimit('user', 'u1')).toBe('ratelimit:user:u1');
    expect(rateLimit('login-ip', 'ab12')).toBe('ratelimit:login-ip:ab12');
    expect(() => rateLimit('global' as never, 'x')).toThrow(/rate limit scope "global"/);
  });

  it('rejects unknown kinds and extensions', () => {
    expect(() => objectKey('u1', 'secrets' as never, 'a', 'png')).toThrow(/object kind "secrets"/);
    expect(() => objectKey('u1', 'results', 'a', 'exe' as never)).toThrow(/extension "exe"/);
  });

  it('puts the verified copy of an upload beside it, at a key no upload gets, and leaves other keys as they are', () => {
    const upload = objectKey('u1', 'person', '0b7c4a4e-1d7e-4c39-9d3e-2b8f7f0a1c22', 'jpg');
    const clean = verifiedObjectKey(upload);
    expect(clean).toBe('users/u1/person/0b7c4a4e-1d7e-4c39-9d3e-2b8f7f0a1c22_verified.jpg');
    expect(objectKeyPattern.test(clean)).toBe(true);
    expect([isUploadKey(upload), isUploadKey(clean)]).toEqual([true, false]);
    expect(verifiedObjectKey(clean)).toBe(clean);
    const cut = objectKey('u1', 'cloth_clean', 'j1', 'png');
    expect([isUploadKey(cut), verifiedObjectKey(cut)]).toEqual([false, cut]);
    expect(() => verifiedObjectKey('users/u1/../x.png')).toThrow(/not an object key/);
    expect(isUploadKey('garment/x.jpg')).toBe(false);
  });
});

import { describe, expect, it } from 'vitest';
import { config, objectKey, objectKeyPattern, rateLimit, streamGroups, streams, userPrefix, workerHeartbeat } from './keys.ts';

describe('keys', () => {
  it('are the names of ARCHITECTURE section 3', () => {
    expect(streams).toEqual({ jobs: 'queue:jobs', segment: 'queue:segment', lifecycle: 'events:jobs', dead: 'queue:dead' });
    expect(streamGroups).toEqual({ 'queue:jobs': 'weavers', 'queue:segment': 'tailors', 'events:jobs': 'recorders' });
    expect(Object.values(config)).toEqual(['config:batch_size', 'config:degraded_mode', 'config:mode', 'config:policy']);
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
});

import { loadConfig } from '@proteus/common';
import { describe, expect, it } from 'vitest';
import { ceOverrides, streamSourceConfigSchema } from './source-config.ts';

const base = { REDIS_URL: 'redis://127.0.0.1:6379', API_URL: 'http://api', TAILOR_URL: 'http://segment' };

describe('stream source settings', () => {
  it('defaults to binary mode, the routes own in-flight limits, 30 s reclaim and an 8 s stop deadline', () => {
    const config = loadConfig('stream-source', streamSourceConfigSchema, base);
    expect(config).toMatchObject({ STREAM_SOURCE_MODE: 'binary', STREAM_SOURCE_RECLAIM_IDLE_MS: 30_000, STREAM_SOURCE_STOP_DEADLINE_MS: 8000 });
    expect(config.STREAM_SOURCE_IN_FLIGHT).toBeUndefined();
  });

  it.each([
    [{ STREAM_SOURCE_MODE: 'batch' }, /STREAM_SOURCE_MODE: expected binary or structured/],
    [{ STREAM_SOURCE_IN_FLIGHT: '0' }, /STREAM_SOURCE_IN_FLIGHT: expected a number above 0/],
    [{ STREAM_SOURCE_RECLAIM_IDLE_MS: 'soon' }, /STREAM_SOURCE_RECLAIM_IDLE_MS/],
    [{ K_SINK: 'http://sink' }, /K_SINK: K_SINK needs exactly one route/],
    [{ K_CE_OVERRIDES: 'not json' }, /K_CE_OVERRIDES: expected JSON like/],
  ])('rejects %j', (bad, message) => {
    expect(() => loadConfig('stream-source', streamSourceConfigSchema, { ...base, ...bad })).toThrow(message);
  });
});

describe('K_CE_OVERRIDES', () => {
  it('reads the extensions Knative injects', () => {
    expect(ceOverrides.parse('{"extensions":{"cluster":"lke-1","zone":"eu2"}}')).toEqual({ cluster: 'lke-1', zone: 'eu2' });
    expect(ceOverrides.parse('{}')).toEqual({});
  });

  it.each([
    ['{"extensions":{"id":"x"}}', /core attribute/],
    ['{"extensions":{"Bad-Name":"x"}}', /lowercase letters and digits/],
    ['{"extensions":{"n":1}}', /string/],
    ['[1]', /expected JSON like/],
  ])('rejects %s', (text, message) => {
    expect(() => ceOverrides.parse(text)).toThrow(message);
  });
});

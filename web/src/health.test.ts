import { describe, expect, it } from 'vitest';
import { checkRows, updatesUrl } from './health.ts';

describe('checkRows', () => {
  it('labels each dependency and shows the error of a failing one', () => {
    const rows = checkRows({
      status: 'error',
      part: 'api',
      checks: {
        redis: { status: 'ok', latencyMs: 1, detail: 'PONG' },
        worker: { status: 'error', latencyMs: 2, error: 'no gpu-worker heartbeat' },
      },
    });
    expect(rows).toEqual([
      { name: 'Redis', ok: true, text: 'PONG · 1 ms' },
      { name: 'GPU worker', ok: false, text: 'no gpu-worker heartbeat' },
    ]);
  });
});

describe('updatesUrl', () => {
  it('uses wss on https and ws on http, same host', () => {
    expect(updatesUrl({ protocol: 'https:', host: 'shop.example' })).toBe('wss://shop.example/updates');
    expect(updatesUrl({ protocol: 'http:', host: 'localhost:8080' })).toBe('ws://localhost:8080/updates');
  });
});

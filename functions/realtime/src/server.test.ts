import { isolatedRedisUrl } from '@proteus/testkit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { logLine, occupiedPort, runServer, startServer } from '../test/spawn.ts';

let goodEnv: Record<string, string>;
const cleanups: (() => unknown)[] = [];
beforeAll(async () => {
  goodEnv = { REDIS_URL: await isolatedRedisUrl(), HOST: '127.0.0.1', PORT: '0', ALLOWED_ORIGINS: 'http://shop.example' };
});
afterAll(async () => {
  for (const c of cleanups.reverse()) await c();
});

describe('realtime server.ts', () => {
  it.each([
    ['REDIS_URL', { REDIS_URL: 'http://x' }],
    ['PORT', { PORT: 'abc' }],
    ['ALLOWED_ORIGINS', { ALLOWED_ORIGINS: 'shop.example/path' }],
    ['HEARTBEAT_MS', { HEARTBEAT_MS: '0' }],
  ])(
    'exits 2 naming %s when given %o',
    async (name, bad) => {
      const { code, stderr } = await runServer({ ...goodEnv, ...bad });
      expect(code).toBe(2);
      expect(stderr).toContain('realtime: invalid configuration');
      expect(stderr).toContain(`${name}:`);
    },
    30_000,
  );

  it('exits 1 saying the port is in use when PORT is taken', async () => {
    const taken = await occupiedPort();
    cleanups.push(taken.close);
    const { code, stdout, stderr } = await runServer({ ...goodEnv, PORT: String(taken.port) });
    expect(code).toBe(1);
    expect(stdout + stderr).toContain(`port ${taken.port} on 127.0.0.1 is already in use`);
  }, 30_000);

  it('starts, says hello on /updates, and exits 0 on SIGTERM', async () => {
    const started = startServer(goodEnv);
    cleanups.push(() => started.child.exitCode === null && started.child.kill('SIGKILL'));
    const { url } = await logLine(started, 'listening');
    const socket = new WebSocket(`${String(url).replace('http', 'ws')}/updates`, { origin: 'http://shop.example' });
    const hello = await new Promise<string>((resolve, reject) => {
      socket.once('message', (data) => resolve(data.toString()));
      socket.once('error', reject);
    });
    expect(JSON.parse(hello)).toEqual({ type: 'hello', authenticated: false });
    const closed = new Promise<number>((resolve) => socket.once('close', (code) => resolve(code)));
    started.child.kill('SIGTERM');
    // the server says goodbye with 1001 (going away) before it exits
    expect(await closed).toBe(1001);
    expect(await started.exited).toEqual({ code: 0, signal: null });
  }, 30_000);
});

import { join } from 'node:path';
import { isolatedRedisUrl, serverProcessSuite } from '@proteus/testkit';
import { expect } from 'vitest';
import WebSocket from 'ws';

serverProcessSuite({
  part: 'realtime',
  packageDir: join(import.meta.dirname, '..'),
  goodEnv: async () => ({
    REDIS_URL: await isolatedRedisUrl(),
    HOST: '127.0.0.1',
    PORT: '0',
    ALLOWED_ORIGINS: 'http://shop.example',
    JWT_SECRET: 'server-test-secret-of-at-least-32-characters',
  }),
  badEnvs: [
    ['REDIS_URL', { REDIS_URL: 'http://x' }],
    ['PORT', { PORT: 'abc' }],
    ['ALLOWED_ORIGINS', { ALLOWED_ORIGINS: 'shop.example/path' }],
    ['HEARTBEAT_MS', { HEARTBEAT_MS: '0' }],
    ['JWT_SECRET', { JWT_SECRET: 'short' }],
    ['MAX_BUFFERED_BYTES', { MAX_BUFFERED_BYTES: '-1' }],
  ],
  healthPath: '/health',
  // says hello on /updates, and on SIGTERM says goodbye with 1001 (going away) before it exits
  async whileRunning(url) {
    const socket = new WebSocket(`${url.replace('http', 'ws')}/updates`, { origin: 'http://shop.example' });
    const hello = await new Promise<string>((resolve, reject) => {
      socket.once('message', (data) => resolve(data.toString()));
      socket.once('error', reject);
    });
    expect(JSON.parse(hello)).toEqual({ type: 'hello', authenticated: false });
    const closed = new Promise<number>((resolve) => socket.once('close', (code) => resolve(code)));
    return async () => expect(await closed).toBe(1001);
  },
});

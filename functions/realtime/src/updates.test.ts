import { createLogger, createRedis, listen } from '@proteus/common';
import { keys } from '@proteus/eventing';
import { isolatedRedisUrl, waitFor } from '@proteus/testkit';
import type { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { createApp } from './app.ts';
import { createUpdates } from './updates.ts';

const ALLOWED = 'http://shop.example';
const TEST_SECRET = 'realtime-test-secret-of-32-characters-or-more';
const cleanups: (() => unknown)[] = [];
afterAll(async () => {
  for (const c of cleanups.reverse()) await c();
});

let redisUrl: string;
let publisher: Redis;
beforeAll(async () => {
  redisUrl = await isolatedRedisUrl();
  publisher = createRedis(redisUrl, 'realtime-test-pub');
  cleanups.push(() => publisher.disconnect());
});

/** The realtime server as server.ts wires it, on a free port. */
async function startRealtime({ heartbeatMs = 25_000 } = {}) {
  const lines: Record<string, unknown>[] = [];
  const log = createLogger('realtime', { level: 'debug', write: (line: string) => lines.push(JSON.parse(line) as Record<string, unknown>) });
  const redis = createRedis(redisUrl, 'realtime-test');
  const subscriber = createRedis(redisUrl, 'realtime-test-sub');
  const updates = createUpdates({ subscriber, allowedOrigins: [ALLOWED], heartbeatMs, log, jwtSecret: TEST_SECRET });
  await updates.start();
  const server = await listen(createApp({ redis, updates, log }), { port: 0, host: '127.0.0.1', part: 'realtime' });
  server.server.on('upgrade', updates.handleUpgrade);
  cleanups.push(async () => {
    await updates.close();
    await server.close();
    subscriber.disconnect();
    redis.disconnect();
  });
  return { url: server.url, wsUrl: server.url.replace('http', 'ws'), updates, lines };
}

/** Opens a socket and collects its messages; resolves once open. */
async function connect(url: string, options: WebSocket.ClientOptions = {}) {
  const socket = new WebSocket(url, options);
  const messages: string[] = [];
  socket.on('message', (data) => messages.push(data.toString()));
  const closed = new Promise<number>((resolve) => socket.once('close', (code) => resolve(code)));
  cleanups.push(() => socket.terminate());
  await new Promise<void>((resolve, reject) => {
    socket.once('open', () => resolve());
    socket.once('error', reject);
  });
  return { socket, messages, closed };
}

/** The HTTP status an upgrade was refused with. */
function refusal(url: string, options: WebSocket.ClientOptions = {}): Promise<number> {
  return new Promise((resolve, reject) => {
    const socket = new WebSocket(url, options);
    socket.once('unexpected-response', (_req, res) => {
      resolve(res.statusCode ?? 0);
      socket.terminate();
    });
    socket.once('open', () => reject(new Error('the upgrade was accepted')));
    socket.on('error', () => {});
  });
}

describe('/updates WebSocket', () => {
  let realtime: Awaited<ReturnType<typeof startRealtime>>;
  beforeAll(async () => {
    realtime = await startRealtime();
  });

  it('greets a socket from an allowed origin as unauthenticated', async () => {
    const { messages } = await connect(`${realtime.wsUrl}/updates`, { origin: ALLOWED });
    await waitFor(() => messages.length > 0, { what: 'hello' });
    expect(messages.map((m) => JSON.parse(m))).toEqual([{ type: 'hello', authenticated: false }]);
  });

  it('accepts a client that sends no Origin (not a browser)', async () => {
    const { messages } = await connect(`${realtime.wsUrl}/updates`);
    await waitFor(() => messages.length > 0, { what: 'hello' });
    expect(JSON.parse(messages[0] ?? '')).toEqual({ type: 'hello', authenticated: false });
  });

  it('refuses an origin not allowed with 403 and logs it', async () => {
    expect(await refusal(`${realtime.wsUrl}/updates`, { origin: 'http://evil.example' })).toBe(403);
    expect(realtime.lines.some((l) => l.msg === 'refused a socket from an origin not allowed' && l.origin === 'http://evil.example')).toBe(true);
  });

  it.each(['/', '/update', '/updates/x', '/api/updates'])('refuses an upgrade on %s with 404', async (path) => {
    expect(await refusal(`${realtime.wsUrl}${path}`, { origin: ALLOWED })).toBe(404);
  });

  it('reports /health ok with the subscription and the socket count', async () => {
    const response = await fetch(`${realtime.url}/health`);
    expect(response.status).toBe(200);
    const report = (await response.json()) as { status: string; checks: Record<string, { status: string; detail?: string }> };
    expect(report.status).toBe('ok');
    expect(report.checks.redis?.status).toBe('ok');
    expect(report.checks.subscription).toMatchObject({ status: 'ok', detail: `${realtime.updates.sockets} sockets, 0 authenticated` });
  });

  it('delivers a job update to no anonymous socket', async () => {
    const { messages } = await connect(`${realtime.wsUrl}/updates`, { origin: ALLOWED });
    await waitFor(() => messages.length === 1, { what: 'hello' });
    const receivers = await publisher.publish(keys.channels.jobDone, JSON.stringify({ userId: 'u1', job_id: 'j1', status: 'completed' }));
    expect(receivers).toBeGreaterThanOrEqual(1);
    await new Promise((r) => setTimeout(r, 300));
    expect(messages).toHaveLength(1);
  });

  it('survives malformed publishes and keeps serving', async () => {
    const { socket, messages } = await connect(`${realtime.wsUrl}/updates`, { origin: ALLOWED });
    for (const bad of ['not json', 'null', '"a string"', '[]', '{"userId":{"nested":true}}', '']) await publisher.publish(keys.channels.jobDone, bad);
    await waitFor(() => realtime.lines.filter((l) => l.msg === 'dropped a malformed update').length >= 1, { what: 'the malformed update to be dropped' });
    expect(socket.readyState).toBe(WebSocket.OPEN);
    expect((await fetch(`${realtime.url}/health`)).status).toBe(200);
    const again = await connect(`${realtime.wsUrl}/updates`, { origin: ALLOWED });
    await waitFor(() => again.messages.length === 1, { what: 'hello on a new socket' });
    expect(messages).toHaveLength(1);
  });
});

describe('heartbeat', () => {
  it('terminates a socket that does not answer pings, and keeps one that does', async () => {
    const realtime = await startRealtime({ heartbeatMs: 100 });
    const silent = await connect(`${realtime.wsUrl}/updates`, { origin: ALLOWED, autoPong: false });
    const answering = await connect(`${realtime.wsUrl}/updates`, { origin: ALLOWED });
    let pings = 0;
    silent.socket.on('ping', () => pings++);
    // terminated without a close frame: 1006
    expect(await silent.closed).toBe(1006);
    expect(pings).toBeGreaterThanOrEqual(1);
    await new Promise((r) => setTimeout(r, 300));
    expect(answering.socket.readyState).toBe(WebSocket.OPEN);
    await waitFor(() => realtime.updates.sockets === 1, { what: 'one socket left' });
  });
});

describe('/health before the subscription', () => {
  it('is 503 with the subscription failing', async () => {
    const log = createLogger('realtime', { write: () => undefined });
    const redis = createRedis(redisUrl, 'realtime-test');
    const subscriber = createRedis(redisUrl, 'realtime-test-sub');
    cleanups.push(() => {
      subscriber.disconnect();
      redis.disconnect();
    });
    const updates = createUpdates({ subscriber, allowedOrigins: [ALLOWED], heartbeatMs: 25_000, log, jwtSecret: TEST_SECRET });
    cleanups.push(() => updates.close());
    const response = await createApp({ redis, updates, log }).request('/health');
    expect(response.status).toBe(503);
    expect(await response.json()).toMatchObject({ status: 'error', checks: { subscription: { status: 'error', error: 'not subscribed to updates' } } });
  });

  it('answers other paths with a 404 problem', async () => {
    const log = createLogger('realtime', { write: () => undefined });
    const redis = createRedis(redisUrl, 'realtime-test');
    cleanups.push(() => redis.disconnect());
    const updates = createUpdates({ subscriber: redis, allowedOrigins: [], heartbeatMs: 25_000, log, jwtSecret: TEST_SECRET });
    cleanups.push(() => updates.close());
    const response = await createApp({ redis, updates, log }).request('/updates');
    expect(response.status).toBe(404);
    expect(response.headers.get('content-type')).toBe('application/problem+json');
  });
});

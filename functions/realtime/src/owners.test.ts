/**
 * Delivery to owners: sockets authenticate with an access token (first message or subprotocol,
 * never the URL), and each event reaches every socket of its owner on every replica, and no one
 * else. Real Redis Pub/Sub, two replicas, two users.
 */
import { createLogger, createRedis, listen } from '@proteus/common';
import { keys } from '@proteus/eventing';
import { isolatedRedisUrl, uniqueName, waitFor } from '@proteus/testkit';
import { sign } from 'hono/jwt';
import type { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { createApp } from './app.ts';
import { CLOSE_TOO_SLOW, CLOSE_UNAUTHORIZED, createUpdates, PROTOCOL } from './updates.ts';

const SECRET = 'owners-test-secret-of-at-least-32-characters';
const ORIGIN = 'http://shop.example';
const cleanups: (() => unknown)[] = [];
afterAll(async () => {
  for (const c of cleanups.reverse()) await c();
});

let redisUrl: string;
let publisher: Redis;
beforeAll(async () => {
  redisUrl = await isolatedRedisUrl();
  publisher = createRedis(redisUrl, 'owners-test-pub');
  cleanups.push(() => publisher.disconnect());
});

const now = () => Math.floor(Date.now() / 1000);
const token = (sub: string, claims: Record<string, unknown> = {}, secret = SECRET) =>
  sign({ sub, role: 'user', typ: 'access', iat: now(), exp: now() + 600, ...claims }, secret, 'HS256');

async function replica(options: { authTimeoutMs?: number; maxBufferedBytes?: number; subscriberName?: string } = {}) {
  const log = createLogger('realtime', { level: 'error', write: () => true });
  const redis = createRedis(redisUrl, 'owners-test');
  const subscriber = createRedis(redisUrl, options.subscriberName ?? 'owners-test-sub');
  const updates = createUpdates({ subscriber, allowedOrigins: [ORIGIN], heartbeatMs: 25_000, log, jwtSecret: SECRET, ...options });
  await updates.start();
  const server = await listen(createApp({ redis, updates, log }), { port: 0, host: '127.0.0.1', part: 'realtime' });
  server.server.on('upgrade', updates.handleUpgrade);
  cleanups.push(async () => {
    await updates.close();
    await server.close();
    subscriber.disconnect();
    redis.disconnect();
  });
  return { wsUrl: `${server.url.replace('http', 'ws')}/updates`, updates };
}

interface Client {
  socket: WebSocket;
  messages: Record<string, unknown>[];
  closed: Promise<{ code: number; reason: string }>;
}

function open(url: string, protocols: string[] = []): Client {
  const socket = new WebSocket(url, protocols, { origin: ORIGIN });
  const messages: Record<string, unknown>[] = [];
  socket.on('message', (data) => messages.push(JSON.parse(data.toString()) as Record<string, unknown>));
  const closed = new Promise<{ code: number; reason: string }>((resolve) =>
    socket.once('close', (code, reason) => resolve({ code, reason: reason.toString() })),
  );
  cleanups.push(() => socket.terminate());
  return { socket, messages, closed };
}

/** A socket authenticated by its first message. */
async function authed(url: string, userId: string): Promise<Client> {
  const client = open(url);
  await new Promise<void>((resolve, reject) => {
    client.socket.once('open', () => resolve());
    client.socket.once('error', reject);
  });
  client.socket.send(JSON.stringify({ type: 'auth', token: await token(userId) }));
  await waitFor(() => client.messages.some((m) => m.type === 'ready'), { what: `${userId} ready` });
  return client;
}

const publish = (userId: string, jobId: string) =>
  publisher.publish(keys.channels.jobDone, JSON.stringify({ type: 'job', userId, job_id: jobId, status: 'completed', result_url: null }));
const jobsOf = (client: Client) => client.messages.filter((m) => m.type === 'job').map((m) => m.job_id);

describe('owners', () => {
  it('tells every owned socket to resync when its subscription comes back after Redis dropped it', async () => {
    const subscriberName = uniqueName('owners-test-sub');
    const r = await replica({ subscriberName });
    const alice = uniqueName('alice');
    const client = await authed(r.wsUrl, alice);
    const anonymous = open(r.wsUrl);
    // the subscriber's connection cut, as by a Redis restart; ioredis reconnects and resubscribes
    const killer = createRedis(redisUrl, 'owners-test-killer');
    cleanups.push(() => killer.disconnect());
    const list = String(await killer.client('LIST'));
    const id = list
      .split('\n')
      .find((line) => line.includes(`name=${subscriberName} `))
      ?.match(/id=(\d+)/)?.[1];
    expect(id).toBeDefined();
    await killer.client('KILL', 'ID', id as string);
    await waitFor(() => client.messages.some((m) => m.type === 'resync'), { what: 'a resync notice' });
    expect(anonymous.messages.some((m) => m.type === 'resync')).toBe(false);
    // and it is subscribed again: the next update arrives
    await waitFor(
      async () => {
        await publish(alice, 'after');
        return jobsOf(client).includes('after');
      },
      { what: 'an update after the resubscription', intervalMs: 200 },
    );
  });

  it('two users on two replicas each receive exactly their own events, on every socket they have', async () => {
    const [a, b] = [await replica(), await replica()];
    const [alice, bob] = [uniqueName('alice'), uniqueName('bob')];
    const alice1 = await authed(a.wsUrl, alice);
    const alice2 = await authed(b.wsUrl, alice);
    const bob1 = await authed(b.wsUrl, bob);
    for (let i = 0; i < 5; i++) {
      await publish(alice, `a${i}`);
      await publish(bob, `b${i}`);
    }
    const aliceJobs = ['a0', 'a1', 'a2', 'a3', 'a4'];
    const bobJobs = ['b0', 'b1', 'b2', 'b3', 'b4'];
    await waitFor(() => jobsOf(alice1).length === 5 && jobsOf(alice2).length === 5 && jobsOf(bob1).length === 5, { what: 'all deliveries' });
    await new Promise((r) => setTimeout(r, 200));
    expect(jobsOf(alice1)).toEqual(aliceJobs);
    expect(jobsOf(alice2)).toEqual(aliceJobs);
    expect(jobsOf(bob1)).toEqual(bobJobs);
  });

  it('authenticates with the subprotocol and answers proteus.v1, never echoing the token', async () => {
    const { wsUrl } = await replica();
    const user = uniqueName('sub');
    const client = open(wsUrl, [PROTOCOL, `proteus.bearer.${await token(user)}`]);
    await waitFor(() => client.messages.some((m) => m.type === 'ready'), { what: 'ready' });
    expect(client.socket.protocol).toBe(PROTOCOL);
    await publish(user, 'j1');
    await waitFor(() => jobsOf(client).length === 1, { what: 'the event' });
  });

  it.each([
    ['a wrong signature', () => token('u', {}, 'another-secret-of-at-least-32-characters!!')],
    ['an expired token', () => token('u', { exp: now() - 10 })],
    ['no exp', () => token('u', { exp: undefined })],
    ['a refresh token', () => token('u', { typ: 'refresh' })],
    [
      'alg none',
      async () =>
        `${Buffer.from('{"alg":"none","typ":"JWT"}').toString('base64url')}.${Buffer.from(JSON.stringify({ sub: 'u', typ: 'access', exp: now() + 60 })).toString('base64url')}.`,
    ],
    ['not a token', async () => 'hello'],
    ['no role', () => token('u', { role: undefined })],
  ])('closes with 4401 on %s', async (_name, make) => {
    const { wsUrl } = await replica();
    const client = open(wsUrl);
    await new Promise<void>((resolve) => client.socket.once('open', () => resolve()));
    client.socket.send(JSON.stringify({ type: 'auth', token: await make() }));
    expect((await client.closed).code).toBe(CLOSE_UNAUTHORIZED);
    expect(client.messages.some((m) => m.type === 'ready')).toBe(false);
  });

  it('closes with 4401 when no auth comes in time, or the first message is something else', async () => {
    const { wsUrl } = await replica({ authTimeoutMs: 200 });
    const silent = open(wsUrl);
    expect(await silent.closed).toEqual({ code: CLOSE_UNAUTHORIZED, reason: 'no auth message in time' });
    const chatty = open(wsUrl);
    await new Promise<void>((resolve) => chatty.socket.once('open', () => resolve()));
    chatty.socket.send('{"type":"subscribe"}');
    expect((await chatty.closed).code).toBe(CLOSE_UNAUTHORIZED);
  });

  it('ignores a token in the URL', async () => {
    const { wsUrl } = await replica({ authTimeoutMs: 300 });
    const client = open(`${wsUrl}?token=${await token('u')}`);
    expect((await client.closed).code).toBe(CLOSE_UNAUTHORIZED);
    expect(client.messages.map((m) => m.type)).toEqual(['hello']);
  });

  it('closes the socket when its token expires', async () => {
    const { wsUrl } = await replica();
    const client = open(wsUrl);
    await new Promise<void>((resolve) => client.socket.once('open', () => resolve()));
    client.socket.send(JSON.stringify({ type: 'auth', token: await token('u', { exp: now() + 1 }) }));
    expect(await client.closed).toEqual({ code: CLOSE_UNAUTHORIZED, reason: 'token expired' });
  });

  it('cuts off a client that does not read, and the others still get every event', async () => {
    const { wsUrl } = await replica({ maxBufferedBytes: 64 * 1024 });
    const user = uniqueName('slow');
    const fast = await authed(wsUrl, user);
    const slow = await authed(wsUrl, user);
    // stop reading: the socket's kernel buffers fill, then the server's queue grows
    (slow.socket as unknown as { _socket: { pause(): void } })._socket.pause();
    const big = 'x'.repeat(16 * 1024);
    for (let i = 0; i < 400; i++) {
      await publisher.publish(keys.channels.jobDone, JSON.stringify({ type: 'job', userId: user, job_id: `j${i}`, pad: big }));
    }
    await waitFor(() => jobsOf(fast).length === 400, { timeoutMs: 15_000, what: 'the fast client to get all 400' });
    (slow.socket as unknown as { _socket: { resume(): void } })._socket.resume();
    const { code } = await slow.closed;
    expect([CLOSE_TOO_SLOW, 1006]).toContain(code);
    expect(jobsOf(slow).length).toBeLessThan(400);
  }, 30_000);
});

/**
 * `/updates`: the WebSocket that delivers job events to their owner. It subscribes to
 * `events:job_done` (any replica may deliver any event) and sends each event to the sockets
 * of its owner only.
 *
 * A socket proves its owner without putting the token in the URL (where logs keep it): either
 * its first message is `{"type":"auth","token":"<access token>"}`, or it offers the subprotocols
 * `proteus.v1` and `proteus.bearer.<access token>` (the server answers with `proteus.v1`).
 * Until then it receives nothing but `hello`; no valid auth within `authTimeoutMs` closes it
 * with 4401. It is closed with 4401 too when its token expires.
 *
 * A client that does not read its messages is cut off once `maxBufferedBytes` are queued for it,
 * so it never holds memory or other sockets hostage; on reconnect it resyncs from the api.
 *
 * Pub/Sub keeps nothing for a subscriber that is away: when the subscription comes back after
 * its Redis connection dropped, every owned socket gets `{"type":"resync"}`, on which a client
 * reads what it missed from the api (`GET /api/jobs?since=`), as after its own reconnect.
 */
import type { IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';
import type { Logger } from '@proteus/common';
import { keys } from '@proteus/eventing';
import type { Redis } from 'ioredis';
import { type WebSocket, WebSocketServer } from 'ws';
import { type Owner, TokenRejected, verifyAccessToken } from './auth.ts';

export interface UpdatesOptions {
  subscriber: Redis;
  allowedOrigins: string[];
  heartbeatMs: number;
  log: Logger;
  jwtSecret: string;
  authTimeoutMs?: number;
  maxBufferedBytes?: number;
}

export const PROTOCOL = 'proteus.v1';
const BEARER_PROTOCOL = 'proteus.bearer.';
/** close codes: 4401 unauthorized (as HTTP 401), 4408 too slow to read (as HTTP 408) */
export const CLOSE_UNAUTHORIZED = 4401;
export const CLOSE_TOO_SLOW = 4408;

export function createUpdates({
  subscriber,
  allowedOrigins,
  heartbeatMs,
  log,
  jwtSecret,
  authTimeoutMs = 5000,
  maxBufferedBytes = 1024 * 1024,
}: UpdatesOptions) {
  const wss = new WebSocketServer({
    noServer: true,
    maxPayload: 64 * 1024,
    // answer with proteus.v1, never echo the bearer token back
    handleProtocols: (protocols) => (protocols.has(PROTOCOL) ? PROTOCOL : false),
  });
  const owners = new Map<string, Set<WebSocket>>();
  const alive = new WeakMap<WebSocket, boolean>();
  let subscribed = false;

  // ioredis resubscribes by itself after a reconnect; updates published meanwhile are gone
  let dropped = false;
  subscriber.on('close', () => {
    if (subscribed) dropped = true;
  });
  subscriber.on('ready', () => {
    if (!dropped) return;
    dropped = false;
    const notice = JSON.stringify({ type: 'resync', reason: 'updates may have been missed while Redis was unreachable' });
    let told = 0;
    for (const sockets of owners.values()) {
      for (const socket of sockets) {
        deliver(socket, notice);
        told++;
      }
    }
    log.warn('updates subscription restored; sockets told to resync', { sockets: told });
  });

  subscriber.on('message', (_channel: string, message: string) => {
    let userId: unknown;
    try {
      userId = (JSON.parse(message) as { userId?: unknown }).userId;
    } catch {
      log.warn('dropped a malformed update', { channel: keys.channels.jobDone });
      return;
    }
    for (const socket of owners.get(String(userId)) ?? []) deliver(socket, message);
  });

  function deliver(socket: WebSocket, message: string) {
    if (socket.bufferedAmount > maxBufferedBytes) {
      log.warn('cut off a client that does not read', { bufferedBytes: socket.bufferedAmount });
      socket.close(CLOSE_TOO_SLOW, 'too slow');
      // a close frame waits behind the queue too: drop the connection now
      socket.terminate();
      return;
    }
    socket.send(message);
  }

  function own(socket: WebSocket, owner: Owner) {
    const sockets = owners.get(owner.userId) ?? new Set<WebSocket>();
    owners.set(owner.userId, sockets);
    sockets.add(socket);
    const expiry = setTimeout(() => socket.close(CLOSE_UNAUTHORIZED, 'token expired'), Math.max(0, owner.exp * 1000 - Date.now()));
    socket.once('close', () => {
      clearTimeout(expiry);
      sockets.delete(socket);
      if (!sockets.size) owners.delete(owner.userId);
    });
    socket.send(JSON.stringify({ type: 'ready', userId: owner.userId }));
  }

  async function authenticate(socket: WebSocket, request: IncomingMessage) {
    const offered = String(request.headers['sec-websocket-protocol'] ?? '')
      .split(',')
      .map((p) => p.trim());
    const bearer = offered.find((p) => p.startsWith(BEARER_PROTOCOL))?.slice(BEARER_PROTOCOL.length);
    const refuse = (reason: string) => socket.close(CLOSE_UNAUTHORIZED, reason.slice(0, 120));
    if (bearer) {
      try {
        return own(socket, await verifyAccessToken(bearer, jwtSecret));
      } catch (error) {
        return refuse(error instanceof TokenRejected ? error.message : 'unauthorized');
      }
    }
    const timer = setTimeout(() => refuse('no auth message in time'), authTimeoutMs);
    socket.once('message', async (data, isBinary) => {
      clearTimeout(timer);
      let token: unknown;
      try {
        const message = JSON.parse(isBinary ? '' : data.toString()) as { type?: unknown; token?: unknown };
        if (message.type === 'auth') token = message.token;
      } catch {
        // not JSON: refused below
      }
      if (typeof token !== 'string') return refuse('the first message must be {"type":"auth","token":...}');
      try {
        own(socket, await verifyAccessToken(token, jwtSecret));
      } catch (error) {
        refuse(error instanceof TokenRejected ? error.message : 'unauthorized');
      }
    });
    socket.once('close', () => clearTimeout(timer));
  }

  const heartbeat = setInterval(() => {
    for (const socket of wss.clients) {
      if (alive.get(socket) === false) {
        socket.terminate();
        continue;
      }
      alive.set(socket, false);
      socket.ping();
    }
  }, heartbeatMs);
  heartbeat.unref();

  wss.on('connection', (socket, request: IncomingMessage) => {
    alive.set(socket, true);
    socket.on('pong', () => alive.set(socket, true));
    socket.send(JSON.stringify({ type: 'hello', authenticated: false }));
    void authenticate(socket, request);
  });

  return {
    async start() {
      await subscriber.subscribe(keys.channels.jobDone);
      subscribed = true;
    },
    get subscribed() {
      return subscribed;
    },
    get sockets() {
      return wss.clients.size;
    },
    /** sockets proven to belong to someone */
    get owned() {
      let n = 0;
      for (const sockets of owners.values()) n += sockets.size;
      return n;
    },
    /** The http server's 'upgrade' handler. */
    handleUpgrade(request: IncomingMessage, socket: Duplex, head: Buffer) {
      const path = new URL(request.url ?? '/', 'http://x').pathname;
      const reject = (status: number, reason: string) => {
        socket.end(`HTTP/1.1 ${status} ${reason}\r\nConnection: close\r\nContent-Length: 0\r\n\r\n`);
      };
      if (path !== '/updates') return reject(404, 'Not Found');
      const origin = request.headers.origin;
      if (origin && !allowedOrigins.includes(origin)) {
        log.warn('refused a socket from an origin not allowed', { origin });
        return reject(403, 'Forbidden');
      }
      wss.handleUpgrade(request, socket, head, (ws) => wss.emit('connection', ws, request));
    },
    async close() {
      clearInterval(heartbeat);
      for (const socket of wss.clients) socket.close(1001, 'server shutting down');
      wss.close();
    },
  };
}

/**
 * `/updates`: the WebSocket that delivers job events to their owner. It subscribes to
 * `events:job_done` (any replica may deliver any event) and sends each event to the sockets
 * of its owner only. Authenticating a socket to an owner (first message or subprotocol, never
 * the URL) is issue #4; until then sockets are anonymous and receive nothing but heartbeats.
 */
import type { IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';
import type { Logger } from '@proteus/common';
import { keys } from '@proteus/eventing';
import type { Redis } from 'ioredis';
import { type WebSocket, WebSocketServer } from 'ws';

export interface UpdatesOptions {
  subscriber: Redis;
  allowedOrigins: string[];
  heartbeatMs: number;
  log: Logger;
}

export function createUpdates({ subscriber, allowedOrigins, heartbeatMs, log }: UpdatesOptions) {
  const wss = new WebSocketServer({ noServer: true, maxPayload: 64 * 1024 });
  const owners = new Map<string, Set<WebSocket>>();
  const alive = new WeakMap<WebSocket, boolean>();
  let subscribed = false;

  subscriber.on('message', (_channel: string, message: string) => {
    let userId: unknown;
    try {
      userId = (JSON.parse(message) as { userId?: unknown }).userId;
    } catch {
      log.warn('dropped a malformed update', { channel: keys.channels.jobDone });
      return;
    }
    for (const socket of owners.get(String(userId)) ?? []) socket.send(message);
  });

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

  wss.on('connection', (socket) => {
    alive.set(socket, true);
    socket.on('pong', () => alive.set(socket, true));
    socket.send(JSON.stringify({ type: 'hello', authenticated: false }));
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

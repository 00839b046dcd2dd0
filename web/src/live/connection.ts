/**
 * The `/updates` WebSocket, kept open: it authenticates with its first message (the token never
 * goes into the URL), and when it drops it reconnects with exponential backoff and jitter.
 * Every time it is ready again it resyncs from the api (`GET /api/jobs?cursor=`), so a job that
 * finished while the socket was down still shows up. A 4401 close (token expired) asks for a
 * fresh token first. Timers and the WebSocket class are injected, so tests drive it by hand.
 */

import type { JobUpdate } from '../api/types.ts';
import { parseUpdate } from './ledger.ts';

export type ConnectionState = 'connecting' | 'live' | 'reconnecting' | 'closed';

export const CLOSE_UNAUTHORIZED = 4401;

export interface SocketLike {
  send(data: string): void;
  close(code?: number, reason?: string): void;
  onopen: ((event: unknown) => void) | null;
  onmessage: ((event: { data: unknown }) => void) | null;
  onclose: ((event: { code: number; reason: string }) => void) | null;
  onerror: ((event: unknown) => void) | null;
}

export interface Timers {
  setTimeout(fn: () => void, ms: number): unknown;
  clearTimeout(handle: unknown): void;
}

export interface ConnectionOptions {
  url: string;
  /** the current access token; undefined: signed out, do not connect */
  token: () => string | undefined;
  /** called after a 4401: get a fresh access token (false: the session is over) */
  renewToken: () => Promise<boolean>;
  /** catch up with what happened while not live */
  resync: () => Promise<void>;
  onUpdate: (update: JobUpdate) => void;
  onState?: (state: ConnectionState) => void;
  createSocket?: (url: string) => SocketLike;
  timers?: Timers;
  random?: () => number;
  baseDelayMs?: number;
  maxDelayMs?: number;
}

/** Exponential backoff with jitter: half the step plus up to half again, capped. */
export function reconnectDelay(attempt: number, { baseMs = 500, maxMs = 15_000, random = Math.random } = {}): number {
  const step = Math.min(maxMs, baseMs * 2 ** Math.max(0, attempt));
  return Math.round(step / 2 + (random() * step) / 2);
}

function typeOf(data: unknown): unknown {
  if (typeof data !== 'string') return undefined;
  try {
    return (JSON.parse(data) as { type?: unknown }).type;
  } catch {
    return undefined;
  }
}

export interface Connection {
  readonly state: ConnectionState;
  /** reconnect at once (the browser came back online, the shopper asked) */
  wake(): void;
  close(): void;
}

export function connectUpdates(options: ConnectionOptions): Connection {
  const timers: Timers = options.timers ?? { setTimeout: (fn, ms) => globalThis.setTimeout(fn, ms), clearTimeout: (h) => globalThis.clearTimeout(h as number) };
  const createSocket = options.createSocket ?? ((url: string) => new WebSocket(url) as unknown as SocketLike);
  let state: ConnectionState = 'connecting';
  let socket: SocketLike | undefined;
  let attempt = 0;
  let timer: unknown;
  let stopped = false;

  const setState = (next: ConnectionState) => {
    if (state === next) return;
    state = next;
    options.onState?.(next);
  };

  function schedule() {
    if (stopped) return;
    setState('reconnecting');
    const delay = reconnectDelay(attempt++, { baseMs: options.baseDelayMs ?? 500, maxMs: options.maxDelayMs ?? 15_000, random: options.random ?? Math.random });
    timer = timers.setTimeout(() => {
      timer = undefined;
      open();
    }, delay);
  }

  function open() {
    if (stopped) return;
    const token = options.token();
    if (!token) {
      setState('closed');
      return;
    }
    const ws = createSocket(options.url);
    socket = ws;
    let ready = false;
    ws.onopen = () => ws.send(JSON.stringify({ type: 'auth', token }));
    ws.onmessage = (event) => {
      const type = typeOf(event.data);
      if (!ready && type === 'ready') {
        ready = true;
        attempt = 0;
        setState('live');
        // after `ready`: nothing published from here on is missed, and the resync covers before
        options.resync().catch(() => {
          // the api is unreachable: the next reconnect resyncs again
        });
        return;
      }
      if (ready && type === 'resync') {
        // the server's own subscription was cut (Redis restarted): updates may have been missed
        options.resync().catch(() => {
          // the api is unreachable: the next reconnect resyncs again
        });
        return;
      }
      const update = parseUpdate(event.data);
      if (update) options.onUpdate(update);
    };
    ws.onerror = () => {
      // a close event follows
    };
    ws.onclose = (event) => {
      if (socket !== ws) return;
      socket = undefined;
      if (stopped) return;
      if (event.code === CLOSE_UNAUTHORIZED) {
        setState('reconnecting');
        options.renewToken().then(
          (renewed) => (renewed ? schedule() : setState('closed')),
          () => schedule(),
        );
        return;
      }
      schedule();
    };
  }

  open();
  if (state === 'connecting') options.onState?.('connecting');

  return {
    get state() {
      return state;
    },
    wake() {
      if (stopped || state === 'live' || state === 'connecting') return;
      if (timer !== undefined) timers.clearTimeout(timer);
      timer = undefined;
      attempt = 0;
      setState('connecting');
      open();
    },
    close() {
      stopped = true;
      if (timer !== undefined) timers.clearTimeout(timer);
      const ws = socket;
      socket = undefined;
      ws?.close(1000, 'bye');
      setState('closed');
    },
  };
}

import { describe, expect, it, vi } from 'vitest';
import type { JobUpdate } from '../api/types.ts';
import { CLOSE_UNAUTHORIZED, type ConnectionState, connectUpdates, reconnectDelay, type SocketLike, type Timers } from './connection.ts';

class FakeSocket implements SocketLike {
  sent: string[] = [];
  closed?: { code?: number | undefined };
  onopen: ((event: unknown) => void) | null = null;
  onmessage: ((event: { data: unknown }) => void) | null = null;
  onclose: ((event: { code: number; reason: string }) => void) | null = null;
  onerror: ((event: unknown) => void) | null = null;
  constructor(readonly url: string) {}
  send(data: string) {
    this.sent.push(data);
  }
  close(code?: number) {
    this.closed = { code };
  }
  // the server's side
  open() {
    this.onopen?.({});
  }
  message(data: unknown) {
    this.onmessage?.({ data: typeof data === 'string' ? data : JSON.stringify(data) });
  }
  drop(code = 1006) {
    this.onclose?.({ code, reason: '' });
  }
}

function harness(overrides: { token?: () => string | undefined; renew?: () => Promise<boolean>; resync?: () => Promise<void> } = {}) {
  const sockets: FakeSocket[] = [];
  const pending: { fn: () => void; ms: number; cancelled: boolean }[] = [];
  const timers: Timers = {
    setTimeout: (fn, ms) => {
      const t = { fn, ms, cancelled: false };
      pending.push(t);
      return t;
    },
    clearTimeout: (h) => {
      (h as { cancelled: boolean }).cancelled = true;
    },
  };
  const states: ConnectionState[] = [];
  const updates: JobUpdate[] = [];
  const resync = vi.fn(overrides.resync ?? (async () => {}));
  const renewToken = vi.fn(overrides.renew ?? (async () => true));
  const connection = connectUpdates({
    url: 'ws://shop/updates',
    token: overrides.token ?? (() => 'token-1'),
    renewToken,
    resync,
    onUpdate: (u) => updates.push(u),
    onState: (s) => states.push(s),
    createSocket: (url) => {
      const s = new FakeSocket(url);
      sockets.push(s);
      return s;
    },
    timers,
    random: () => 0.5,
  });
  /** runs the next scheduled reconnect, answers its delay */
  const fire = () => {
    const t = pending.find((p) => !p.cancelled);
    if (!t) throw new Error('nothing scheduled');
    t.cancelled = true;
    t.fn();
    return t.ms;
  };
  const last = () => sockets.at(-1) as FakeSocket;
  return { connection, sockets, states, updates, resync, renewToken, fire, last, pending };
}

const jobMessage = { type: 'job', userId: 'u1', job_id: 'j1', status: 'completed', result_url: 'http://s3/r.png' };

describe('reconnectDelay', () => {
  it('doubles per attempt, with jitter between half and all of the step, up to the cap', () => {
    expect(reconnectDelay(0, { random: () => 0 })).toBe(250);
    expect(reconnectDelay(0, { random: () => 1 })).toBe(500);
    expect(reconnectDelay(3, { random: () => 1 })).toBe(4000);
    expect(reconnectDelay(20, { random: () => 1 })).toBe(15_000);
    expect(reconnectDelay(20, { random: () => 0 })).toBe(7500);
  });
});

describe('the updates connection', () => {
  it('authenticates with its first message, not the URL, and resyncs once ready', () => {
    const h = harness();
    expect(h.last().url).toBe('ws://shop/updates');
    h.last().open();
    expect(JSON.parse(h.last().sent[0] as string)).toEqual({ type: 'auth', token: 'token-1' });
    expect(h.resync).not.toHaveBeenCalled();
    h.last().message({ type: 'hello', authenticated: false });
    h.last().message({ type: 'ready', userId: 'u1' });
    expect(h.resync).toHaveBeenCalledTimes(1);
    expect(h.connection.state).toBe('live');
    h.last().message(jobMessage);
    expect(h.updates).toEqual([jobMessage]);
  });

  it('resyncs when the server says its own subscription was cut, without reconnecting', () => {
    const h = harness();
    h.last().open();
    h.last().message({ type: 'ready', userId: 'u1' });
    expect(h.resync).toHaveBeenCalledTimes(1);
    h.last().message({ type: 'resync', reason: 'updates may have been missed' });
    expect(h.resync).toHaveBeenCalledTimes(2);
    expect(h.sockets).toHaveLength(1);
    expect(h.updates).toEqual([]);
  });

  it('reconnects after a drop with growing delays, and resyncs again so missed jobs show up', () => {
    const h = harness();
    h.last().open();
    h.last().message({ type: 'ready' });
    h.last().drop();
    expect(h.connection.state).toBe('reconnecting');
    expect(h.fire()).toBe(375); // attempt 0: 500 ms step, jitter 0.5
    h.last().drop(); // the server is still away
    expect(h.fire()).toBe(750);
    h.last().open();
    h.last().message({ type: 'ready' });
    expect(h.resync).toHaveBeenCalledTimes(2);
    expect(h.connection.state).toBe('live');
    // the backoff starts over once live again
    h.last().drop();
    expect(h.fire()).toBe(375);
    expect(h.sockets).toHaveLength(4);
  });

  it('asks for a fresh token after a 4401 close, then reconnects with it', async () => {
    let token = 'old';
    const h = harness({
      token: () => token,
      renew: async () => {
        token = 'new';
        return true;
      },
    });
    h.last().open();
    h.last().drop(CLOSE_UNAUTHORIZED);
    await Promise.resolve();
    await Promise.resolve();
    expect(h.renewToken).toHaveBeenCalledTimes(1);
    h.fire();
    h.last().open();
    expect(JSON.parse(h.last().sent[0] as string)).toEqual({ type: 'auth', token: 'new' });
  });

  it('stops when the session is over (the token cannot be renewed)', async () => {
    const h = harness({ renew: async () => false });
    h.last().open();
    h.last().drop(CLOSE_UNAUTHORIZED);
    await Promise.resolve();
    await Promise.resolve();
    expect(h.connection.state).toBe('closed');
    expect(h.pending.filter((p) => !p.cancelled)).toHaveLength(0);
  });

  it('does not connect without a token', () => {
    const h = harness({ token: () => undefined });
    expect(h.sockets).toHaveLength(0);
    expect(h.connection.state).toBe('closed');
  });

  it('reconnects at once on wake() instead of waiting out the backoff', () => {
    const h = harness();
    h.last().open();
    h.last().drop();
    expect(h.sockets).toHaveLength(1);
    h.connection.wake();
    expect(h.sockets).toHaveLength(2);
    expect(h.pending.every((p) => p.cancelled)).toBe(true);
  });

  it('closes for good: no reconnect after close()', () => {
    const h = harness();
    h.last().open();
    const socket = h.last();
    h.connection.close();
    expect(socket.closed?.code).toBe(1000);
    socket.drop(1000);
    expect(h.pending).toHaveLength(0);
    expect(h.connection.state).toBe('closed');
  });

  it('ignores messages that are not job updates and a failing resync', () => {
    const h = harness({ resync: async () => Promise.reject(new Error('api down')) });
    h.last().open();
    h.last().message({ type: 'ready' });
    h.last().message('garbage');
    h.last().message({ type: 'job', job_id: 42 });
    expect(h.updates).toEqual([]);
    expect(h.connection.state).toBe('live');
  });
});

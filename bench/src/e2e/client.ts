/**
 * A client of the running stack from outside, over HTTP and the /updates WebSocket only, as a
 * shopper or a shop backend meets it: sign up, presigned POST uploads, job submissions, and the
 * job events of one user collected from the socket. Used by the journey test and the load and
 * chaos commands, so that all three drive the stack the same way.
 */
import { randomUUID } from 'node:crypto';
import { WebSocket } from 'ws';

export interface Session {
  url: string;
  token: string;
  userId: string;
  email: string;
}

export interface JobEvent {
  type: 'job' | 'progress';
  job_id: string;
  status: string;
  result_url?: string | null;
  userId: string;
  vton_id?: string;
  kind?: string;
  error?: string;
  step?: number;
  steps?: number;
  /** read from the api after a resync notice or a reconnect, not received as a message */
  viaResync?: boolean;
  /** which connection of the socket (0, then 1 after the first reconnect, ...) delivered it */
  connection?: number;
}

/** Where an Updates socket connects, and whether it reconnects (as the web app's connection does). */
export interface UpdatesOptions {
  /** base URL of the realtime to connect to first (default: the session's URL, the gateway) */
  socketUrl?: string;
  /** after an unexpected close, reconnect to this base URL and resync from GET /api/jobs */
  reconnectTo?: string;
}

export interface SubmittedJob {
  job_id: string;
  status: string;
  kind: string;
  vton_id: string;
  waiting_for?: string;
}

export class HttpError extends Error {
  constructor(
    readonly status: number,
    readonly body: string,
    what: string,
  ) {
    super(`${what}: HTTP ${status} ${body.slice(0, 500)}`);
  }
}

/** JSON request; anything but 2xx throws with the problem's text. */
export async function call<T>(
  url: string,
  method: string,
  path: string,
  { token, body, headers = {} }: { token?: string; body?: unknown; headers?: Record<string, string> } = {},
): Promise<T> {
  const response = await fetch(`${url}${path}`, {
    method,
    headers: {
      ...(body === undefined ? {} : { 'content-type': 'application/json' }),
      ...(token ? { authorization: `Bearer ${token}` } : {}),
      ...headers,
    },
    ...(body === undefined ? {} : { body: typeof body === 'string' ? body : JSON.stringify(body) }),
    signal: AbortSignal.timeout(60_000),
  });
  const text = await response.text();
  if (!response.ok) throw new HttpError(response.status, text, `${method} ${path}`);
  return (text ? JSON.parse(text) : undefined) as T;
}

export async function signUp(url: string, label = 'e2e'): Promise<Session> {
  const email = `${label}-${randomUUID()}@example.org`;
  const answer = await call<{ user: { id: string }; accessToken: string }>(url, 'POST', '/api/auth/signup', {
    body: { email, password: `pw-${randomUUID()}` },
  });
  return { url, token: answer.accessToken, userId: answer.user.id, email };
}

/** Presigned POST of the bytes, then /api/images/verify; answers the verified copy's key. */
export async function uploadImage(session: Session, bytes: Uint8Array, kind: 'garment' | 'person', contentType: 'image/png' | 'image/jpeg'): Promise<string> {
  const presigned = await call<{ url: string; fields: Record<string, string>; key: string }>(
    session.url,
    'GET',
    `/api/images/presignedUpUrl?kind=${kind}&contentType=${encodeURIComponent(contentType)}`,
    { token: session.token },
  );
  const form = new FormData();
  for (const [k, v] of Object.entries(presigned.fields)) form.append(k, v);
  form.append('file', new Blob([bytes], { type: contentType }));
  const stored = await fetch(presigned.url, { method: 'POST', body: form, signal: AbortSignal.timeout(60_000) });
  if (!stored.ok) throw new HttpError(stored.status, await stored.text(), 'presigned POST');
  const verified = await call<{ key: string }>(session.url, 'POST', '/api/images/verify', {
    token: session.token,
    body: { key: presigned.key, expectedType: contentType },
  });
  return verified.key;
}

/** 33 MediaPipe pose landmarks of a shopper facing the camera, torso inside the frame. */
export function facingLandmarks(): { x: number; y: number; z: number; visibility: number }[] {
  const points = Array.from({ length: 33 }, () => ({ x: 0.5, y: 0.5, z: 0, visibility: 0.9 }));
  points[11] = { x: 0.68, y: 0.42, z: 0, visibility: 0.95 };
  points[12] = { x: 0.32, y: 0.42, z: 0, visibility: 0.95 };
  points[23] = { x: 0.63, y: 0.85, z: 0, visibility: 0.9 };
  points[24] = { x: 0.37, y: 0.85, z: 0, visibility: 0.9 };
  return points;
}

/**
 * One user's /updates socket, authenticated by its first message; every job event is kept in
 * arrival order, and `until` waits for one that matches.
 */
export class Updates {
  readonly events: JobEvent[] = [];
  /** when each event arrived (performance.now()) */
  readonly arrivedAt = new WeakMap<JobEvent, number>();
  /** performance.now() of each unexpected close */
  readonly drops: number[] = [];
  /** performance.now() of each `ready` after a reconnect */
  readonly reconnects: number[] = [];
  private waiters: { match: (e: JobEvent) => boolean; resolve: (e: JobEvent) => void }[] = [];
  private connection = 0;
  private closing = false;
  private constructor(
    private socket: WebSocket,
    private readonly session: Session,
    private readonly options: UpdatesOptions,
  ) {}

  static open(session: Session, timeoutMs = 30_000, options: UpdatesOptions = {}): Promise<Updates> {
    const socket = Updates.socketTo(options.socketUrl ?? session.url, session);
    const updates = new Updates(socket, session, options);
    return updates.attach(socket, timeoutMs);
  }

  private static socketTo(base: string, session: Session): WebSocket {
    return new WebSocket(`${base.replace(/^http/, 'ws')}/updates`, { headers: { origin: session.url } });
  }

  /** Authenticates `socket` and collects its job events; resolves once it is ready. */
  private attach(socket: WebSocket, timeoutMs: number): Promise<Updates> {
    const { session } = this;
    const connection = this.connection;
    return new Promise((resolve, reject) => {
      let ready = false;
      const timer = setTimeout(() => reject(new Error('the /updates socket was not ready in time')), timeoutMs);
      socket.on('error', (error) => {
        clearTimeout(timer);
        if (!ready) reject(error);
      });
      socket.on('close', (code, reason) => {
        clearTimeout(timer);
        if (!ready) reject(new Error(`the /updates socket closed before it was ready: ${code} ${reason}`));
        else if (!this.closing && this.options.reconnectTo) {
          this.drops.push(performance.now());
          void this.reconnect();
        }
      });
      socket.on('message', (data) => {
        const message = JSON.parse(String(data)) as { type: string };
        if (message.type === 'hello') socket.send(JSON.stringify({ type: 'auth', token: session.token }));
        else if (message.type === 'ready') {
          clearTimeout(timer);
          ready = true;
          resolve(this);
        } else if (message.type === 'job' || message.type === 'progress') this.push({ ...(message as unknown as JobEvent), connection });
        else if (message.type === 'resync') void this.resync(session);
      });
    });
  }

  /**
   * Reconnects to `reconnectTo`, then resyncs; the web app's backoff (web/src/live/connection.ts):
   * 500 ms doubling, capped at 15 s, half of each step plus up to half again.
   */
  private async reconnect() {
    for (let attempt = 0; !this.closing; attempt++) {
      const step = Math.min(15_000, 500 * 2 ** attempt);
      await new Promise((r) => setTimeout(r, step / 2 + (Math.random() * step) / 2));
      this.connection++;
      const socket = Updates.socketTo(this.options.reconnectTo as string, this.session);
      this.socket = socket;
      try {
        await this.attach(socket, 10_000);
        this.reconnects.push(performance.now());
        await this.resync(this.session);
        return;
      } catch {
        socket.terminate();
      }
    }
  }

  /**
   * What a client does when the server says updates may have been missed: reads its jobs from
   * the api and takes each finished one it has not seen finish (marked `viaResync`).
   */
  private async resync(session: Session) {
    let cursor: string | null = null;
    try {
      for (;;) {
        const query = cursor ? `?cursor=${encodeURIComponent(cursor)}` : '';
        const page: { items: JobEvent[]; nextCursor: string | null; hasMore: boolean } = await call(session.url, 'GET', `/api/jobs${query}`, {
          token: session.token,
        });
        for (const job of page.items) {
          if (!isTerminal(job.status) || this.events.some((e) => e.type === 'job' && e.job_id === job.job_id && isTerminal(e.status))) continue;
          this.push({ ...job, type: 'job', userId: session.userId, viaResync: true });
        }
        if (!page.hasMore) return;
        cursor = page.nextCursor;
      }
    } catch {
      // the api unreachable: a later resync notice or reconnect tries again
    }
  }

  private push(event: JobEvent) {
    this.arrivedAt.set(event, performance.now());
    this.events.push(event);
    this.waiters = this.waiters.filter((w) => {
      if (!w.match(event)) return true;
      w.resolve(event);
      return false;
    });
  }

  until(match: (e: JobEvent) => boolean, timeoutMs: number, what = 'an event'): Promise<JobEvent> {
    const seen = this.events.find(match);
    if (seen) return Promise.resolve(seen);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(
        () => reject(new Error(`no ${what} on the socket after ${timeoutMs} ms; saw ${JSON.stringify(this.events.slice(-10))}`)),
        timeoutMs,
      );
      this.waiters.push({
        match,
        resolve: (e) => {
          clearTimeout(timer);
          resolve(e);
        },
      });
    });
  }

  /** The terminal event of a job (completed or failed). */
  terminal(jobId: string, timeoutMs: number): Promise<JobEvent> {
    return this.until((e) => e.type === 'job' && e.job_id === jobId && isTerminal(e.status), timeoutMs, `terminal event of ${jobId}`);
  }

  close() {
    this.closing = true;
    this.socket.close();
  }
}

export const isTerminal = (status: string) => status === 'completed' || status === 'failed';

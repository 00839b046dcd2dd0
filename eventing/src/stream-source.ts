/**
 * The stream source: Redis Stream -> CloudEvents over HTTP, with Knative's delivery contract.
 * - XREADGROUP as its consumer; first its own pending entries (a restart), then new ones.
 * - An entry is XACKed only after its sink answered 2xx.
 * - 404, 409, 429, 5xx, timeouts and connection errors are retried with the route's backoff,
 *   waiting at least a sink's Retry-After (capped by retryAfterMax); 400 and other 4xx never are.
 * - When retries run out, or the answer is not retryable, or the entry is malformed, the original
 *   event goes to the dead-letter stream with the reason, last status and attempts, and the entry
 *   is acked, both in one MULTI.
 * - Entries a dead consumer left pending are taken over with XAUTOCLAIM after an idle time;
 *   entries this consumer is still working on are kept claimed so no one else takes them.
 * - Groups are created at `0` with MKSTREAM and never destroyed.
 * - Up to `route.inFlight` deliveries at once per route.
 * - stop(): no new reads or attempts; deliveries under way may finish until the deadline; the rest
 *   stay pending for the next start (or for another instance to reclaim).
 */
import type { Redis } from 'ioredis';
import { Agent, request } from 'undici';
import { EventValidationError, type ProteusEvent, parseEvent } from './events.ts';
import { toBinaryHttp, toStructuredHttp } from './http.ts';
import { entryField } from './keys.ts';
import type { SourceMetrics } from './source-metrics.ts';
import type { StreamRoute } from './topology.ts';

export interface StreamSourceLog {
  info(msg: string, fields?: Record<string, unknown>): void;
  warn(msg: string, fields?: Record<string, unknown>): void;
  error(msg: string, fields?: Record<string, unknown>): void;
}

export interface StreamSourceOptions {
  redis: Redis;
  routes: { route: StreamRoute; sinkUrl: string }[];
  consumer: string;
  log: StreamSourceLog;
  /** binary (default) or structured CloudEvents over HTTP */
  mode?: 'binary' | 'structured';
  blockMs?: number;
  /** entries pending longer than this on another consumer are taken over */
  reclaimIdleMs?: number;
  reclaimIntervalMs?: number;
  /** how long stop() lets deliveries under way finish */
  stopDeadlineMs?: number;
  metrics?: SourceMetrics;
  /** extension attributes added to every event (K_CE_OVERRIDES) */
  overrides?: Record<string, string>;
}

/** ISO-8601 duration (PT0.2S, PT10S, PT1M) -> milliseconds. */
export function durationMs(iso: string): number {
  const m = /^PT(?:(\d+(?:\.\d+)?)H)?(?:(\d+(?:\.\d+)?)M)?(?:(\d+(?:\.\d+)?)S)?$/.exec(iso);
  if (!m || iso === 'PT') throw new RangeError(`${JSON.stringify(iso)} is not an ISO-8601 duration like PT0.2S`);
  return Math.round((Number(m[1] ?? 0) * 3600 + Number(m[2] ?? 0) * 60 + Number(m[3] ?? 0)) * 1000);
}

/** Retry-After as delta-seconds or an HTTP date, in ms; undefined when absent or unreadable. */
export function retryAfterMs(value: string | string[] | undefined, now = Date.now()): number | undefined {
  const text = Array.isArray(value) ? value[0] : value;
  if (!text) return undefined;
  if (/^\d+$/.test(text.trim())) return Number(text.trim()) * 1000;
  const at = Date.parse(text);
  return Number.isNaN(at) ? undefined : Math.max(0, at - now);
}

/** The value of the entry's `event` field; field names sit at even positions. */
function entryValue(fields: string[] | null): string | undefined {
  for (let i = 0; fields && i + 1 < fields.length; i += 2) if (fields[i] === entryField) return fields[i + 1];
  return undefined;
}

export const retryable = (status: number) => status === 404 || status === 409 || status === 429 || status >= 500;

export async function ensureGroup(redis: Redis, stream: string, group: string): Promise<void> {
  try {
    await redis.xgroup('CREATE', stream, group, '0', 'MKSTREAM');
  } catch (error) {
    if (!String((error as Error).message).includes('BUSYGROUP')) throw error;
  }
}

function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal.aborted) return resolve();
    const timer = setTimeout(done, ms);
    function done() {
      clearTimeout(timer);
      signal.removeEventListener('abort', done);
      resolve();
    }
    signal.addEventListener('abort', done, { once: true });
  });
}

type Entry = [id: string, fields: string[] | null];

class TimeoutError extends Error {
  constructor(ms: number) {
    super(`sink did not answer within ${ms} ms`);
    this.name = 'TimeoutError';
  }
}
type Outcome = 'delivered' | 'dead' | 'left';

/** Acks collected over one turn of the event loop go out as one XACK. */
function createAcker(redis: Redis, route: StreamRoute) {
  let ids: string[] = [];
  let flushing: Promise<void> | undefined;
  return (id: string): Promise<void> => {
    ids.push(id);
    flushing ??= new Promise<void>((resolve, reject) =>
      setImmediate(() => {
        const batch = ids;
        ids = [];
        flushing = undefined;
        redis.xack(route.stream, route.group, ...batch).then(() => resolve(), reject);
      }),
    );
    return flushing;
  };
}

export function createStreamSource({
  redis,
  routes,
  consumer,
  log,
  mode = 'binary',
  blockMs = 1000,
  reclaimIdleMs = 30_000,
  reclaimIntervalMs = Math.max(100, Math.floor(reclaimIdleMs / 3)),
  stopDeadlineMs = 8000,
  metrics,
  overrides = {},
}: StreamSourceOptions) {
  let running = false;
  // aborted when stop() begins: no new reads, no new attempts
  let stopping = new AbortController();
  // aborted at the stop deadline: requests still under way are cut
  let deadline = new AbortController();
  let agent = new Agent();
  let tasks: Promise<void>[] = [];
  let connections: Redis[] = [];
  let runners: { drain(): Promise<void> }[] = [];
  const underway = new Set<AbortController>();

  function runRoute(route: StreamRoute, sinkUrl: string) {
    const inFlight = new Map<string, Promise<Outcome>>();
    const ack = createAcker(redis, route);
    const timeoutMs = durationMs(route.delivery.timeout);
    const baseDelay = durationMs(route.delivery.backoffDelay);
    const retryAfterCap = durationMs(route.delivery.retryAfterMax);
    const labels = { route: route.name };
    let slotFreed: (() => void) | undefined;

    async function deadLetter(
      id: string,
      raw: string | undefined,
      reason: string,
      status: number | undefined,
      attempts: number,
      why: string,
      event?: ProteusEvent,
    ) {
      const tx = redis.multi();
      // the route may tell the event's owner that it failed (segment.requested -> segment.failed)
      const notice = event && route.onDeadLetter?.failure(event, reason);
      if (notice && route.onDeadLetter) tx.xadd(route.onDeadLetter.stream, '*', entryField, JSON.stringify(notice));
      await tx
        .xadd(
          route.delivery.deadLetterSink,
          '*',
          entryField,
          raw ?? '',
          'reason',
          reason,
          'stream',
          route.stream,
          'group',
          route.group,
          'route',
          route.name,
          'entry',
          id,
          'status',
          String(status ?? ''),
          'attempts',
          String(attempts),
          'at',
          new Date().toISOString(),
        )
        .xack(route.stream, route.group, id)
        .exec();
      metrics?.deadLettered.inc({ route: route.name, why });
      log.warn('dead-lettered', { route: route.name, entry: id, reason, status, attempts });
    }

    /** One attempt: the status, or undefined when the sink could not be reached in time. */
    async function attempt(message: { headers: Record<string, string>; body: string }) {
      // one controller and one timer per attempt (AbortSignal.any/timeout cost several times more
      // on this hot path); the stop deadline aborts every controller still registered
      const controller = new AbortController();
      const timer = setTimeout(() => controller.abort(new TimeoutError(timeoutMs)), timeoutMs);
      underway.add(controller);
      try {
        const response = await request(sinkUrl, {
          method: 'POST',
          headers: message.headers,
          body: message.body,
          signal: controller.signal,
          dispatcher: agent,
        });
        await response.body.dump();
        return { status: response.statusCode, retryAfter: retryAfterMs(response.headers['retry-after']) };
      } finally {
        clearTimeout(timer);
        underway.delete(controller);
      }
    }

    async function deliver([id, fields]: Entry): Promise<Outcome> {
      const raw = entryValue(fields);
      let event: ProteusEvent;
      try {
        if (raw === undefined) throw new EventValidationError(fields ? `entry has no ${entryField} field` : 'entry was deleted from the stream', []);
        event = parseEvent(JSON.parse(raw));
      } catch (error) {
        const reason = error instanceof SyntaxError ? `not JSON: ${error.message}` : (error as Error).message;
        await deadLetter(id, raw, `malformed entry: ${reason}`, undefined, 0, 'malformed');
        return 'dead';
      }
      const outgoing = { ...event, ...overrides } as ProteusEvent;
      const message = mode === 'structured' ? toStructuredHttp(outgoing) : toBinaryHttp(outgoing);
      let status: number | undefined;
      let reason = '';
      let attempts = 0;
      for (;;) {
        attempts++;
        let retryAfter: number | undefined;
        try {
          ({ status, retryAfter } = await attempt(message));
          if (status >= 200 && status < 300) {
            await ack(id);
            metrics?.delivered.inc(labels);
            metrics?.latency.observe(labels, Math.max(0, Date.now() - Number(id.split('-')[0])) / 1000);
            return 'delivered';
          }
          reason = `sink answered ${status}`;
          if (!retryable(status)) {
            await deadLetter(id, raw, reason, status, attempts, 'rejected', event);
            return 'dead';
          }
        } catch (error) {
          if (deadline.signal.aborted) return 'left';
          status = undefined;
          reason = error instanceof TimeoutError ? error.message : `sink unreachable: ${(error as Error).message}`;
        }
        if (attempts > route.delivery.retry) break;
        if (stopping.signal.aborted) return 'left';
        const backoff = route.delivery.backoffPolicy === 'linear' ? baseDelay * attempts : baseDelay * 2 ** (attempts - 1);
        await sleep(Math.max(backoff, Math.min(retryAfter ?? 0, retryAfterCap)), stopping.signal);
        if (stopping.signal.aborted) return 'left';
        metrics?.retried.inc(labels);
      }
      await deadLetter(id, raw, reason, status, attempts, 'exhausted', event);
      return 'dead';
    }

    function start(entry: Entry) {
      const [id] = entry;
      if (inFlight.has(id)) return;
      const task = deliver(entry)
        .catch((error: Error) => {
          // Redis failed under an ack or a dead letter: the entry stays pending and is read again
          log.error('delivery bookkeeping failed', { route: route.name, entry: id, error: error.message });
          return 'left' as const;
        })
        .finally(() => {
          inFlight.delete(id);
          metrics?.inFlight.set(labels, inFlight.size);
          slotFreed?.();
        });
      inFlight.set(id, task);
      metrics?.inFlight.set(labels, inFlight.size);
    }

    const freeSlot = () =>
      inFlight.size < route.inFlight
        ? Promise.resolve()
        : new Promise<void>((resolve) => {
            slotFreed = () => {
              slotFreed = undefined;
              resolve();
            };
          });

    async function readLoop(conn: Redis) {
      let cursor = '0';
      let grouped = false;
      while (running) {
        try {
          if (!grouped) {
            await ensureGroup(redis, route.stream, route.group);
            grouped = true;
          }
          await freeSlot();
          if (!running) break;
          const count = Math.max(1, route.inFlight - inFlight.size);
          const reply = (await conn.xreadgroup('GROUP', route.group, consumer, 'COUNT', count, 'BLOCK', blockMs, 'STREAMS', route.stream, cursor)) as
            | [string, Entry[]][]
            | null;
          const entries = reply?.[0]?.[1] ?? [];
          if (cursor !== '>') {
            // own pending entries, page by page, then new ones
            if (entries.length === 0) cursor = '>';
            else cursor = entries.at(-1)![0];
          }
          for (const entry of entries) start(entry);
        } catch (error) {
          if (!running) break;
          const message = (error as Error).message;
          log.error('stream read failed', { route: route.name, error: message });
          cursor = '0';
          if (message.includes('NOGROUP')) grouped = false;
          await sleep(500, stopping.signal);
        }
      }
    }

    /** Takes over entries other consumers left idle, and keeps this one's own claims fresh. */
    async function reclaimLoop() {
      let cursor = '0-0';
      while (running) {
        await sleep(reclaimIntervalMs, stopping.signal);
        if (!running) break;
        try {
          if (inFlight.size) {
            // XCLAIM with min-idle 0 resets the idle time of what we are still working on
            await redis.xclaim(route.stream, route.group, consumer, 0, ...inFlight.keys(), 'JUSTID');
          }
          const room = route.inFlight - inFlight.size;
          if (room <= 0) continue;
          const [next, claimed, deleted] = (await redis.xautoclaim(route.stream, route.group, consumer, reclaimIdleMs, cursor, 'COUNT', room)) as [
            string,
            Entry[],
            string[],
          ];
          cursor = next;
          if (claimed.length) log.warn('reclaimed idle entries', { route: route.name, count: claimed.length });
          for (const entry of claimed) start(entry);
          // entries deleted while pending: XAUTOCLAIM already dropped them from the group
          for (const id of deleted ?? []) await deadLetter(id, undefined, 'malformed entry: entry was deleted from the stream', undefined, 0, 'malformed');
        } catch (error) {
          if (running) log.error('reclaim failed', { route: route.name, error: (error as Error).message });
        }
      }
    }

    const conn = redis.duplicate();
    conn.on('error', () => {});
    connections.push(conn);
    tasks.push(readLoop(conn), reclaimLoop());
    return {
      async drain() {
        await Promise.all(inFlight.values());
      },
    };
  }

  return {
    start() {
      running = true;
      stopping = new AbortController();
      deadline = new AbortController();
      // keep-alive connections to the sinks, enough for every route's in-flight deliveries
      agent = new Agent({ keepAliveTimeout: 30_000, connections: routes.reduce((sum, r) => sum + r.route.inFlight, 0) });
      tasks = [];
      connections = [];
      runners = [];
      for (const { route, sinkUrl } of routes) {
        runners.push(runRoute(route, sinkUrl));
        log.info('route started', { route: route.name, stream: route.stream, group: route.group, sink: sinkUrl, inFlight: route.inFlight });
      }
    },
    async stop() {
      running = false;
      stopping.abort();
      // a blocked XREADGROUP ends with its connection
      for (const c of connections) c.disconnect();
      const timer = setTimeout(() => {
        deadline.abort();
        for (const controller of underway) controller.abort();
      }, stopDeadlineMs);
      await Promise.all(runners.map((r) => r.drain()));
      clearTimeout(timer);
      await Promise.all(tasks);
      await agent.close();
    },
  };
}

/**
 * The stream source: Redis Stream -> CloudEvents over HTTP, acknowledging an entry only after
 * its sink answered 2xx. This is the foundation's version: retries with backoff and dead
 * letters; issue #3 adds Retry-After, XAUTOCLAIM of dead consumers, in-flight limits, metrics
 * and the delivery-guarantee test suite.
 */
import type { Redis } from 'ioredis';
import { EventValidationError, parseEvent } from './events.ts';
import { toBinaryHttp } from './http.ts';
import { entryField, streams } from './keys.ts';
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
  blockMs?: number;
  batch?: number;
}

/** ISO-8601 duration (PT0.2S, PT10S, PT1M) -> milliseconds. */
export function durationMs(iso: string): number {
  const m = /^PT(?:(\d+(?:\.\d+)?)H)?(?:(\d+(?:\.\d+)?)M)?(?:(\d+(?:\.\d+)?)S)?$/.exec(iso);
  if (!m || iso === 'PT') throw new RangeError(`${JSON.stringify(iso)} is not an ISO-8601 duration like PT0.2S`);
  return Math.round((Number(m[1] ?? 0) * 3600 + Number(m[2] ?? 0) * 60 + Number(m[3] ?? 0)) * 1000);
}

/** The value of the entry's `event` field; field names sit at even positions. */
function entryValue(fields: string[] | null): string | undefined {
  for (let i = 0; fields && i + 1 < fields.length; i += 2) if (fields[i] === entryField) return fields[i + 1];
  return undefined;
}

const retryable = (status: number) => status === 404 || status === 409 || status === 429 || status >= 500;

export async function ensureGroup(redis: Redis, stream: string, group: string): Promise<void> {
  try {
    await redis.xgroup('CREATE', stream, group, '0', 'MKSTREAM');
  } catch (error) {
    if (!String((error as Error).message).includes('BUSYGROUP')) throw error;
  }
}

export function createStreamSource({ redis, routes, consumer, log, blockMs = 1000, batch = 16 }: StreamSourceOptions) {
  let running = false;
  const loops: Promise<void>[] = [];
  const connections: Redis[] = [];

  async function deadLetter(route: StreamRoute, id: string, raw: string | undefined, reason: string, status: number | undefined, attempts: number) {
    await redis.xadd(
      streams.dead,
      '*',
      entryField,
      raw ?? '',
      'reason',
      reason,
      'stream',
      route.stream,
      'entry',
      id,
      'status',
      String(status ?? ''),
      'attempts',
      String(attempts),
    );
    log.warn('dead-lettered', { route: route.name, entry: id, reason, status, attempts });
  }

  /** `fields` is null for an entry deleted (XDEL, trimmed) while it was pending. */
  async function deliver(route: StreamRoute, sinkUrl: string, id: string, fields: string[] | null) {
    const raw = entryValue(fields);
    let event: ReturnType<typeof parseEvent>;
    try {
      if (raw === undefined) throw new EventValidationError(fields ? `entry has no ${entryField} field` : 'entry was deleted from the stream', []);
      event = parseEvent(JSON.parse(raw));
    } catch (error) {
      const reason = error instanceof SyntaxError ? `not JSON: ${error.message}` : (error as Error).message;
      await deadLetter(route, id, raw, `malformed entry: ${reason}`, undefined, 0);
      await redis.xack(route.stream, route.group, id);
      return;
    }
    const { headers, body } = toBinaryHttp(event);
    const timeoutMs = durationMs(route.delivery.timeout);
    const baseDelay = durationMs(route.delivery.backoffDelay);
    let status: number | undefined;
    let reason = '';
    let attempts = 0;
    for (let attempt = 1; attempt <= route.delivery.retry + 1; attempt++) {
      attempts = attempt;
      try {
        const response = await fetch(sinkUrl, { method: 'POST', headers, body, signal: AbortSignal.timeout(timeoutMs) });
        status = response.status;
        await response.arrayBuffer().catch(() => undefined);
        if (status >= 200 && status < 300) {
          await redis.xack(route.stream, route.group, id);
          return;
        }
        reason = `sink answered ${status}`;
        if (!retryable(status)) break;
      } catch (error) {
        status = undefined;
        reason = `sink unreachable: ${(error as Error).message}`;
      }
      if (!running || attempt > route.delivery.retry) break;
      const delay = route.delivery.backoffPolicy === 'linear' ? baseDelay * attempt : baseDelay * 2 ** (attempt - 1);
      await new Promise((r) => setTimeout(r, delay));
    }
    if (!running && (status === undefined || retryable(status))) return; // stopping: leave it pending for the next start
    await deadLetter(route, id, raw, reason, status, attempts);
    await redis.xack(route.stream, route.group, id);
  }

  async function loop(route: StreamRoute, sinkUrl: string, conn: Redis) {
    // first what this consumer left pending (a restart), then new entries
    let cursor = '0';
    let grouped = false;
    while (running) {
      try {
        // inside the try: Redis down at start must not reject the loop (an unhandled rejection kills the process)
        if (!grouped) {
          await ensureGroup(redis, route.stream, route.group);
          grouped = true;
        }
        const reply = (await conn.xreadgroup('GROUP', route.group, consumer, 'COUNT', batch, 'BLOCK', blockMs, 'STREAMS', route.stream, cursor)) as
          | [string, [string, string[] | null][]][]
          | null;
        const entries = reply?.[0]?.[1] ?? [];
        if (cursor === '0' && entries.length === 0) cursor = '>';
        for (const [id, fields] of entries) await deliver(route, sinkUrl, id, fields);
      } catch (error) {
        if (!running) break;
        const message = (error as Error).message;
        log.error('stream read failed', { route: route.name, error: message });
        // entries of a batch cut short stay pending for this consumer: read those again first
        cursor = '0';
        if (message.includes('NOGROUP')) grouped = false;
        await new Promise((r) => setTimeout(r, 500));
      }
    }
  }

  return {
    start() {
      running = true;
      for (const { route, sinkUrl } of routes) {
        const conn = redis.duplicate();
        conn.on('error', () => {});
        connections.push(conn);
        loops.push(loop(route, sinkUrl, conn));
        log.info('route started', { route: route.name, stream: route.stream, group: route.group, sink: sinkUrl });
      }
    },
    async stop() {
      running = false;
      await Promise.all(loops);
      for (const c of connections) c.disconnect();
    },
  };
}

/**
 * The tick source: sends `dev.proteus.arbitrator.tick` to a sink every period, drift-free
 * (each tick is scheduled from the start time, not from the last one), never overlapping:
 * a tick due while the previous delivery is in flight is skipped and counted.
 */
import { createEvent } from './events.ts';
import { toBinaryHttp } from './http.ts';

export interface TickSourceOptions {
  sinkUrl: string;
  periodMs: number;
  timeoutMs?: number;
  onError?: (error: Error) => void;
  now?: () => number;
  /** extension attributes added to every tick (K_CE_OVERRIDES) */
  overrides?: Record<string, string>;
}

export function createTickSource({
  sinkUrl,
  periodMs,
  timeoutMs = periodMs * 4,
  onError = () => {},
  now = () => performance.now(),
  overrides = {},
}: TickSourceOptions) {
  let timer: NodeJS.Timeout | undefined;
  let inFlight: Promise<void> | undefined;
  const stats = { sent: 0, skipped: 0, failed: 0, seq: 0 };

  async function send(seq: number) {
    const event = createEvent('dev.proteus.arbitrator.tick', 'eventing', { seq, skipped: stats.skipped });
    const { headers, body } = toBinaryHttp({ ...event, ...overrides });
    try {
      const response = await fetch(sinkUrl, { method: 'POST', headers, body, signal: AbortSignal.timeout(timeoutMs) });
      await response.arrayBuffer().catch(() => undefined);
      if (response.ok) stats.sent++;
      else {
        stats.failed++;
        onError(new Error(`tick sink answered ${response.status}`));
      }
    } catch (error) {
      stats.failed++;
      onError(error as Error);
    }
  }

  return {
    stats,
    start() {
      const t0 = now();
      let slot = 0;
      const schedule = () => {
        // the next slot after the one just fired: a timer that fires a little early must not fire the same slot twice;
        // slots missed while the event loop was blocked are dropped, not fired late
        slot = Math.max(slot + 1, Math.floor((now() - t0) / periodMs) + 1);
        timer = setTimeout(fire, Math.max(0, t0 + slot * periodMs - now()));
      };
      const fire = () => {
        const seq = stats.seq++;
        if (inFlight) stats.skipped++;
        else {
          inFlight = send(seq).finally(() => {
            inFlight = undefined;
          });
        }
        schedule();
      };
      schedule();
    },
    async stop() {
      clearTimeout(timer);
      await inFlight;
    },
  };
}

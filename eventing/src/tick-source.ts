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
}

export function createTickSource({ sinkUrl, periodMs, timeoutMs = periodMs * 4, onError = () => {}, now = () => performance.now() }: TickSourceOptions) {
  let timer: NodeJS.Timeout | undefined;
  let inFlight: Promise<void> | undefined;
  const stats = { sent: 0, skipped: 0, failed: 0, seq: 0 };

  async function send(seq: number) {
    const event = createEvent('dev.proteus.arbitrator.tick', 'eventing', { seq, skipped: stats.skipped });
    const { headers, body } = toBinaryHttp(event);
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
      const schedule = () => {
        const next = periodMs - ((now() - t0) % periodMs);
        timer = setTimeout(fire, next);
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

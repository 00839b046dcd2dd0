import { type Check, runChecks } from '@proteus/common';
import { keys } from '@proteus/eventing';
import { Hono } from 'hono';
import type { ApiDeps, AppEnv } from '../env.ts';

interface Heartbeat {
  name: string;
  engine?: string;
  at: string;
}

/** Live workers: heartbeat keys expire on their own; an old `at` means a stuck worker. */
export async function liveWorkers(deps: ApiDeps): Promise<Heartbeat[]> {
  const found: string[] = [];
  let cursor = '0';
  do {
    const [next, batch] = await deps.redis.scan(cursor, 'MATCH', keys.templates.workerHeartbeatPattern, 'COUNT', 200);
    cursor = next;
    found.push(...batch);
  } while (cursor !== '0');
  if (!found.length) return [];
  const values = await deps.redis.mget(found);
  const now = Date.now();
  return values
    .flatMap((v) => {
      try {
        return v ? [JSON.parse(v) as Heartbeat] : [];
      } catch {
        return [];
      }
    })
    .filter((h) => now - Date.parse(h.at) <= deps.workerHeartbeatMaxAgeMs);
}

export function healthChecks(deps: ApiDeps): Record<string, Check> {
  const checks: Record<string, Check> = {
    redis: async () => deps.redis.ping(),
    database: async () => {
      await deps.database.ping();
      return deps.database.kind;
    },
    objectStorage: async () => {
      await deps.storage.check();
      return `bucket ${deps.storage.bucket}`;
    },
    worker: async () => {
      const workers = await liveWorkers(deps);
      if (!workers.length) throw new Error('no gpu-worker heartbeat');
      return workers.map((w) => `${w.name} (${w.engine ?? '?'})`).join(', ');
    },
  };
  const tailorUrl = deps.tailorUrl;
  if (tailorUrl) {
    checks.segment = async () => {
      const response = await fetch(new URL('/health', tailorUrl), { signal: AbortSignal.timeout(1500) });
      if (!response.ok) throw new Error(`segment answered ${response.status}`);
      return 'ok';
    };
  }
  return checks;
}

export const health = new Hono<AppEnv>().get('/', async (c) => {
  const report = await runChecks('api', healthChecks(c.get('deps')));
  return c.json(report, report.status === 'ok' ? 200 : 503);
});

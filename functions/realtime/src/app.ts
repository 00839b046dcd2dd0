import { type Logger, notFoundHandler, problemErrorHandler, runChecks } from '@proteus/common';
import { Hono } from 'hono';
import type { Redis } from 'ioredis';
import type { createUpdates } from './updates.ts';

export function createApp({ redis, updates, log }: { redis: Redis; updates: ReturnType<typeof createUpdates>; log: Logger }) {
  const app = new Hono();
  app.get('/health', async (c) => {
    const report = await runChecks('realtime', {
      redis: async () => redis.ping(),
      subscription: async () => {
        if (!updates.subscribed) throw new Error('not subscribed to updates');
        return `${updates.sockets} sockets, ${updates.owned} authenticated`;
      },
    });
    return c.json(report, report.status === 'ok' ? 200 : 503);
  });
  app.notFound(notFoundHandler);
  app.onError(problemErrorHandler(log));
  return app;
}

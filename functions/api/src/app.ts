/** The api function's Hono app. It never listens: server.ts does. */
import { notFoundHandler, problemErrorHandler } from '@proteus/common';
import { Hono } from 'hono';
import type { ApiDeps, AppEnv } from './env.ts';
import { events } from './routes/events.ts';
import { health } from './routes/health.ts';
import { webApp } from './routes/web.ts';

export type { ApiDeps, AppEnv } from './env.ts';

export function createApp(deps: ApiDeps) {
  const app = new Hono<AppEnv>();
  app.use(async (c, next) => {
    c.set('deps', deps);
    await next();
  });
  // liveness: the process answers; /api/health is readiness with every dependency
  app.get('/healthz', (c) => c.json({ status: 'ok' }));
  app.route('/api/health', health);
  app.route('/events', events);
  if (deps.webDist) app.route('/', webApp(deps.webDist));
  app.notFound(notFoundHandler);
  app.onError(problemErrorHandler(deps.log));
  return app;
}

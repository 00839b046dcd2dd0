/** The api function's Hono app. It never listens: server.ts does. */
import { notFoundHandler, PROBLEM_BASE, Problem, problemErrorHandler, problemResponse } from '@proteus/common';
import { isDatabaseUnavailable } from '@proteus/common/db';
import { Hono } from 'hono';
import { requireAuth } from './auth/require-auth.ts';
import type { ApiDeps, AppEnv } from './env.ts';
import { VerifiedCache } from './images/verified-cache.ts';
import { type ApiMetrics, createApiMetrics, observe } from './observability.ts';
import { openApiRoutes } from './openapi.ts';
import { apiKeyRoutes } from './routes/api-keys.ts';
import { authRoutes } from './routes/auth.ts';
import { cloudEvents } from './routes/cloudevents.ts';
import { events } from './routes/events.ts';
import { health } from './routes/health.ts';
import { images } from './routes/images.ts';
import { jobRoutes } from './routes/jobs.ts';
import { opsRoutes } from './routes/ops.ts';
import { userRoutes } from './routes/users.ts';
import { vtonRoutes } from './routes/vtons.ts';
import { webApp } from './routes/web.ts';
import { drainUnread, UNREAD_BODY } from './validation.ts';

export type { ApiDeps, AppEnv } from './env.ts';

export function createApp(given: ApiDeps) {
  const deps: ApiDeps = { ...given, metrics: given.metrics ?? createApiMetrics(), verifiedImages: given.verifiedImages ?? new VerifiedCache() };
  const metrics = deps.metrics as ApiMetrics;
  const app = new Hono<AppEnv>();
  app.use(async (c, next) => {
    c.set('deps', deps);
    await next();
  });
  app.use(observe(metrics, deps.log));
  // liveness: the process answers; /api/health is readiness with every dependency
  app.get('/healthz', (c) => c.json({ status: 'ok' }));
  // Prometheus; the ingress does not expose it
  app.get('/metrics', async (c) => c.text(await metrics.registry.metrics(), 200, { 'content-type': metrics.registry.contentType }));
  // the OpenAPI document and its reference page, public
  app.route('/api', openApiRoutes);
  app.route('/api/health', health);
  app.route('/api/auth', authRoutes);
  app.route('/api/users', userRoutes);
  app.route('/api/api-keys', apiKeyRoutes);
  // shop backends may use their API keys here too
  app.use('/api/images/*', requireAuth());
  app.route('/api/images', images);
  app.route('/api/vtons', vtonRoutes);
  // job submission, status and listing; each route guards itself
  app.route('/api', jobRoutes);
  app.route('/api/cloudevents', cloudEvents);
  app.route('/api/ops', opsRoutes);
  app.route('/events', events);
  if (deps.webDist) app.route('/', webApp(deps.webDist));
  app.notFound(notFoundHandler);
  const onProblem = problemErrorHandler(deps.log);
  app.onError(async (error, c) => {
    if (error instanceof Problem && error.headers.connection === UNREAD_BODY.connection) await drainUnread(c);
    // the database down or restarting: nothing was written (a queued entry is withdrawn), retry
    if (!isDatabaseUnavailable(error)) return onProblem(error, c);
    deps.log.warn('database unavailable', { error: error.message, path: c.req.path, method: c.req.method });
    return problemResponse(
      {
        type: `${PROBLEM_BASE}database-unavailable`,
        title: 'Database unavailable',
        status: 503,
        detail: 'the database cannot be reached; nothing was recorded, retry later',
        instance: c.req.path,
      },
      { 'retry-after': '1' },
    );
  });
  return app;
}

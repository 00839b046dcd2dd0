/**
 * The stream source as a process: in dev one process runs every route; in the cluster each
 * route runs as a ContainerSource / SinkBinding and K_SINK names its sink.
 */
import { hostname } from 'node:os';
import { configOrExit, createLogger, createRedis, env, listen, loadConfig, onShutdown, runChecks } from '@proteus/common';
import { Hono } from 'hono';
import { z } from 'zod';
import { createStreamSource } from '../stream-source.ts';
import { sinkUrlEnv, streamRoutes } from '../topology.ts';

const names = streamRoutes.map((r) => r.name);
const config = configOrExit(() =>
  loadConfig(
    'stream-source',
    z
      .object({
        PORT: env.port(0),
        HOST: env.host(),
        REDIS_URL: env.redisUrl(),
        STREAM_SOURCE_ROUTES: z
          .string()
          .default(names.join(','))
          .transform((v) => v.split(',').map((s) => s.trim()))
          .refine((list) => list.every((n) => names.includes(n)), { error: `expected a comma-separated list of ${names.join(', ')}` }),
        CONSUMER_NAME: z
          .string()
          .regex(/^[A-Za-z0-9][A-Za-z0-9_.-]{0,127}$/)
          .default(hostname().split('.')[0] ?? 'stream-source'),
        K_SINK: env.url().optional(),
        API_URL: env.url().optional(),
        TAILOR_URL: env.url().optional(),
        ARBITRATOR_URL: env.url().optional(),
        LOG_LEVEL: env.logLevel(),
      })
      .superRefine((c, ctx) => {
        if (c.K_SINK && c.STREAM_SOURCE_ROUTES.length !== 1)
          ctx.addIssue({ code: 'custom', path: ['K_SINK'], message: 'K_SINK needs exactly one route in STREAM_SOURCE_ROUTES' });
        for (const route of streamRoutes.filter((r) => c.STREAM_SOURCE_ROUTES.includes(r.name))) {
          const name = sinkUrlEnv[route.sink.part] as 'API_URL' | 'TAILOR_URL' | 'ARBITRATOR_URL';
          if (!c.K_SINK && !c[name]) ctx.addIssue({ code: 'custom', path: [name], message: `required for route ${route.name} (or set K_SINK)` });
        }
      }),
  ),
);

const log = createLogger('stream-source', { level: config.LOG_LEVEL });
const redis = createRedis(config.REDIS_URL, `stream-source:${config.CONSUMER_NAME}`);
const routes = streamRoutes
  .filter((r) => config.STREAM_SOURCE_ROUTES.includes(r.name))
  .map((route) => {
    const base = config.K_SINK ?? (config[sinkUrlEnv[route.sink.part] as 'API_URL'] as string);
    return { route, sinkUrl: config.K_SINK ? base : new URL(route.sink.path, base).toString() };
  });
const source = createStreamSource({ redis, routes, consumer: config.CONSUMER_NAME, log });

const app = new Hono();
app.get('/health', async (c) => {
  const report = await runChecks('stream-source', { redis: async () => redis.ping() });
  return c.json(report, report.status === 'ok' ? 200 : 503);
});

const server = await listen(app, { port: config.PORT, host: config.HOST, log, part: 'stream-source' }).catch((error: Error) => {
  log.error(error.message);
  process.exit(1);
});
source.start();
log.info('listening', { url: server.url, routes: routes.map((r) => r.route.name) });
onShutdown(async () => {
  await source.stop();
  await server.close();
  redis.disconnect();
}, log);

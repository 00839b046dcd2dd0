/**
 * The stream source as a process: in dev one process runs every route; in the cluster each
 * route runs as a ContainerSource / SinkBinding and K_SINK names its sink.
 */
import { configOrExit, createLogger, createRedis, listen, loadConfig, onShutdown, runChecks } from '@proteus/common';
import { Hono } from 'hono';
import { streamSourceConfigSchema } from '../source-config.ts';
import { createSourceMetrics } from '../source-metrics.ts';
import { createStreamSource } from '../stream-source.ts';
import { sinkUrlEnv, streamRoutes } from '../topology.ts';

const config = configOrExit(() => loadConfig('stream-source', streamSourceConfigSchema));

const log = createLogger('stream-source', { level: config.LOG_LEVEL });
const redis = createRedis(config.REDIS_URL, `stream-source:${config.CONSUMER_NAME}`);
const routes = streamRoutes
  .filter((r) => config.STREAM_SOURCE_ROUTES.includes(r.name))
  .map((route) => {
    const base = config.K_SINK ?? (config[sinkUrlEnv[route.sink.part] as 'API_URL'] as string);
    const inFlight = config.STREAM_SOURCE_IN_FLIGHT ?? route.inFlight;
    return { route: { ...route, inFlight }, sinkUrl: config.K_SINK ? base : new URL(route.sink.path, base).toString() };
  });
const metrics = createSourceMetrics(
  redis,
  routes.map((r) => r.route),
);
const source = createStreamSource({
  redis,
  routes,
  consumer: config.CONSUMER_NAME,
  log,
  mode: config.STREAM_SOURCE_MODE,
  reclaimIdleMs: config.STREAM_SOURCE_RECLAIM_IDLE_MS,
  stopDeadlineMs: config.STREAM_SOURCE_STOP_DEADLINE_MS,
  metrics,
  overrides: config.K_CE_OVERRIDES,
});

const app = new Hono();
app.get('/health', async (c) => {
  const report = await runChecks('stream-source', { redis: async () => redis.ping() });
  return c.json(report, report.status === 'ok' ? 200 : 503);
});

app.get('/metrics', async (c) => c.text(await metrics.registry.metrics(), 200, { 'content-type': metrics.registry.contentType }));

const server = await listen(app, { port: config.PORT, host: config.HOST, part: 'stream-source' }).catch((error: Error) => {
  log.error(error.message);
  process.exit(1);
});
source.start();
log.info('listening', { url: server.url, routes: routes.map((r) => r.route.name) });
// the stop deadline stays inside the shutdown grace, so in-flight work ends before the process does
onShutdown(async () => {
  await source.stop();
  await server.close();
  redis.disconnect();
}, log);

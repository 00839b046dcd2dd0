/** The tick source as a process; K_SINK (cluster) or ARBITRATOR_URL (dev) names the sink. */
import { configOrExit, createLogger, env, listen, loadConfig, onShutdown } from '@proteus/common';
import { Hono } from 'hono';
import { z } from 'zod';
import { createTickSource } from '../tick-source.ts';
import { tickRoutes } from '../topology.ts';

const route = tickRoutes[0]!;
const config = configOrExit(() =>
  loadConfig(
    'tick-source',
    z
      .object({
        PORT: env.port(0),
        HOST: env.host(),
        K_SINK: env.url().optional(),
        ARBITRATOR_URL: env.url().optional(),
        TICK_PERIOD_MS: env.positiveInt(route.periodMs),
        LOG_LEVEL: env.logLevel(),
      })
      .superRefine((c, ctx) => {
        if (!c.K_SINK && !c.ARBITRATOR_URL) ctx.addIssue({ code: 'custom', path: ['ARBITRATOR_URL'], message: 'required (or set K_SINK)' });
      }),
  ),
);
const log = createLogger('tick-source', { level: config.LOG_LEVEL });
const sinkUrl = config.K_SINK ?? new URL(route.sink.path, config.ARBITRATOR_URL).toString();
let lastError = '';
const ticks = createTickSource({
  sinkUrl,
  periodMs: config.TICK_PERIOD_MS,
  onError: (error) => {
    // one line per distinct failure, not one per tick
    if (error.message !== lastError) log.warn('tick not delivered', { error: error.message });
    lastError = error.message;
  },
});

const app = new Hono();
app.get('/health', (c) => c.json({ status: 'ok', part: 'tick-source', sink: sinkUrl, ...ticks.stats }));

const server = await listen(app, { port: config.PORT, host: config.HOST, log, part: 'tick-source' }).catch((error: Error) => {
  log.error(error.message);
  process.exit(1);
});
ticks.start();
log.info('listening', { url: server.url, sink: sinkUrl, periodMs: config.TICK_PERIOD_MS });
onShutdown(async () => {
  await ticks.stop();
  await server.close();
}, log);

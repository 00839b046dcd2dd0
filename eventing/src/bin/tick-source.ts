/** The tick source as a process; K_SINK (cluster) or ARBITRATOR_URL (dev) names the sink. */
import { configOrExit, createLogger, listen, loadConfig, onShutdown } from '@proteus/common';
import { Hono } from 'hono';
import { Counter, Registry } from 'prom-client';
import { tickSourceConfigSchema } from '../source-config.ts';
import { createTickSource } from '../tick-source.ts';
import { tickRoutes } from '../topology.ts';

const route = tickRoutes[0]!;
const config = configOrExit(() => loadConfig('tick-source', tickSourceConfigSchema));
const log = createLogger('tick-source', { level: config.LOG_LEVEL });
const sinkUrl = config.K_SINK ?? new URL(route.sink.path, config.ARBITRATOR_URL).toString();
let lastError = '';
const ticks = createTickSource({
  sinkUrl,
  periodMs: config.TICK_PERIOD_MS,
  overrides: config.K_CE_OVERRIDES,
  onError: (error) => {
    // one line per distinct failure, not one per tick
    if (error.message !== lastError) log.warn('tick not delivered', { error: error.message });
    lastError = error.message;
  },
});

const registry = new Registry();
for (const [key, help] of [
  ['sent', 'Ticks the sink accepted'],
  ['skipped', 'Ticks skipped because the previous delivery was still in flight'],
  ['failed', 'Ticks the sink refused or did not answer'],
] as const) {
  new Counter({
    name: `proteus_tick_${key}_total`,
    help,
    registers: [registry],
    collect() {
      // the tick source keeps its own counts; the counter mirrors them at scrape time
      this.reset();
      this.inc(ticks.stats[key]);
    },
  });
}

const app = new Hono();
app.get('/health', (c) => c.json({ status: 'ok', part: 'tick-source', sink: sinkUrl, ...ticks.stats }));
app.get('/metrics', async (c) => c.text(await registry.metrics(), 200, { 'content-type': registry.contentType }));

const server = await listen(app, { port: config.PORT, host: config.HOST, part: 'tick-source' }).catch((error: Error) => {
  log.error(error.message);
  process.exit(1);
});
ticks.start();
log.info('listening', { url: server.url, sink: sinkUrl, periodMs: config.TICK_PERIOD_MS });
onShutdown(async () => {
  await ticks.stop();
  await server.close();
}, log);

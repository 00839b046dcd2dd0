import { configOrExit, createLogger, createRedis, listen, loadConfig, onShutdown } from '@proteus/common';
import { createApp } from './app.ts';
import { arbitratorConfigSchema, metricsOptionsOf, policyConfigOf } from './config.ts';

const config = configOrExit(() => loadConfig('arbitrator', arbitratorConfigSchema));
const log = createLogger('arbitrator', { level: config.LOG_LEVEL });
const redis = createRedis(config.REDIS_URL, 'arbitrator');
const app = createApp({ redis, log, policyConfig: policyConfigOf(config), metricsOptions: metricsOptionsOf(config) });
const server = await listen(app, { port: config.PORT, host: config.HOST, part: 'arbitrator' }).catch((error: Error) => {
  log.error(error.message);
  process.exit(1);
});
log.info('listening', { url: server.url, strategy: config.POLICY_STRATEGY });
onShutdown(async () => {
  await server.close();
  redis.disconnect();
}, log);

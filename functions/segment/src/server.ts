import { configOrExit, createLogger, createRedis, listen, loadConfig, onShutdown } from '@proteus/common';
import { createObjectStorage, storageConfigFromEnv } from '@proteus/common/storage';
import { createApp } from './app.ts';
import { segmentConfigSchema } from './config.ts';

const config = configOrExit(() => loadConfig('segment', segmentConfigSchema));
const log = createLogger('segment', { level: config.LOG_LEVEL });
const redis = createRedis(config.REDIS_URL, 'segment');
// the schema requires the endpoint and its keys
const storage = createObjectStorage(storageConfigFromEnv(config)!);
const server = await listen(createApp({ redis, storage, log }), { port: config.PORT, host: config.HOST, part: 'segment' }).catch((error: Error) => {
  log.error(error.message);
  process.exit(1);
});
log.info('listening', { url: server.url });
onShutdown(async () => {
  await server.close();
  storage.close();
  redis.disconnect();
}, log);

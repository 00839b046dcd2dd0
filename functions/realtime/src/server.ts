import { configOrExit, createLogger, createRedis, listen, loadConfig, onShutdown } from '@proteus/common';
import { createApp } from './app.ts';
import { realtimeConfigSchema } from './config.ts';
import { createUpdates } from './updates.ts';

const config = configOrExit(() => loadConfig('realtime', realtimeConfigSchema));
const log = createLogger('realtime', { level: config.LOG_LEVEL });
const redis = createRedis(config.REDIS_URL, 'realtime');
const subscriber = createRedis(config.REDIS_URL, 'realtime-sub');
const updates = createUpdates({
  subscriber,
  allowedOrigins: config.ALLOWED_ORIGINS,
  heartbeatMs: config.HEARTBEAT_MS,
  log,
  jwtSecret: config.JWT_SECRET,
  authTimeoutMs: config.AUTH_TIMEOUT_MS,
  maxBufferedBytes: config.MAX_BUFFERED_BYTES,
});
try {
  await updates.start();
  const server = await listen(createApp({ redis, updates, log }), { port: config.PORT, host: config.HOST, part: 'realtime' });
  server.server.on('upgrade', updates.handleUpgrade);
  log.info('listening', { url: server.url, allowedOrigins: config.ALLOWED_ORIGINS });
  onShutdown(async () => {
    await updates.close();
    await server.close();
    subscriber.disconnect();
    redis.disconnect();
  }, log);
} catch (error) {
  log.error('realtime failed to start', { error });
  process.exit(1);
}

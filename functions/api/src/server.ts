import { configOrExit, createLogger, createRedis, listen, loadConfig, onShutdown } from '@proteus/common';
import { openDatabase } from '@proteus/common/db';
import { createObjectStorage, type EmbeddedS3, startEmbeddedS3, storageConfigFromEnv } from '@proteus/common/storage';
import { createApp } from './app.ts';
import { authSettingsFrom } from './auth/settings.ts';
import { apiConfigSchema } from './config.ts';
import { imageSettingsFrom } from './images/settings.ts';

const config = configOrExit(() => loadConfig('api', apiConfigSchema));
const log = createLogger('api', { level: config.LOG_LEVEL });

try {
  const redis = createRedis(config.REDIS_URL, 'api', { autoPipelining: true });
  const database = await openDatabase({
    url: config.DATABASE_URL,
    pgliteDir: config.PGLITE_DIR,
    poolSize: config.DATABASE_POOL_MAX,
    preparedStatements: config.DATABASE_PREPARED_STATEMENTS === 'on',
  });
  // no endpoint configured: an S3 server in this process (dev only; it checks no signatures)
  let embedded: EmbeddedS3 | undefined;
  if (!config.OBJECT_STORAGE_ENDPOINT) {
    embedded = await startEmbeddedS3({ directory: '.dev/s3', bucket: config.OBJECT_STORAGE_BUCKET });
    log.warn('OBJECT_STORAGE_ENDPOINT unset: using the embedded S3 server', { endpoint: embedded.endpoint });
  }
  const storage = createObjectStorage(storageConfigFromEnv(config) ?? (embedded as EmbeddedS3).config);
  const app = createApp({
    redis,
    database,
    storage,
    log,
    tailorUrl: config.TAILOR_URL,
    webDist: config.WEB_DIST,
    workerHeartbeatMaxAgeMs: config.WORKER_HEARTBEAT_MAX_AGE_MS,
    auth: authSettingsFrom(config),
    images: imageSettingsFrom(config),
  });
  const server = await listen(app, { port: config.PORT, host: config.HOST, part: 'api' });
  log.info('listening', { url: server.url, database: database.kind, objectStorage: storage.config.endpoint });
  onShutdown(async () => {
    await server.close();
    await database.close();
    storage.close();
    await embedded?.close();
    redis.disconnect();
  }, log);
} catch (error) {
  log.error('api failed to start', { error });
  process.exit(1);
}

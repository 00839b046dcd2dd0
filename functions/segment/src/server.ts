/**
 * Starts the segment function: configuration first (a bad variable exits 2 before anything
 * heavy loads), then the model with its warm-up (a missing model exits 1 saying how to provide
 * it), then the HTTP server.
 */
import { configOrExit, createLogger, createRedis, listen, loadConfig, onShutdown } from '@proteus/common';
import { createObjectStorage, storageConfigFromEnv } from '@proteus/common/storage';
import { segmentConfigSchema } from './config.ts';

const config = configOrExit(() => loadConfig('segment', segmentConfigSchema));
const log = createLogger('segment', { level: config.LOG_LEVEL });
// ONNX Runtime, transformers.js and sharp load only once the configuration is known good
const [{ createApp }, { createSegmentMetrics }, { loadSegmenter, ModelMissing }, { createSegmentation }, { defaultGarmentSettings }] = await Promise.all([
  import('./app.ts'),
  import('./metrics.ts'),
  import('./model/segmenter.ts'),
  import('./segmentation.ts'),
  import('./post/garment.ts'),
]);

// the model first: the function listens only once it can answer (Knative routes to it when it does)
const segmenter = await loadSegmenter({
  modelId: config.SEGMENT_MODEL_ID,
  modelDir: config.SEGMENT_MODEL_DIR,
  dtype: config.SEGMENT_MODEL_DTYPE,
  threads: config.SEGMENT_THREADS,
  tinyFallback: config.SEGMENT_TINY_FALLBACK,
  onFallback: (missing) =>
    log.warn('SEGMENTATION RUNS ON A TINY RANDOM MODEL: every result is meaningless. SEGMENT_TINY_FALLBACK=true is for dev only.', {
      why: missing.message,
    }),
}).catch((error: Error) => {
  if (error instanceof ModelMissing) {
    log.error(error.message, { modelId: error.modelId, modelDir: error.modelDir, missing: error.missing });
    process.stderr.write(`proteus segment: ${error.message}\n`);
  } else {
    log.error('the model did not load', { error });
  }
  process.exit(1);
});
log.info('model loaded', {
  modelId: segmenter.modelId,
  dtype: segmenter.dtype,
  seconds: Number(segmenter.loadSeconds.toFixed(3)),
  fallback: segmenter.fallback,
});

const metrics = createSegmentMetrics();
const segmentation = createSegmentation(
  segmenter,
  {
    limits: { maxBytes: config.SEGMENT_MAX_BYTES, maxPixels: config.SEGMENT_MAX_PIXELS },
    classes: config.SEGMENT_CLASSES,
    concurrency: config.SEGMENT_CONCURRENCY,
    maxWaiting: config.SEGMENT_MAX_WAITING,
    garment: { ...defaultGarmentSettings, maxOutputSide: config.SEGMENT_MAX_OUTPUT_SIDE },
  },
  metrics,
);
const redis = createRedis(config.REDIS_URL, 'segment');
// the schema requires the endpoint and its keys
const storage = createObjectStorage(storageConfigFromEnv(config)!);
const server = await listen(createApp({ redis, storage, log, segmentation, metrics }), { port: config.PORT, host: config.HOST, part: 'segment' }).catch(
  (error: Error) => {
    log.error(error.message);
    process.exit(1);
  },
);
log.info('listening', { url: server.url });
onShutdown(async () => {
  await server.close();
  storage.close();
  redis.disconnect();
  await segmenter.dispose();
}, log);

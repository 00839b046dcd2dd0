/**
 * The segment function (the original design's Tailor): SegFormer garment extraction.
 * `POST /segment` answers a PNG synchronously; `POST /` takes `dev.proteus.segment.requested`
 * CloudEvents from the stream source and writes the result to object storage. `app.ts` builds
 * the app and never listens (server.ts does); the model comes in ready, loaded and warmed up.
 */
import { notFoundHandler, problemErrorHandler, runChecks } from '@proteus/common';
import { createProducer } from '@proteus/eventing';
import { Hono } from 'hono';
import type { AppEnv, SegmentDeps } from './env.ts';
import { events } from './routes/events.ts';
import { segment } from './routes/segment.ts';

export type { SegmentDeps } from './env.ts';

export function createApp(deps: SegmentDeps) {
  const all = { ...deps, producer: deps.producer ?? createProducer(deps.redis) };
  const { segmenter } = deps.segmentation;
  deps.metrics.modelLoad.set({ model: segmenter.modelId, dtype: segmenter.dtype, fallback: String(segmenter.fallback) }, segmenter.loadSeconds);

  const app = new Hono<AppEnv>();
  app.use(async function withDeps(c, next) {
    c.set('deps', all);
    await next();
  });
  app.get('/health', async (c) => {
    const report = await runChecks('segment', {
      redis: async () => deps.redis.ping(),
      objectStorage: async () => {
        await deps.storage.check();
        return `bucket ${deps.storage.bucket}`;
      },
      model: async () =>
        `${segmenter.modelId} ${segmenter.dtype}, loaded in ${segmenter.loadSeconds.toFixed(2)} s` +
        (segmenter.fallback ? ' (TINY RANDOM FALLBACK: outputs are meaningless)' : ''),
    });
    return c.json(report, report.status === 'ok' ? 200 : 503);
  });
  app.get('/metrics', async (c) => c.text(await deps.metrics.registry.metrics(), 200, { 'content-type': deps.metrics.registry.contentType }));
  app.route('/segment', segment);
  app.route('/', events);
  app.notFound(notFoundHandler);
  app.onError(problemErrorHandler(deps.log));
  return app;
}

/**
 * The segment app's dependencies for route tests: the committed tiny model (loaded once per
 * file), an isolated Redis database and bucket on the real test services.
 */
import { createLogger, createRedis } from '@proteus/common';
import { createObjectStorage, type ObjectStorage } from '@proteus/common/storage';
import { isolatedBucket, isolatedRedisUrl } from '@proteus/testkit';
import type { Redis } from 'ioredis';
import type { SegmentDeps } from '../src/app.ts';
import { CLASS } from '../src/labels.ts';
import { createSegmentMetrics } from '../src/metrics.ts';
import { TINY_MODEL } from '../src/model/location.ts';
import { loadSegmenter, type Segmenter } from '../src/model/segmenter.ts';
import { createSegmentation, type SegmentationSettings } from '../src/segmentation.ts';

export const testSettings: SegmentationSettings = {
  limits: { maxBytes: 2 * 1024 * 1024, maxPixels: 4_000_000 },
  classes: [CLASS['Upper-clothes']],
  concurrency: 1,
  maxWaiting: 8,
};

export interface TestWorld {
  redis: Redis;
  storage: ObjectStorage;
  bucket: Awaited<ReturnType<typeof isolatedBucket>>;
  segmenter: Segmenter;
  /** deps with a fresh metrics registry and segmentation; `settings` overrides the test ones */
  deps(settings?: Partial<SegmentationSettings>, extra?: Partial<SegmentDeps>): SegmentDeps;
  close(): Promise<void>;
}

export async function testWorld(): Promise<TestWorld> {
  const redis = createRedis(await isolatedRedisUrl(), 'segment-test');
  const bucket = await isolatedBucket();
  const storage = createObjectStorage({ ...bucket.server, bucket: bucket.bucket });
  const segmenter = await loadSegmenter({ modelId: TINY_MODEL.id, modelDir: TINY_MODEL.dir, dtype: 'fp32', threads: 1 });
  const log = createLogger('segment', { write: () => undefined });
  return {
    redis,
    storage,
    bucket,
    segmenter,
    deps(settings = {}, extra = {}) {
      const metrics = createSegmentMetrics();
      return { redis, storage, log, metrics, segmentation: createSegmentation(segmenter, { ...testSettings, ...settings }, metrics), ...extra };
    },
    async close() {
      await segmenter.dispose();
      storage.close();
      await bucket.drop();
      redis.disconnect();
    },
  };
}

/**
 * The segment function's Hono environment: its dependencies, set once per request by the app.
 */
import type { Logger } from '@proteus/common';
import type { ObjectStorage } from '@proteus/common/storage';
import type { Producer } from '@proteus/eventing';
import type { Redis } from 'ioredis';
import type { SegmentMetrics } from './metrics.ts';
import type { Segmentation } from './segmentation.ts';

export interface SegmentDeps {
  redis: Redis;
  storage: ObjectStorage;
  log: Logger;
  segmentation: Segmentation;
  metrics: SegmentMetrics;
  /** default: a producer on `redis` */
  producer?: Producer;
}

export type AppEnv = { Variables: { deps: SegmentDeps & { producer: Producer } } };

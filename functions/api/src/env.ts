import type { Logger } from '@proteus/common';
import type { DatabaseHandle } from '@proteus/common/db';
import type { ObjectStorage } from '@proteus/common/storage';
import type { Producer } from '@proteus/eventing';
import type { Redis } from 'ioredis';
import type { Auth, AuthSettings } from './auth/settings.ts';
import type { ImageSettings } from './images/settings.ts';
import type { VerifiedCache } from './images/verified-cache.ts';
import type { ApiMetrics } from './observability.ts';

/** What the api's handlers are given: built once at start, replaced by real services in tests too. */
export interface ApiDeps {
  redis: Redis;
  database: DatabaseHandle;
  storage: ObjectStorage;
  log: Logger;
  tailorUrl?: string | undefined;
  webDist?: string | undefined;
  workerHeartbeatMaxAgeMs: number;
  auth: AuthSettings;
  images: ImageSettings;
  /** XADDs job events; unset, one is made on `redis` (tests point it at another Redis) */
  producer?: Producer | undefined;
  /** verified images this process knows; createApp makes one when not given */
  verifiedImages?: VerifiedCache | undefined;
  /** request and submission metrics; createApp makes them when not given */
  metrics?: ApiMetrics | undefined;
}

/**
 * `auth` is set by the auth middleware on the routes that require it. Read them with
 * `c.get('deps')`: Hono's `c.var` builds a new object of every variable on each access.
 */
export type AppEnv = { Variables: { deps: ApiDeps; auth: Auth } };

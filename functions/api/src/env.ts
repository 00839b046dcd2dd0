import type { Logger } from '@proteus/common';
import type { DatabaseHandle } from '@proteus/common/db';
import type { ObjectStorage } from '@proteus/common/storage';
import type { Redis } from 'ioredis';
import type { Auth, AuthSettings } from './auth/settings.ts';
import type { ImageSettings } from './images/settings.ts';

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
}

/** `auth` is set by the auth middleware on the routes that require it. */
export type AppEnv = { Variables: { deps: ApiDeps; auth: Auth } };

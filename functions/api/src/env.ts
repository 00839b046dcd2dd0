import type { Logger } from '@proteus/common';
import type { DatabaseHandle } from '@proteus/common/db';
import type { ObjectStorage } from '@proteus/common/storage';
import type { Redis } from 'ioredis';

/** What the api's handlers are given: built once at start, replaced by real services in tests too. */
export interface ApiDeps {
  redis: Redis;
  database: DatabaseHandle;
  storage: ObjectStorage;
  log: Logger;
  tailorUrl?: string | undefined;
  webDist?: string | undefined;
  workerHeartbeatMaxAgeMs: number;
}

export type AppEnv = { Variables: { deps: ApiDeps } };

import { env, objectStorageEnv, requireStorageKeys } from '@proteus/common';
import { z } from 'zod';
import { authEnv } from './auth/settings.ts';
import { imagesEnv } from './images/settings.ts';

export const apiConfigSchema = z
  .object({
    PORT: env.port(8081),
    HOST: env.host(),
    REDIS_URL: env.redisUrl(),
    /** unset: PGlite in PGLITE_DIR (or in memory) */
    DATABASE_URL: env.postgresUrl().optional(),
    PGLITE_DIR: z.string().min(1).optional(),
    /** connections to PostgreSQL per api process (each holds one PostgreSQL backend) */
    DATABASE_POOL_MAX: env.positiveInt(20),
    /** `off` behind a pooler that hands out a server connection per transaction (PgBouncer in transaction mode before 1.21) */
    DATABASE_PREPARED_STATEMENTS: z.enum(['on', 'off'], { error: 'expected on or off' }).default('on'),
    ...objectStorageEnv,
    /** the segment function (the original design's Tailor) */
    TAILOR_URL: env.url().optional(),
    /** the built web app to serve at / (dev; the cluster serves it from the ingress) */
    WEB_DIST: z.string().min(1).optional(),
    /** a worker whose heartbeat is older than this counts as gone */
    WORKER_HEARTBEAT_MAX_AGE_MS: env.positiveInt(10_000),
    ...authEnv,
    ...imagesEnv,
    LOG_LEVEL: env.logLevel(),
  })
  .superRefine(requireStorageKeys);

export type ApiConfig = z.infer<typeof apiConfigSchema>;

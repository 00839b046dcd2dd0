import { join } from 'node:path';
import { env, objectStorageEnv, requireStorageKeys } from '@proteus/common';
import { z } from 'zod';
import { repoRoot } from './workspaces.ts';

export const DEFAULT_PORT = 8080;

/** The dev supervisor's own settings; what it leaves unset it starts embedded. */
export const devConfigSchema = z
  .object({
    PORT: env.port(DEFAULT_PORT).optional(),
    HOST: z.string().min(1).default('127.0.0.1'),
    REDIS_URL: env.redisUrl().optional(),
    DATABASE_URL: env.postgresUrl().optional(),
    ...objectStorageEnv,
    /** the api's token key; unset: one is made and kept in PROTEUS_DEV_DIR */
    JWT_SECRET: z.string().min(32, { error: 'expected at least 32 characters' }).optional(),
    PROTEUS_DEV_DIR: z.string().min(1).default(join(repoRoot, '.dev')),
    LOG_LEVEL: env.logLevel(),
  })
  .superRefine(requireStorageKeys);

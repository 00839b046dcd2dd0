import { env, objectStorageEnv, requireStorageKeys } from '@proteus/common';
import { z } from 'zod';

export const segmentConfigSchema = z
  .object({
    PORT: env.port(8082),
    HOST: env.host(),
    REDIS_URL: env.redisUrl(),
    ...objectStorageEnv,
    OBJECT_STORAGE_ENDPOINT: objectStorageEnv.OBJECT_STORAGE_ENDPOINT.unwrap(),
    LOG_LEVEL: env.logLevel(),
  })
  .superRefine(requireStorageKeys);

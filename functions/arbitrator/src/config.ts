import { env } from '@proteus/common';
import { z } from 'zod';

export const arbitratorConfigSchema = z
  .object({
    PORT: env.port(8083),
    HOST: env.host(),
    REDIS_URL: env.redisUrl(),
    POLICY_VIP_MAX_DEPTH: env.positiveInt(10),
    POLICY_ECONOMY_MAX_DEPTH: env.positiveInt(50),
    POLICY_DEGRADED_WAIT_MS: env.positiveInt(10_000),
    LOG_LEVEL: env.logLevel(),
  })
  .refine((c) => c.POLICY_ECONOMY_MAX_DEPTH > c.POLICY_VIP_MAX_DEPTH, {
    path: ['POLICY_ECONOMY_MAX_DEPTH'],
    error: 'expected a depth above POLICY_VIP_MAX_DEPTH',
  });

import { env } from '@proteus/common';
import { z } from 'zod';

export const realtimeConfigSchema = z.object({
  PORT: env.port(8084),
  HOST: env.host(),
  REDIS_URL: env.redisUrl(),
  /** origins allowed to open /updates, comma-separated */
  ALLOWED_ORIGINS: z
    .string()
    .default('http://localhost:8080,http://127.0.0.1:8080')
    .transform((v) =>
      v
        .split(',')
        .map((s) => s.trim())
        .filter(Boolean),
    )
    .refine((list) => list.every((o) => /^https?:\/\/[^/]+$/.test(o)), { error: 'expected comma-separated origins like https://shop.example' }),
  HEARTBEAT_MS: env.positiveInt(25_000),
  /** the api's token key: sockets prove their owner with an access token */
  JWT_SECRET: z.string({ error: "required, the api's JWT_SECRET" }).min(32, { error: 'expected at least 32 characters' }),
  /** a socket that has not authenticated by then is closed */
  AUTH_TIMEOUT_MS: env.positiveInt(5000),
  /** a client with more than this queued and unread is cut off */
  MAX_BUFFERED_BYTES: env.positiveInt(1024 * 1024),
  LOG_LEVEL: env.logLevel(),
});

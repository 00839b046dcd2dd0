import { env, objectStorageEnv, requireStorageKeys } from '@proteus/common';
import { z } from 'zod';
import { describeSelectable, parseClasses } from './labels.ts';
import { DEFAULT_MODEL_DIR, DEFAULT_MODEL_ID } from './model/location.ts';

const flag = (fallback: boolean) =>
  z
    .enum(['true', 'false', '1', '0'], { error: 'expected true or false' })
    .default(fallback ? 'true' : 'false')
    .transform((v) => v === 'true' || v === '1');

export const segmentConfigSchema = z
  .object({
    PORT: env.port(8082),
    HOST: env.host(),
    REDIS_URL: env.redisUrl(),
    ...objectStorageEnv,
    OBJECT_STORAGE_ENDPOINT: objectStorageEnv.OBJECT_STORAGE_ENDPOINT.unwrap(),
    LOG_LEVEL: env.logLevel(),
    SEGMENT_MODEL_ID: z
      .string()
      .regex(/^[A-Za-z0-9][\w.-]*(\/[A-Za-z0-9][\w.-]*)?$/, { error: 'expected a model id like Xenova/segformer_b2_clothes' })
      .default(DEFAULT_MODEL_ID),
    SEGMENT_MODEL_DIR: z.string().min(1).default(DEFAULT_MODEL_DIR),
    SEGMENT_MODEL_DTYPE: z.enum(['fp32', 'q8'], { error: 'expected fp32 (onnx/model.onnx) or q8 (onnx/model_quantized.onnx)' }).default('fp32'),
    SEGMENT_TINY_FALLBACK: flag(false),
    SEGMENT_CLASSES: z
      .string()
      .default('4')
      .transform((v, ctx) => {
        try {
          return parseClasses(v);
        } catch (error) {
          ctx.addIssue({ code: 'custom', message: `${(error as Error).message}; selectable: ${describeSelectable()}` });
          return z.NEVER;
        }
      }),
    SEGMENT_MAX_BYTES: env.positiveInt(15 * 1024 * 1024),
    SEGMENT_MAX_PIXELS: env.positiveInt(40_000_000),
    SEGMENT_MAX_OUTPUT_SIDE: env.positiveInt(2048),
    SEGMENT_THREADS: z.coerce.number().int().positive({ error: 'expected a number of threads above 0' }).optional(),
    SEGMENT_CONCURRENCY: env.positiveInt(1),
    SEGMENT_MAX_WAITING: env.positiveInt(16),
  })
  .superRefine(requireStorageKeys);

export type SegmentConfig = z.infer<typeof segmentConfigSchema>;

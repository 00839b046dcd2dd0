import { ConfigError, loadConfig } from '@proteus/common';
import { describe, expect, it } from 'vitest';
import { segmentConfigSchema } from './config.ts';
import { DEFAULT_MODEL_DIR } from './model/location.ts';

const base = {
  REDIS_URL: 'redis://127.0.0.1:6379',
  OBJECT_STORAGE_ENDPOINT: 'http://127.0.0.1:9000',
  OBJECT_STORAGE_ACCESS_KEY: 'a',
  OBJECT_STORAGE_SECRET_KEY: 'b',
};
const load = (env: Record<string, string>) => loadConfig('segment', segmentConfigSchema, { ...base, ...env });

describe('segment configuration', () => {
  it('defaults to the hub model in the package folder, fp32, upper clothes, no fallback', () => {
    expect(load({})).toMatchObject({
      SEGMENT_MODEL_ID: 'Xenova/segformer_b2_clothes',
      SEGMENT_MODEL_DIR: DEFAULT_MODEL_DIR,
      SEGMENT_MODEL_DTYPE: 'fp32',
      SEGMENT_TINY_FALLBACK: false,
      SEGMENT_CLASSES: [4],
      SEGMENT_MAX_BYTES: 15 * 1024 * 1024,
      SEGMENT_MAX_PIXELS: 40_000_000,
      SEGMENT_MAX_OUTPUT_SIDE: 2048,
      SEGMENT_CONCURRENCY: 1,
      SEGMENT_MAX_WAITING: 16,
    });
    expect(load({}).SEGMENT_THREADS).toBeUndefined();
  });

  it('reads the selectable classes, the quantized weights and the dev fallback', () => {
    expect(load({ SEGMENT_CLASSES: '6,4', SEGMENT_MODEL_DTYPE: 'q8', SEGMENT_TINY_FALLBACK: 'true', SEGMENT_THREADS: '2' })).toMatchObject({
      SEGMENT_CLASSES: [4, 6],
      SEGMENT_MODEL_DTYPE: 'q8',
      SEGMENT_TINY_FALLBACK: true,
      SEGMENT_THREADS: 2,
    });
  });

  it.each([
    ['SEGMENT_CLASSES', '4,11', 'SEGMENT_CLASSES: class "11" is not one of 4 (Upper-clothes), 5 (Skirt), 6 (Pants), 7 (Dress), 17 (Scarf)'],
    ['SEGMENT_MODEL_DTYPE', 'int4', 'SEGMENT_MODEL_DTYPE: expected fp32 (onnx/model.onnx) or q8 (onnx/model_quantized.onnx)'],
    ['SEGMENT_MODEL_ID', '../etc', 'SEGMENT_MODEL_ID: expected a model id like Xenova/segformer_b2_clothes'],
    ['SEGMENT_TINY_FALLBACK', 'yes', 'SEGMENT_TINY_FALLBACK: expected true or false'],
    ['SEGMENT_MAX_PIXELS', '0', 'SEGMENT_MAX_PIXELS: expected a number above 0'],
    ['SEGMENT_THREADS', 'many', 'SEGMENT_THREADS:'],
  ])('refuses %s=%s naming it', (name, value, message) => {
    const error = (() => {
      try {
        load({ [name]: value });
      } catch (e) {
        return e;
      }
    })();
    expect(error).toBeInstanceOf(ConfigError);
    expect((error as ConfigError).message).toContain(message);
  });
});

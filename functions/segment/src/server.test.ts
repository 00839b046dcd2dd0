import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { isolatedBucket, isolatedRedisUrl, logLine, runPart, s3TestServer, serverProcessSuite, startPart } from '@proteus/testkit';
import { afterAll, describe, expect, inject, it } from 'vitest';
import { TINY_MODEL } from './model/location.ts';

const packageDir = join(import.meta.dirname, '..');
let dropBucket: (() => Promise<void>) | undefined;
let env: Record<string, string>;

async function goodEnv(): Promise<Record<string, string>> {
  const { bucket, drop } = await isolatedBucket();
  dropBucket = drop;
  const s3 = s3TestServer();
  env = {
    REDIS_URL: await isolatedRedisUrl(),
    HOST: '127.0.0.1',
    PORT: '0',
    OBJECT_STORAGE_ENDPOINT: s3.endpoint,
    OBJECT_STORAGE_BUCKET: bucket,
    OBJECT_STORAGE_ACCESS_KEY: s3.accessKeyId,
    OBJECT_STORAGE_SECRET_KEY: s3.secretAccessKey,
    SEGMENT_MODEL_DIR: TINY_MODEL.dir,
    SEGMENT_MODEL_ID: TINY_MODEL.id,
    SEGMENT_THREADS: '1',
  };
  return env;
}

serverProcessSuite({
  part: 'segment',
  packageDir,
  goodEnv,
  badEnvs: [
    ['REDIS_URL', { REDIS_URL: 'http://x' }],
    ['PORT', { PORT: 'abc' }],
    ['OBJECT_STORAGE_ENDPOINT', { OBJECT_STORAGE_ENDPOINT: '' }],
    ['OBJECT_STORAGE_ACCESS_KEY', { OBJECT_STORAGE_ACCESS_KEY: '' }],
    ['OBJECT_STORAGE_BUCKET', { OBJECT_STORAGE_BUCKET: 'Bad_Bucket' }],
    ['SEGMENT_CLASSES', { SEGMENT_CLASSES: '4,11' }],
    ['SEGMENT_MODEL_DTYPE', { SEGMENT_MODEL_DTYPE: 'int4' }],
  ],
  healthPath: '/health',
  whileRunning: async (url, listening) => {
    expect(listening).toMatchObject({ part: 'segment' });
    // what curl sends
    const response = await fetch(new URL('/segment', url), { method: 'POST', body: readFileSync(inject('astronaut')) });
    expect(response.status).toBe(200);
    expect(response.headers.get('content-type')).toBe('image/png');
    return undefined;
  },
});

describe('segment process without its model', () => {
  const empty = mkdtempSync(join(tmpdir(), 'proteus-models-'));
  afterAll(async () => {
    rmSync(empty, { recursive: true, force: true });
    await dropBucket?.();
  });

  it('exits 1 saying where it looked and how to provide the model', async () => {
    const { code, stderr } = await runPart(packageDir, 'src/server.ts', { ...env, SEGMENT_MODEL_DIR: empty, SEGMENT_MODEL_ID: 'Xenova/segformer_b2_clothes' });
    expect(code).toBe(1);
    expect(stderr).toContain(`proteus segment: the SegFormer model Xenova/segformer_b2_clothes (fp32) is not in ${empty}`);
    expect(stderr).toContain('hf download Xenova/segformer_b2_clothes');
  }, 30_000);

  it('starts on the tiny random model with SEGMENT_TINY_FALLBACK=true, warning that results are meaningless', async () => {
    const started = startPart(packageDir, 'src/server.ts', { ...env, SEGMENT_MODEL_DIR: empty, SEGMENT_TINY_FALLBACK: 'true' });
    try {
      const warning = await logLine(
        started,
        'SEGMENTATION RUNS ON A TINY RANDOM MODEL: every result is meaningless. SEGMENT_TINY_FALLBACK=true is for dev only.',
      );
      expect(warning).toMatchObject({ level: 'warn' });
      const listening = await logLine(started, 'listening');
      const health = (await (await fetch(new URL('/health', String(listening.url)))).json()) as { checks: { model: { detail: string } } };
      expect(health.checks.model.detail).toContain('TINY RANDOM FALLBACK');
    } finally {
      started.child.kill('SIGTERM');
      await started.exited;
    }
  }, 30_000);
});

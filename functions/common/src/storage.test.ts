import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { GetObjectCommand, PutObjectCommand } from '@aws-sdk/client-s3';
import { isolatedBucket } from '@proteus/testkit';
import { afterAll, describe, expect, it } from 'vitest';
import { createObjectStorage, startEmbeddedS3 } from './storage.ts';

const cleanups: (() => Promise<void> | void)[] = [];
afterAll(async () => {
  for (const c of cleanups.reverse()) await c();
});

async function roundTrip(storage: ReturnType<typeof createObjectStorage>) {
  await storage.client.send(new PutObjectCommand({ Bucket: storage.bucket, Key: 'users/u1/garment/g1.png', Body: 'png-bytes', ContentType: 'image/png' }));
  const got = await storage.client.send(new GetObjectCommand({ Bucket: storage.bucket, Key: 'users/u1/garment/g1.png' }));
  return { body: await got.Body?.transformToString(), type: got.ContentType };
}

describe('object storage on SeaweedFS (verifies signatures)', () => {
  it('checks the bucket and round-trips an object', async () => {
    const { bucket, server, drop } = await isolatedBucket();
    cleanups.push(drop);
    const storage = createObjectStorage({ ...server, bucket });
    cleanups.push(() => storage.close());
    await storage.check();
    expect(await roundTrip(storage)).toEqual({ body: 'png-bytes', type: 'image/png' });
  });

  it('is refused with a wrong secret, so health reports it', async () => {
    const { bucket, server, drop } = await isolatedBucket();
    cleanups.push(drop);
    const storage = createObjectStorage({ ...server, bucket, secretAccessKey: 'wrong-secret' });
    cleanups.push(() => storage.close());
    await expect(storage.check()).rejects.toMatchObject({ $metadata: { httpStatusCode: 403 } });
  });

  it('creates a missing bucket once with ensureBucket', async () => {
    const { bucket, server, drop } = await isolatedBucket();
    cleanups.push(drop);
    const storage = createObjectStorage({ ...server, bucket: `${bucket}-new` });
    cleanups.push(async () => {
      const { DeleteBucketCommand } = await import('@aws-sdk/client-s3');
      await storage.client.send(new DeleteBucketCommand({ Bucket: `${bucket}-new` }));
      storage.close();
    });
    await expect(storage.check()).rejects.toBeTruthy();
    await storage.ensureBucket();
    await storage.ensureBucket();
    await storage.check();
  });
});

describe('embedded S3 server (dev default)', () => {
  it('starts on a free port with the bucket and round-trips an object', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'proteus-s3-'));
    const embedded = await startEmbeddedS3({ directory: dir, bucket: 'proteus-dev' });
    cleanups.push(async () => {
      await embedded.close();
      rmSync(dir, { recursive: true, force: true });
    });
    expect(embedded.endpoint).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
    const storage = createObjectStorage(embedded.config);
    cleanups.push(() => storage.close());
    await storage.check();
    expect(await roundTrip(storage)).toEqual({ body: 'png-bytes', type: 'image/png' });
  });
});

import { randomBytes, randomUUID } from 'node:crypto';
import { DeleteObjectCommand } from '@aws-sdk/client-s3';
import type { ObjectStorage } from '@proteus/common/storage';
import { keys } from '@proteus/eventing';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cleanupStack, testStorage } from '../../test/deps.ts';
import { fixtures, postUpload, putObject, readObject } from '../../test/images.ts';
import { presignUpload } from './presign.ts';
import type { ImageProblemSlug } from './rejected.ts';
import type { ImageSettings } from './settings.ts';
import { VerifiedCache } from './verified-cache.ts';
import { VERIFIED_MARK, verifyImage } from './verify.ts';

const cleanups = cleanupStack();
afterAll(() => cleanups.run());

let storage: ObjectStorage;
let hugePng: Buffer;
beforeAll(async () => {
  storage = await testStorage(cleanups);
  hugePng = await fixtures.hugePng();
}, 60_000);

const settings: ImageSettings = { maxBytes: 15 * 1024 * 1024, presignTtlS: 300, maxPixels: 40_000_000 };
const alice = randomUUID();
const bob = randomUUID();

const ext = { 'image/jpeg': 'jpg', 'image/png': 'png', 'image/webp': 'webp' } as const;

/** Stores `bytes` as alice's upload with the content type the policy let through. */
async function upload(bytes: Uint8Array, contentType: keyof typeof ext, owner = alice): Promise<string> {
  const key = keys.objectKey(owner, 'garment', randomUUID(), ext[contentType]);
  await putObject(storage, key, bytes, contentType);
  return key;
}

/** verifyImage refuses with `slug` and a detail matching `detail`; the stored object is left as it was. */
async function expectRejected(run: Promise<unknown>, slug: ImageProblemSlug, status: number, detail: RegExp, key?: string, original?: Uint8Array) {
  await expect(run).rejects.toMatchObject({
    name: 'ImageRejected',
    slug,
    details: { type: `https://proteus.dev/problems/${slug}`, status, detail: expect.stringMatching(detail) },
  });
  if (key && original) expect(Buffer.from((await readObject(storage, key))!.bytes).equals(Buffer.from(original))).toBe(true);
}

describe('verifyImage', () => {
  it.each(['image/jpeg', 'image/png', 'image/webp'] as const)('accepts a %s, rewrites it clean and reports its size', async (type) => {
    const bytes = await { 'image/jpeg': fixtures.jpeg, 'image/png': fixtures.png, 'image/webp': fixtures.webp }[type](80, 60);
    const key = await upload(bytes, type);
    const result = await verifyImage(storage, settings, { userId: alice, key, expectedType: type });
    const stored = await readObject(storage, result.key);
    expect(result).toMatchObject({ key: keys.verifiedObjectKey(key), format: type.slice(6), width: 80, height: 60, bytes: stored!.bytes.length });
    expect(result.key).not.toBe(key);
    // the upload (EXIF and all) is gone once its clean copy exists
    expect(await readObject(storage, key)).toBeUndefined();
    expect(stored!.contentType).toBe(type);
    expect((await sharp(stored!.bytes).metadata()).format).toBe(type.slice(6));
  });

  it('strips EXIF and ICC by re-encoding', async () => {
    const bytes = await fixtures.jpegWithExif();
    const before = await sharp(bytes).metadata();
    expect(before.exif?.toString('latin1')).toContain('someone');
    const key = await upload(bytes, 'image/jpeg');
    const { key: clean } = await verifyImage(storage, settings, { userId: alice, key });
    const after = await sharp((await readObject(storage, clean))!.bytes).metadata();
    expect(after.exif).toBeUndefined();
    expect(after.icc).toBeUndefined();
    expect(after.xmp).toBeUndefined();
    expect(after.hasProfile).toBe(false);
    expect(Buffer.from((await readObject(storage, clean))!.bytes).includes('someone')).toBe(false);
  });

  it('applies the EXIF orientation before stripping it', async () => {
    const key = await upload(await fixtures.jpegRotated(), 'image/jpeg');
    const result = await verifyImage(storage, settings, { userId: alice, key });
    expect(result).toMatchObject({ width: 20, height: 40 });
    const after = await sharp((await readObject(storage, result.key))!.bytes).metadata();
    expect([after.width, after.height, after.orientation]).toEqual([20, 40, undefined]);
  });

  it('refuses PNG bytes stored as JPEG (image-type-mismatch)', async () => {
    const png = await fixtures.png();
    const key = keys.objectKey(alice, 'garment', randomUUID(), 'jpg');
    await putObject(storage, key, png, 'image/jpeg');
    await expectRejected(verifyImage(storage, settings, { userId: alice, key }), 'image-type-mismatch', 422, /image\/png.*image\/jpeg/, key, png);
  });

  it('refuses an image of another type than the caller expects', async () => {
    const key = await upload(await fixtures.webp(), 'image/webp');
    await expectRejected(
      verifyImage(storage, settings, { userId: alice, key, expectedType: 'image/jpeg' }),
      'image-type-mismatch',
      422,
      /image\/webp, image\/jpeg expected/,
    );
  });

  it('refuses bytes whose type disagrees with the key extension', async () => {
    const jpeg = await fixtures.jpeg();
    const key = keys.objectKey(alice, 'garment', randomUUID(), 'png');
    await putObject(storage, key, jpeg, 'image/jpeg');
    await expectRejected(verifyImage(storage, settings, { userId: alice, key }), 'image-type-mismatch', 422, /key ends in \.png/);
  });

  it('refuses a 20000x20000 PNG from its header, without decoding it (image-too-many-pixels)', async () => {
    const key = await upload(hugePng, 'image/png');
    const started = performance.now();
    await expectRejected(
      verifyImage(storage, settings, { userId: alice, key }),
      'image-too-many-pixels',
      422,
      /^20000x20000 = 400000000 pixels, at most 40000000$/,
      key,
      hugePng,
    );
    // decoding 400 megapixels takes seconds and 400 MB; reading a header takes milliseconds
    expect(performance.now() - started).toBeLessThan(1000);
  });

  it('refuses one pixel over maxPixels and accepts exactly maxPixels', async () => {
    const key = await upload(await fixtures.png(100, 50), 'image/png');
    await expectRejected(
      verifyImage(storage, { ...settings, maxPixels: 4999 }, { userId: alice, key }),
      'image-too-many-pixels',
      422,
      /5000 pixels, at most 4999/,
    );
    await expect(verifyImage(storage, { ...settings, maxPixels: 5000 }, { userId: alice, key })).resolves.toMatchObject({ width: 100, height: 50 });
  });

  it('refuses a truncated JPEG (image-truncated)', async () => {
    const jpeg = await sharp(randomBytes(128 * 128 * 3), { raw: { width: 128, height: 128, channels: 3 } })
      .jpeg()
      .toBuffer();
    const truncated = jpeg.subarray(0, Math.floor(jpeg.length * 0.6));
    const key = await upload(truncated, 'image/jpeg');
    await expectRejected(verifyImage(storage, settings, { userId: alice, key }), 'image-truncated', 422, /jpeg data does not decode/, key, truncated);
  });

  it('refuses a truncated PNG (image-truncated)', async () => {
    const png = await sharp(randomBytes(128 * 128 * 3), { raw: { width: 128, height: 128, channels: 3 } })
      .png()
      .toBuffer();
    const key = await upload(png.subarray(0, Math.floor(png.length * 0.6)), 'image/png');
    await expectRejected(verifyImage(storage, settings, { userId: alice, key }), 'image-truncated', 422, /png data does not decode/);
  });

  it('refuses random bytes (not-an-image)', async () => {
    const noise = Buffer.concat([Buffer.from('GIF89a'), randomBytes(4000)]);
    const key = await upload(noise, 'image/jpeg');
    await expectRejected(verifyImage(storage, settings, { userId: alice, key }), 'not-an-image', 422, /not those of a JPEG, PNG or WebP/, key, noise);
  });

  it('refuses a JPEG signature followed by garbage (not-an-image or image-truncated, never accepted)', async () => {
    const key = await upload(Buffer.concat([Buffer.from([0xff, 0xd8, 0xff]), randomBytes(2000)]), 'image/jpeg');
    await expect(verifyImage(storage, settings, { userId: alice, key })).rejects.toMatchObject({
      slug: expect.stringMatching(/^(not-an-image|image-truncated)$/),
    });
  });

  it('refuses an empty object (image-empty)', async () => {
    const key = await upload(new Uint8Array(0), 'image/png');
    await expectRejected(verifyImage(storage, settings, { userId: alice, key }), 'image-empty', 422, /0 bytes/);
  });

  it('refuses an object over maxBytes before reading it (image-too-large)', async () => {
    const jpeg = await fixtures.jpeg();
    const key = await upload(jpeg, 'image/jpeg');
    await expectRejected(
      verifyImage(storage, { ...settings, maxBytes: jpeg.length - 1 }, { userId: alice, key }),
      'image-too-large',
      413,
      new RegExp(`^${jpeg.length} bytes, at most ${jpeg.length - 1}$`),
    );
  });

  it('answers image-not-found for a missing key', async () => {
    const key = keys.objectKey(alice, 'garment', randomUUID(), 'jpg');
    await expectRejected(verifyImage(storage, settings, { userId: alice, key }), 'image-not-found', 404, /no image/);
  });

  it("answers image-not-found for another user's object, and leaves it alone", async () => {
    const exif = await fixtures.jpegWithExif();
    const key = await upload(exif, 'image/jpeg', bob);
    await expectRejected(verifyImage(storage, settings, { userId: alice, key }), 'image-not-found', 404, /no image/, key, exif);
  });

  it.each([`users/${alice}/../${bob}/garment/x.jpg`, `users/${alice}/garment/x.exe`, 'garment/x.jpg'])(
    'answers image-not-found for a malformed key %s',
    async (key) => {
      await expectRejected(verifyImage(storage, settings, { userId: alice, key }), 'image-not-found', 404, /no image/);
    },
  );
});

describe('verifyImage on an object it already cleaned', () => {
  it('answers from one HEAD: no second re-encode, the object (and its ETag) unchanged', async () => {
    const key = await upload(await fixtures.jpeg(80, 60), 'image/jpeg');
    const first = await verifyImage(storage, settings, { userId: alice, key });
    const cleanBytes = (await readObject(storage, first.key))!.bytes;
    const second = await verifyImage(storage, settings, { userId: alice, key, expectedType: 'image/jpeg' });
    expect(second).toEqual(first);
    // asked by its verified key, the same answer
    expect(await verifyImage(storage, settings, { userId: alice, key: first.key })).toEqual(first);
    expect(Buffer.from((await readObject(storage, first.key))!.bytes).equals(Buffer.from(cleanBytes))).toBe(true);
  });

  it('ignores an upload replaced after its check: jobs only see the verified copy', async () => {
    const key = await upload(await fixtures.jpeg(80, 60), 'image/jpeg');
    const first = await verifyImage(storage, settings, { userId: alice, key });
    const cleanBytes = (await readObject(storage, first.key))!.bytes;
    // the presigned POST is still valid for a while: the uploader sends something else
    await putObject(storage, key, randomBytes(300), 'image/jpeg');
    expect(await verifyImage(storage, settings, { userId: alice, key })).toEqual(first);
    expect(Buffer.from((await readObject(storage, first.key))!.bytes).equals(Buffer.from(cleanBytes))).toBe(true);
  });

  it('answers concurrent checks of one fresh upload alike, although the first one deletes the upload', async () => {
    const key = await upload(await fixtures.jpeg(80, 60), 'image/jpeg');
    const results = await Promise.all(Array.from({ length: 4 }, () => verifyImage(storage, settings, { userId: alice, key })));
    for (const result of results) expect(result).toMatchObject({ key: keys.verifiedObjectKey(key), width: 80, height: 60 });
  });

  it('checks a key only Proteus writes (a clean cut) in place, once', async () => {
    const key = keys.objectKey(alice, 'cloth_clean', randomUUID(), 'png');
    await putObject(storage, key, await fixtures.png(30, 20), 'image/png');
    const first = await verifyImage(storage, settings, { userId: alice, key });
    expect(first).toMatchObject({ key, format: 'png', width: 30, height: 20 });
    expect(await verifyImage(storage, settings, { userId: alice, key })).toEqual(first);
  });

  it('still refuses the wrong expected type', async () => {
    const key = await upload(await fixtures.png(20, 20), 'image/png');
    await verifyImage(storage, settings, { userId: alice, key });
    await expectRejected(
      verifyImage(storage, settings, { userId: alice, key, expectedType: 'image/jpeg' }),
      'image-type-mismatch',
      422,
      /image\/jpeg expected/,
    );
  });

  it('cannot be forged by an uploader: the S3 server refuses the mark as a form field outside the policy', async () => {
    const presigned = await presignUpload(storage, settings, { userId: alice, kind: 'garment', contentType: 'image/jpeg' });
    const response = await postUpload(presigned, randomBytes(200), { fields: { [`x-amz-meta-${VERIFIED_MARK}`]: 'jpeg:1x1' } });
    expect(response.status).toBe(403);
    expect(await readObject(storage, presigned.key)).toBeUndefined();
  });
});

describe('verifyImage with a VerifiedCache', () => {
  it('answers a known image without asking storage, and shares one check between concurrent callers', async () => {
    const cache = new VerifiedCache();
    const key = await upload(await fixtures.jpeg(80, 60), 'image/jpeg');
    const [a, b] = await Promise.all([
      verifyImage(storage, settings, { userId: alice, key }, cache),
      verifyImage(storage, settings, { userId: alice, key }, cache),
    ]);
    expect(b).toBe(a); // the same run's answer, not two checks
    // the copy removed behind the cache's back: the cache still answers, so it asked nobody
    await storage.client.send(new DeleteObjectCommand({ Bucket: storage.bucket, Key: a.key }));
    expect(await verifyImage(storage, settings, { userId: alice, key }, cache)).toBe(a);
    expect(await verifyImage(storage, settings, { userId: alice, key: a.key }, cache)).toBe(a);
    // without the cache the truth shows
    await expectRejected(verifyImage(storage, settings, { userId: alice, key }), 'image-not-found', 404, /no image/);
  });

  it('still checks ownership and the expected type on a cached image', async () => {
    const cache = new VerifiedCache();
    const key = await upload(await fixtures.png(20, 20), 'image/png');
    await verifyImage(storage, settings, { userId: alice, key }, cache);
    await expectRejected(verifyImage(storage, settings, { userId: bob, key }, cache), 'image-not-found', 404, /no image/);
    await expectRejected(
      verifyImage(storage, settings, { userId: alice, key, expectedType: 'image/jpeg' }, cache),
      'image-type-mismatch',
      422,
      /image\/jpeg expected/,
    );
  });

  it('forgets entries after their time and beyond its size', async () => {
    const image = { key: 'k', format: 'png' as const, width: 1, height: 1, bytes: 1, etag: undefined };
    const expiring = new VerifiedCache({ ttlMs: -1 });
    expiring.set(['a'], image);
    expect(expiring.get('a')).toBeUndefined();
    const small = new VerifiedCache({ maxEntries: 2 });
    small.set(['a'], image);
    small.set(['b'], image);
    small.get('a'); // a is now the most recently used
    small.set(['c'], image);
    expect([small.get('a'), small.get('b'), small.get('c')]).toEqual([image, undefined, image]);
    expect(small.size).toBe(2);
  });
});

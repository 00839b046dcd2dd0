/**
 * The check every uploaded object passes before a job uses it. The POST policy already
 * bounded size and content type, but a policy only sees the form, not the bytes: here the
 * bytes are read, sniffed, measured from the header before any decode (pixel bombs), fully
 * decoded (truncation), and re-encoded without EXIF/ICC/XMP.
 *
 * The clean copy goes to the upload's verified key (`<id>_verified.<ext>`, keys.verifiedObjectKey),
 * which no presigned POST can reach, and the upload itself is deleted (its EXIF may hold a GPS
 * position). Jobs only ever name verified keys, so an upload replaced after its check cannot
 * reach a job, and a verified copy, immutable, can be remembered (VerifiedCache): a snap of
 * known images costs no storage request. The copy carries a mark
 * (`x-amz-meta-proteus-verified: <format>:<width>x<height>`), so another replica answers from one
 * HEAD. Keys only Proteus writes (clean cuts, masks, results) are checked in place once and marked.
 */
import {
  DeleteObjectCommand,
  GetObjectCommand,
  type GetObjectCommandOutput,
  HeadObjectCommand,
  type HeadObjectCommandOutput,
  PutObjectCommand,
} from '@aws-sdk/client-s3';
import type { ObjectStorage } from '@proteus/common/storage';
import { keys } from '@proteus/eventing';
import sharp, { type Metadata, type OutputInfo, type Sharp } from 'sharp';
import { isMissing, ownsKey } from './presign.ts';
import { ImageRejected } from './rejected.ts';
import type { ImageSettings } from './settings.ts';
import { contentTypeOf, extensionOf, type ImageContentType, type ImageFormat, sniffFormat } from './types.ts';
import type { VerifiedCache } from './verified-cache.ts';

export interface VerifiedImage {
  /** the clean copy's key: what jobs use (`<id>_verified.<ext>` for an upload) */
  key: string;
  format: ImageFormat;
  /** after auto-orientation */
  width: number;
  height: number;
  /** size of the clean object now stored */
  bytes: number;
  /** ETag of the clean object: a job can GET with If-Match to be sure it reads these bytes */
  etag: string | undefined;
}

/** Output settings of the clean copy; quality high enough not to hurt the try-on. */
const encoders: Record<ImageFormat, (image: Sharp) => Sharp> = {
  jpeg: (image) => image.jpeg({ quality: 92 }),
  png: (image) => image.png(),
  webp: (image) => image.webp({ quality: 90 }),
};

const notFound = (key: string) => new ImageRejected('image-not-found', `no image ${JSON.stringify(key)}`);

/**
 * The verified image behind `key` (an upload of the caller's, or a key Proteus wrote for them):
 * its clean copy's key, format and size. Throws ImageRejected with the reason otherwise.
 */
export async function verifyImage(
  storage: ObjectStorage,
  settings: ImageSettings,
  { userId, key, expectedType }: { userId: string; key: string; expectedType?: ImageContentType | undefined },
  cache?: VerifiedCache,
): Promise<VerifiedImage> {
  if (!ownsKey(userId, key)) throw notFound(key);
  const check = () => checkOnce(storage, settings, key, cache);
  const image = cache ? await cache.through(key, check) : await check();
  if (expectedType && expectedType !== contentTypeOf[image.format]) {
    throw new ImageRejected('image-type-mismatch', `the bytes are ${contentTypeOf[image.format]}, ${expectedType} expected`);
  }
  return image;
}

/** The verified image behind `key` if `cache` knows it (and the caller owns the key), without a storage request or a promise: verifyImage's fast path. */
export function knownImage(userId: string, key: string, cache: VerifiedCache | undefined): VerifiedImage | undefined {
  return cache && ownsKey(userId, key) ? cache.get(key) : undefined;
}

async function checkOnce(storage: ObjectStorage, settings: ImageSettings, key: string, cache: VerifiedCache | undefined): Promise<VerifiedImage> {
  const cleanKey = keys.verifiedObjectKey(key);
  // 0. checked before (by any replica): one HEAD of the clean copy
  let image = await alreadyVerified(storage, settings, cleanKey);
  if (!image) {
    try {
      image = await verifyBytes(storage, settings, key, cleanKey);
    } catch (error) {
      // a concurrent check (another replica) may have just verified it and deleted the upload
      if (!(error instanceof ImageRejected && error.slug === 'image-not-found' && cleanKey !== key)) throw error;
      image = await alreadyVerified(storage, settings, cleanKey);
      if (!image) throw error;
    }
  }
  cache?.set([key, cleanKey], image);
  return image;
}

/** Reads `key`, checks its bytes, writes the clean copy to `cleanKey` and drops the upload. */
async function verifyBytes(storage: ObjectStorage, settings: ImageSettings, key: string, cleanKey: string): Promise<VerifiedImage> {
  // 1. exists, and its size is within (0, maxBytes] before a byte of it is read
  let object: GetObjectCommandOutput;
  try {
    object = await storage.client.send(new GetObjectCommand({ Bucket: storage.bucket, Key: key }));
  } catch (error) {
    if (isMissing(error)) throw notFound(key);
    throw error;
  }
  const declaredSize = object.ContentLength ?? 0;
  if (declaredSize > settings.maxBytes) {
    (object.Body as { destroy?: () => void } | undefined)?.destroy?.();
    throw new ImageRejected('image-too-large', `${declaredSize} bytes, at most ${settings.maxBytes}`);
  }
  const original = (await object.Body?.transformToByteArray()) ?? new Uint8Array();
  if (original.length === 0) throw new ImageRejected('image-empty', 'the object has 0 bytes, at least 1 expected');
  if (original.length > settings.maxBytes) throw new ImageRejected('image-too-large', `${original.length} bytes, at most ${settings.maxBytes}`);

  // 2. the bytes are an image of the type it was stored as
  const format = sniffFormat(original);
  if (!format) throw new ImageRejected('not-an-image', 'the first bytes are not those of a JPEG, PNG or WebP image');
  const declaredType = object.ContentType ?? '(none)';
  if (declaredType !== contentTypeOf[format]) {
    throw new ImageRejected('image-type-mismatch', `the bytes are ${contentTypeOf[format]} but the object is stored as ${declaredType}`);
  }
  if (!key.endsWith(`.${extensionOf[format]}`)) {
    throw new ImageRejected('image-type-mismatch', `the bytes are ${contentTypeOf[format]} but the key ends in ${key.slice(key.lastIndexOf('.'))}`);
  }

  // 3. pixel count from the header alone (metadata() does not decode; no limit so the value can be named)
  let header: Metadata;
  try {
    header = await sharp(original, { limitInputPixels: false }).metadata();
  } catch (error) {
    throw new ImageRejected('not-an-image', `unreadable ${format} header: ${(error as Error).message}`);
  }
  const pixels = header.width * header.height;
  if (pixels > settings.maxPixels) {
    throw new ImageRejected('image-too-many-pixels', `${header.width}x${header.height} = ${pixels} pixels, at most ${settings.maxPixels}`);
  }

  // 4. full decode that refuses truncated data, auto-oriented, re-encoded: sharp writes no metadata unless asked
  let clean: { data: Buffer; info: OutputInfo };
  try {
    const image = sharp(original, { limitInputPixels: settings.maxPixels, failOn: 'truncated' }).rotate();
    clean = await encoders[format](image).toBuffer({ resolveWithObject: true });
  } catch (error) {
    throw new ImageRejected('image-truncated', `the ${format} data does not decode: ${(error as Error).message}`);
  }

  // 5. the clean copy, marked; then the upload goes (a failed delete leaves a stray upload, no harm to jobs)
  const put = await storage.client.send(
    new PutObjectCommand({
      Bucket: storage.bucket,
      Key: cleanKey,
      Body: clean.data,
      ContentType: contentTypeOf[format],
      ContentLength: clean.data.length,
      Metadata: { [VERIFIED_MARK]: `${format}:${clean.info.width}x${clean.info.height}` },
    }),
  );
  if (cleanKey !== key) await storage.client.send(new DeleteObjectCommand({ Bucket: storage.bucket, Key: key })).catch(() => {});
  return { key: cleanKey, format, width: clean.info.width, height: clean.info.height, bytes: clean.data.length, etag: put.ETag };
}

/** User metadata (x-amz-meta-…) on a clean copy: its format and size. */
export const VERIFIED_MARK = 'proteus-verified';

/** The marked clean copy at `cleanKey`, or undefined when there is none (or its mark no longer fits). */
async function alreadyVerified(storage: ObjectStorage, settings: ImageSettings, cleanKey: string): Promise<VerifiedImage | undefined> {
  let head: HeadObjectCommandOutput;
  try {
    head = await storage.client.send(new HeadObjectCommand({ Bucket: storage.bucket, Key: cleanKey }));
  } catch (error) {
    if (isMissing(error)) return undefined;
    throw error;
  }
  const mark = /^(jpeg|png|webp):(\d+)x(\d+)$/.exec(head.Metadata?.[VERIFIED_MARK] ?? '');
  if (!mark) return undefined;
  const format = mark[1] as ImageFormat;
  const bytes = head.ContentLength ?? 0;
  // a mark on something that no longer fits the limits, or the type, is checked in full again
  if (head.ContentType !== contentTypeOf[format] || bytes === 0 || bytes > settings.maxBytes) return undefined;
  return { key: cleanKey, format, width: Number(mark[2]), height: Number(mark[3]), bytes, etag: head.ETag };
}

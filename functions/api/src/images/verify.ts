/**
 * The check every uploaded object passes before a job uses it. The POST policy already
 * bounded size and content type, but a policy only sees the form, not the bytes: here the
 * bytes are read, sniffed, measured from the header before any decode (pixel bombs), fully
 * decoded (truncation), and re-encoded without EXIF/ICC/XMP back to the same key.
 *
 * The clean copy is marked (`x-amz-meta-proteus-verified: <format>:<width>x<height>`), so a
 * second check of an unchanged object is one HEAD: no second re-encode (JPEG would lose quality
 * each time) and no rewrite racing a concurrent reader. Uploaders cannot set that mark: the
 * presigned POST's policy allows no extra form fields, and S3 servers refuse them.
 */
import { GetObjectCommand, type GetObjectCommandOutput, HeadObjectCommand, type HeadObjectCommandOutput, PutObjectCommand } from '@aws-sdk/client-s3';
import type { ObjectStorage } from '@proteus/common/storage';
import sharp, { type Metadata, type OutputInfo, type Sharp } from 'sharp';
import { isMissing, ownsKey } from './presign.ts';
import { ImageRejected } from './rejected.ts';
import type { ImageSettings } from './settings.ts';
import { contentTypeOf, extensionOf, type ImageContentType, type ImageFormat, sniffFormat } from './types.ts';

export interface VerifiedImage {
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

export async function verifyImage(
  storage: ObjectStorage,
  settings: ImageSettings,
  { userId, key, expectedType }: { userId: string; key: string; expectedType?: ImageContentType | undefined },
): Promise<VerifiedImage> {
  const notFound = () => new ImageRejected('image-not-found', `no image ${JSON.stringify(key)}`);
  if (!ownsKey(userId, key)) throw notFound();

  // 0. already verified and unchanged since: nothing to read
  const known = await alreadyVerified(storage, settings, key, expectedType, notFound);
  if (known) return known;

  // 1. exists, and its size is within (0, maxBytes] before a byte of it is read
  let object: GetObjectCommandOutput;
  try {
    object = await storage.client.send(new GetObjectCommand({ Bucket: storage.bucket, Key: key }));
  } catch (error) {
    if (isMissing(error)) throw notFound();
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

  // 2. the bytes are an image of the type it was stored as (and the caller expects)
  const format = sniffFormat(original);
  if (!format) throw new ImageRejected('not-an-image', 'the first bytes are not those of a JPEG, PNG or WebP image');
  const declaredType = object.ContentType ?? '(none)';
  if (declaredType !== contentTypeOf[format]) {
    throw new ImageRejected('image-type-mismatch', `the bytes are ${contentTypeOf[format]} but the object is stored as ${declaredType}`);
  }
  if (expectedType && expectedType !== contentTypeOf[format]) {
    throw new ImageRejected('image-type-mismatch', `the bytes are ${contentTypeOf[format]}, ${expectedType} expected`);
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

  // 5. the clean bytes replace the upload
  const put = await storage.client.send(
    new PutObjectCommand({
      Bucket: storage.bucket,
      Key: key,
      Body: clean.data,
      ContentType: contentTypeOf[format],
      ContentLength: clean.data.length,
      Metadata: { [VERIFIED_MARK]: `${format}:${clean.info.width}x${clean.info.height}` },
    }),
  );
  return { key, format, width: clean.info.width, height: clean.info.height, bytes: clean.data.length, etag: put.ETag };
}

/** User metadata (x-amz-meta-…) on a clean copy: its format and size. */
export const VERIFIED_MARK = 'proteus-verified';

async function alreadyVerified(
  storage: ObjectStorage,
  settings: ImageSettings,
  key: string,
  expectedType: ImageContentType | undefined,
  notFound: () => ImageRejected,
): Promise<VerifiedImage | undefined> {
  let head: HeadObjectCommandOutput;
  try {
    head = await storage.client.send(new HeadObjectCommand({ Bucket: storage.bucket, Key: key }));
  } catch (error) {
    if (isMissing(error)) throw notFound();
    throw error;
  }
  const mark = /^(jpeg|png|webp):(\d+)x(\d+)$/.exec(head.Metadata?.[VERIFIED_MARK] ?? '');
  if (!mark) return undefined;
  const format = mark[1] as ImageFormat;
  const bytes = head.ContentLength ?? 0;
  // a mark on something that no longer fits the limits, or the type, is checked in full again
  if (head.ContentType !== contentTypeOf[format] || bytes === 0 || bytes > settings.maxBytes) return undefined;
  if (expectedType && expectedType !== contentTypeOf[format]) {
    throw new ImageRejected('image-type-mismatch', `the bytes are ${contentTypeOf[format]}, ${expectedType} expected`);
  }
  return { key, format, width: Number(mark[2]), height: Number(mark[3]), bytes, etag: head.ETag };
}

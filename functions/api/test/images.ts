/** Image fixtures made with sharp, and a browser-like multipart upload to a presigned POST. */
import { GetObjectCommand, HeadObjectCommand, PutObjectCommand } from '@aws-sdk/client-s3';
import type { ObjectStorage } from '@proteus/common/storage';
import sharp from 'sharp';

const solid = (width: number, height: number) => sharp({ create: { width, height, channels: 3, background: { r: 200, g: 40, b: 90 } } });

export const fixtures = {
  jpeg: (width = 64, height = 48) => solid(width, height).jpeg().toBuffer(),
  png: (width = 64, height = 48) => solid(width, height).png().toBuffer(),
  webp: (width = 64, height = 48) => solid(width, height).webp().toBuffer(),
  /** a JPEG carrying EXIF (and the sRGB ICC profile sharp adds with withMetadata) */
  jpegWithExif: () =>
    solid(64, 48)
      .jpeg()
      .withMetadata({ exif: { IFD0: { Copyright: 'x', Artist: 'someone' } } })
      .toBuffer(),
  /** stored 40 wide and 20 high, to be shown rotated 90° (EXIF Orientation 6) */
  jpegRotated: () => solid(40, 20).jpeg().withMetadata({ orientation: 6 }).toBuffer(),
  /** 400 megapixels of one grey: about 1 MB of PNG, 400 MB once decoded */
  hugePng: () =>
    sharp(Buffer.alloc(20000 * 20000), { raw: { width: 20000, height: 20000, channels: 1 }, limitInputPixels: false })
      .png({ compressionLevel: 9 })
      .toBuffer(),
};

/** Posts the form as a browser does: the policy's fields, then the file last. */
export function postUpload(
  presigned: { url: string; fields: Record<string, string> },
  bytes: Uint8Array,
  { fields = {}, partType = 'application/octet-stream' }: { fields?: Record<string, string>; partType?: string } = {},
): Promise<Response> {
  const form = new FormData();
  for (const [name, value] of Object.entries({ ...presigned.fields, ...fields })) form.append(name, value);
  form.append('file', new Blob([new Uint8Array(bytes)], { type: partType }), 'upload.bin');
  return fetch(presigned.url, { method: 'POST', body: form });
}

export async function putObject(storage: ObjectStorage, key: string, body: Uint8Array, contentType: string): Promise<void> {
  await storage.client.send(new PutObjectCommand({ Bucket: storage.bucket, Key: key, Body: body, ContentType: contentType }));
}

/** The object's bytes and content type, or undefined when it does not exist. */
export async function readObject(storage: ObjectStorage, key: string): Promise<{ bytes: Uint8Array; contentType: string | undefined } | undefined> {
  try {
    await storage.client.send(new HeadObjectCommand({ Bucket: storage.bucket, Key: key }));
  } catch {
    return undefined;
  }
  const object = await storage.client.send(new GetObjectCommand({ Bucket: storage.bucket, Key: key }));
  return { bytes: await object.Body!.transformToByteArray(), contentType: object.ContentType };
}

/**
 * Bytes someone else sent, to upright RGB pixels, refusing what should not be decoded: empty,
 * too many bytes, not a JPEG/PNG/WebP by its magic bytes, too many pixels by its header (pixel
 * bombs are measured before any decode), truncated or corrupt data (sharp `failOn: 'truncated'`).
 * EXIF orientation is applied, so what comes out is how the photo is meant to be seen.
 */
import sharp from 'sharp';
import { SegmentRejected } from './rejected.ts';

export interface DecodeLimits {
  maxBytes: number;
  maxPixels: number;
}

export interface RgbImage {
  /** 3 bytes a pixel, row-major */
  data: Buffer;
  width: number;
  height: number;
}

export type ImageFormat = 'jpeg' | 'png' | 'webp';

/** The format named by the first bytes, or undefined. */
export function sniffFormat(bytes: Uint8Array): ImageFormat | undefined {
  const at = (offset: number, ...values: number[]) => values.every((v, i) => bytes[offset + i] === v);
  if (at(0, 0xff, 0xd8, 0xff)) return 'jpeg';
  if (at(0, 0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a)) return 'png';
  if (at(0, 0x52, 0x49, 0x46, 0x46) && at(8, 0x57, 0x45, 0x42, 0x50)) return 'webp';
  return undefined;
}

export function checkSize(bytes: number, limits: DecodeLimits): void {
  if (bytes === 0) throw new SegmentRejected('image-empty', 'the image has 0 bytes');
  if (bytes > limits.maxBytes) throw new SegmentRejected('image-too-large', `${bytes} bytes, at most ${limits.maxBytes}`);
}

export async function decodeImage(bytes: Uint8Array, limits: DecodeLimits): Promise<RgbImage & { format: ImageFormat }> {
  checkSize(bytes.length, limits);
  const format = sniffFormat(bytes);
  if (!format) throw new SegmentRejected('not-an-image', 'the first bytes are not those of a JPEG, PNG or WebP image');
  let width: number;
  let height: number;
  try {
    // the header alone; no limit here so the refusal below can name the size
    ({ width, height } = await sharp(bytes, { limitInputPixels: false }).metadata());
  } catch (error) {
    throw new SegmentRejected('not-an-image', `unreadable ${format} header: ${(error as Error).message}`);
  }
  if (!width || !height) throw new SegmentRejected('image-empty', `the ${format} image is ${width ?? 0}x${height ?? 0} pixels`);
  if (width * height > limits.maxPixels) {
    throw new SegmentRejected('image-too-many-pixels', `${width}x${height} = ${width * height} pixels, at most ${limits.maxPixels}`);
  }
  try {
    const { data, info } = await sharp(bytes, { limitInputPixels: limits.maxPixels, failOn: 'truncated' })
      .rotate()
      .flatten({ background: '#ffffff' })
      .toColourspace('srgb')
      .raw()
      .toBuffer({ resolveWithObject: true });
    if (info.channels !== 3) throw new Error(`decoded to ${info.channels} channels, 3 expected`);
    return { data, width: info.width, height: info.height, format };
  } catch (error) {
    throw new SegmentRejected('image-truncated', `the ${format} data does not decode: ${(error as Error).message}`);
  }
}

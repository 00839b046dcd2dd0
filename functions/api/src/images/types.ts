/** The image formats Proteus accepts, by content type, magic bytes and key extension. */
import type { keys } from '@proteus/eventing';

export const imageContentTypes = ['image/jpeg', 'image/png', 'image/webp'] as const;
export type ImageContentType = (typeof imageContentTypes)[number];
export type ImageFormat = 'jpeg' | 'png' | 'webp';

export const formatOf: Record<ImageContentType, ImageFormat> = { 'image/jpeg': 'jpeg', 'image/png': 'png', 'image/webp': 'webp' };
export const contentTypeOf: Record<ImageFormat, ImageContentType> = { jpeg: 'image/jpeg', png: 'image/png', webp: 'image/webp' };
export const extensionOf: Record<ImageFormat, keys.ObjectExtension> = { jpeg: 'jpg', png: 'png', webp: 'webp' };

export const isImageContentType = (value: unknown): value is ImageContentType => imageContentTypes.includes(value as ImageContentType);

const PNG = [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a];
const startsWith = (bytes: Uint8Array, magic: number[], at = 0) => magic.every((b, i) => bytes[at + i] === b);

/** The format the first bytes announce: JPEG FF D8 FF, PNG's 8-byte signature, WebP RIFF....WEBP. */
export function sniffFormat(bytes: Uint8Array): ImageFormat | undefined {
  if (startsWith(bytes, [0xff, 0xd8, 0xff])) return 'jpeg';
  if (startsWith(bytes, PNG)) return 'png';
  if (startsWith(bytes, [0x52, 0x49, 0x46, 0x46]) && startsWith(bytes, [0x57, 0x45, 0x42, 0x50], 8)) return 'webp';
  return undefined;
}

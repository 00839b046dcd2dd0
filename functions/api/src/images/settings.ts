/** Upload and image-check limits, read from the environment (part of apiConfigSchema). */
import { env } from '@proteus/common';

export const imagesEnv = {
  /** the presigned POST's content-length-range upper bound */
  UPLOAD_MAX_BYTES: env.positiveInt(15 * 1024 * 1024),
  /** how long a presigned URL or POST stays valid */
  PRESIGN_TTL_S: env.positiveInt(300),
  /** decoding refuses images with more pixels than this (pixel bombs) */
  MAX_IMAGE_PIXELS: env.positiveInt(40_000_000),
};

export interface ImageSettings {
  maxBytes: number;
  presignTtlS: number;
  maxPixels: number;
}

export function imageSettingsFrom(c: { UPLOAD_MAX_BYTES: number; PRESIGN_TTL_S: number; MAX_IMAGE_PIXELS: number }): ImageSettings {
  return { maxBytes: c.UPLOAD_MAX_BYTES, presignTtlS: c.PRESIGN_TTL_S, maxPixels: c.MAX_IMAGE_PIXELS };
}

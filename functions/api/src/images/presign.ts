/**
 * Presigned uploads and downloads. The POST policy is what the storage server enforces on
 * the browser's upload: size range, exact content type and the owner's key prefix. Our own
 * check (verify.ts) runs again before any job uses the object.
 */
import { randomUUID } from 'node:crypto';
import { GetObjectCommand, HeadObjectCommand } from '@aws-sdk/client-s3';
import { createPresignedPost } from '@aws-sdk/s3-presigned-post';
import { getSignedUrl } from '@aws-sdk/s3-request-presigner';
import type { ObjectStorage } from '@proteus/common/storage';
import { keys } from '@proteus/eventing';
import { ImageRejected } from './rejected.ts';
import type { ImageSettings } from './settings.ts';
import { extensionOf, formatOf, type ImageContentType } from './types.ts';

export const uploadKinds = keys.uploadKinds;
export type UploadKind = (typeof uploadKinds)[number];

export interface PresignedUpload {
  /** where the form is POSTed */
  url: string;
  /** form fields to send as they are, before the `file` field (which must be last) */
  fields: Record<string, string>;
  key: string;
  expiresAt: string;
  maxBytes: number;
}

export async function presignUpload(
  storage: ObjectStorage,
  settings: ImageSettings,
  { userId, kind, contentType }: { userId: string; kind: UploadKind; contentType: ImageContentType },
): Promise<PresignedUpload> {
  const key = keys.objectKey(userId, kind, randomUUID(), extensionOf[formatOf[contentType]]);
  const expiresAt = new Date(Date.now() + settings.presignTtlS * 1000).toISOString();
  const { url, fields } = await createPresignedPost(storage.client, {
    Bucket: storage.bucket,
    Key: key,
    // the SDK adds {key} (exact) from Key; the prefix condition stays as a second fence
    Conditions: [['content-length-range', 1, settings.maxBytes], { 'Content-Type': contentType }, ['starts-with', '$key', keys.userPrefix(userId)]],
    Fields: { 'Content-Type': contentType },
    Expires: settings.presignTtlS,
  });
  return { url, fields, key, expiresAt, maxBytes: settings.maxBytes };
}

/** True when `key` is a well-formed object key under the user's own prefix. */
export function ownsKey(userId: string, key: string): boolean {
  return keys.objectKeyPattern.test(key) && keys.idPattern.test(userId) && key.startsWith(keys.userPrefix(userId));
}

/** A status-404 S3 answer (HEAD has no body, so no error code to read). */
export function isMissing(error: unknown): boolean {
  const e = error as { name?: string; $metadata?: { httpStatusCode?: number } };
  return e.name === 'NotFound' || e.name === 'NoSuchKey' || e.$metadata?.httpStatusCode === 404;
}

/**
 * A short-lived GET URL for one of the caller's own objects. A foreign, malformed or
 * missing key is the same `image-not-found`, so nobody learns what others have stored.
 */
export async function presignDownload(
  storage: ObjectStorage,
  settings: ImageSettings,
  { userId, key }: { userId: string; key: string },
): Promise<{ url: string; expiresAt: string }> {
  if (!ownsKey(userId, key)) throw new ImageRejected('image-not-found', `no image ${JSON.stringify(key)}`);
  // an upload is deleted once verified: its clean copy answers for it
  let existing: string | undefined;
  for (const candidate of new Set([key, keys.verifiedObjectKey(key)])) {
    if (await exists(storage, candidate)) {
      existing = candidate;
      break;
    }
  }
  if (!existing) throw new ImageRejected('image-not-found', `no image ${JSON.stringify(key)}`);
  const expiresAt = new Date(Date.now() + settings.presignTtlS * 1000).toISOString();
  const url = await getSignedUrl(storage.client, new GetObjectCommand({ Bucket: storage.bucket, Key: existing }), { expiresIn: settings.presignTtlS });
  return { url, expiresAt };
}

async function exists(storage: ObjectStorage, key: string): Promise<boolean> {
  try {
    await storage.client.send(new HeadObjectCommand({ Bucket: storage.bucket, Key: key }));
    return true;
  } catch (error) {
    if (isMissing(error)) return false;
    throw error;
  }
}

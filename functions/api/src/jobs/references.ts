/**
 * The short flow's `{user_photo_url, cloth_clean_url}`: each is an object key or a URL of our
 * own storage (a presigned upload or download URL) whose path is `/<bucket>/<key>`. Anything
 * else, another host included, is not an image of ours.
 */
import type { ObjectStorage } from '@proteus/common/storage';
import { keys } from '@proteus/eventing';

export function keyOfReference(storage: ObjectStorage, reference: string): string | undefined {
  if (keys.objectKeyPattern.test(reference)) return reference;
  let url: URL;
  let endpoint: URL;
  try {
    url = new URL(reference);
    endpoint = new URL(storage.config.endpoint);
  } catch {
    return undefined;
  }
  if (url.origin !== endpoint.origin || url.username || url.password) return undefined;
  let path: string;
  try {
    path = decodeURIComponent(url.pathname);
  } catch {
    return undefined;
  }
  const prefix = `${endpoint.pathname.replace(/\/$/, '')}/${storage.bucket}/`;
  if (!path.startsWith(prefix)) return undefined;
  const key = path.slice(prefix.length);
  return keys.objectKeyPattern.test(key) ? key : undefined;
}

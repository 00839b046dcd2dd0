/**
 * An image upload, the way docs/API.md lays it out: a presigned POST from the api, the file
 * sent straight to object storage (an XHR, for its upload progress), then the api's check,
 * which answers the verified copy's key. A file that is no JPEG, PNG or WebP, or too big, is
 * refused here before a byte is sent, with the reason; storage and the api check again.
 */
import type { ApiClient } from './client.ts';
import { ApiError, errorFromStorage, formatBytes } from './problem.ts';
import { type ImageContentType, imageContentTypes, type PresignedUpload, type UploadKind, type VerifiedImage } from './types.ts';

/** the api's default UPLOAD_MAX_BYTES; the presign answer's maxBytes is what counts */
export const DEFAULT_MAX_BYTES = 15 * 1024 * 1024;

/** The image type the first bytes announce (as the api sniffs them), or undefined. */
export function sniffImageType(head: Uint8Array): ImageContentType | undefined {
  const at = (bytes: number[], offset = 0) => bytes.every((b, i) => head[offset + i] === b);
  if (at([0xff, 0xd8, 0xff])) return 'image/jpeg';
  if (at([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a])) return 'image/png';
  if (at([0x52, 0x49, 0x46, 0x46]) && at([0x57, 0x45, 0x42, 0x50], 8)) return 'image/webp';
  return undefined;
}

export interface FileLike {
  name: string;
  size: number;
  type: string;
  slice(start?: number, end?: number): Blob;
}

/** The file's real image type, or the reason it cannot be uploaded. */
export async function checkImageFile(file: FileLike, maxBytes = DEFAULT_MAX_BYTES): Promise<ImageContentType> {
  if (file.size === 0) throw new ApiError('not-an-image', `${file.name} is empty.`);
  if (file.size > maxBytes) throw new ApiError('too-large', `${file.name} is ${formatBytes(file.size)}; the limit is ${formatBytes(maxBytes)}.`);
  const type = sniffImageType(new Uint8Array(await file.slice(0, 12).arrayBuffer()));
  if (!type) throw new ApiError('not-an-image', `${file.name} is not a JPEG, PNG or WebP image.`);
  return type;
}

export interface XhrLike {
  open(method: string, url: string): void;
  send(body: FormData): void;
  abort(): void;
  status: number;
  responseText: string;
  upload: { onprogress: ((e: { loaded: number; total: number; lengthComputable: boolean }) => void) | null };
  onload: (() => void) | null;
  onerror: (() => void) | null;
  onabort: (() => void) | null;
}

/** The presigned POST: its fields first, the file last (S3 ignores fields after the file). */
export function postToStorage(
  presigned: PresignedUpload,
  file: Blob,
  {
    onProgress,
    signal,
    createXhr = () => new XMLHttpRequest() as unknown as XhrLike,
  }: { onProgress?: (fraction: number) => void; signal?: AbortSignal; createXhr?: () => XhrLike } = {},
): Promise<void> {
  return new Promise((resolve, reject) => {
    const form = new FormData();
    for (const [k, v] of Object.entries(presigned.fields)) form.append(k, v);
    form.append('file', file);
    const xhr = createXhr();
    xhr.open('POST', presigned.url);
    xhr.upload.onprogress = (e) => {
      if (e.lengthComputable && e.total > 0) onProgress?.(Math.min(1, e.loaded / e.total));
    };
    xhr.onload = () => {
      if (xhr.status >= 200 && xhr.status < 300) {
        onProgress?.(1);
        resolve();
      } else reject(errorFromStorage(xhr.status, xhr.responseText, presigned.maxBytes));
    };
    xhr.onerror = () => reject(errorFromStorage(0, '', presigned.maxBytes));
    xhr.onabort = () => reject(new DOMException('upload cancelled', 'AbortError'));
    signal?.addEventListener('abort', () => xhr.abort(), { once: true });
    xhr.send(form);
  });
}

export interface UploadOptions {
  onProgress?: (fraction: number) => void;
  signal?: AbortSignal;
  createXhr?: () => XhrLike;
}

/** Checks, uploads and verifies one image; answers the verified copy. */
export async function uploadImage(api: ApiClient, file: FileLike & Blob, kind: UploadKind, options: UploadOptions = {}): Promise<VerifiedImage> {
  const contentType = await checkImageFile(file);
  if (!imageContentTypes.includes(contentType)) throw new ApiError('not-an-image', `${file.name} is not a JPEG, PNG or WebP image.`);
  const presigned = await api.request<PresignedUpload>('GET', '/api/images/presignedUpUrl', {
    query: { kind, contentType },
    ...(options.signal ? { signal: options.signal } : {}),
  });
  if (file.size > presigned.maxBytes)
    throw new ApiError('too-large', `${file.name} is ${formatBytes(file.size)}; the limit is ${formatBytes(presigned.maxBytes)}.`);
  // the policy names the exact content type: send the bytes as what they are, whatever the file claims
  const body = file.type === contentType ? file : new Blob([file], { type: contentType });
  await postToStorage(presigned, body, options);
  return api.request<VerifiedImage>('POST', '/api/images/verify', {
    body: { key: presigned.key, expectedType: contentType },
    ...(options.signal ? { signal: options.signal } : {}),
  });
}

import { describe, expect, it } from 'vitest';
import type { ApiClient } from './client.ts';
import type { PresignedUpload } from './types.ts';
import { checkImageFile, postToStorage, sniffImageType, uploadImage, type XhrLike } from './upload.ts';

const PNG = new Uint8Array([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 0, 0, 0, 13]);
const JPEG = new Uint8Array([0xff, 0xd8, 0xff, 0xe0, 0, 0, 0, 0, 0, 0, 0, 0]);
const WEBP = new Uint8Array([0x52, 0x49, 0x46, 0x46, 1, 2, 3, 4, 0x57, 0x45, 0x42, 0x50]);
const file = (bytes: Uint8Array, name = 'shirt.jpg', type = 'image/jpeg') => new File([bytes as BlobPart], name, { type });

class FakeXhr implements XhrLike {
  static last?: FakeXhr;
  method = '';
  url = '';
  body?: FormData;
  status = 0;
  responseText = '';
  aborted = false;
  upload: XhrLike['upload'] = { onprogress: null };
  onload: (() => void) | null = null;
  onerror: (() => void) | null = null;
  onabort: (() => void) | null = null;
  constructor() {
    FakeXhr.last = this;
  }
  open(method: string, url: string) {
    this.method = method;
    this.url = url;
  }
  send(body: FormData) {
    this.body = body;
  }
  abort() {
    this.aborted = true;
    this.onabort?.();
  }
  answer(status: number, text = '') {
    this.status = status;
    this.responseText = text;
    this.onload?.();
  }
}

const presigned: PresignedUpload = {
  url: 'http://s3/proteus',
  fields: { key: 'users/u/garment/g.jpg', Policy: 'p', 'Content-Type': 'image/jpeg' },
  key: 'users/u/garment/g.jpg',
  expiresAt: '',
  maxBytes: 1000,
};

describe('image files', () => {
  it('knows JPEG, PNG and WebP by their first bytes', () => {
    expect(sniffImageType(JPEG)).toBe('image/jpeg');
    expect(sniffImageType(PNG)).toBe('image/png');
    expect(sniffImageType(WEBP)).toBe('image/webp');
    expect(sniffImageType(new TextEncoder().encode('GIF89a......'))).toBeUndefined();
  });

  it('goes by the bytes, not the name or the claimed type', async () => {
    expect(await checkImageFile(file(PNG, 'photo.jpg', 'image/jpeg'))).toBe('image/png');
  });

  it.each([
    ['an empty file', file(new Uint8Array(0), 'empty.jpg'), 'not-an-image', 'empty.jpg is empty.'],
    [
      'a text file named .jpg',
      file(new TextEncoder().encode('hello, this is not an image'), 'notes.jpg'),
      'not-an-image',
      'notes.jpg is not a JPEG, PNG or WebP image.',
    ],
    ['a file over the limit', file(new Uint8Array(2000).fill(0xff), 'big.jpg'), 'too-large', 'big.jpg is 2 KB; the limit is 1000 bytes.'],
  ])('refuses %s before sending anything', async (_, f, kind, message) => {
    await expect(checkImageFile(f, 1000)).rejects.toMatchObject({ kind, message });
  });
});

describe('the presigned POST', () => {
  it('sends the policy fields first and the file last, and reports progress', async () => {
    const progress: number[] = [];
    const done = postToStorage(presigned, file(JPEG), { onProgress: (f) => progress.push(f), createXhr: () => new FakeXhr() });
    const xhr = FakeXhr.last as FakeXhr;
    expect(xhr.method).toBe('POST');
    expect(xhr.url).toBe('http://s3/proteus');
    expect([...(xhr.body as FormData).keys()]).toEqual(['key', 'Policy', 'Content-Type', 'file']);
    xhr.upload.onprogress?.({ loaded: 5, total: 10, lengthComputable: true });
    xhr.answer(204);
    await done;
    expect(progress).toEqual([0.5, 1]);
  });

  it('words storage’s refusal of a file that is too large', async () => {
    const done = postToStorage(presigned, file(JPEG), { createXhr: () => new FakeXhr() });
    FakeXhr.last?.answer(400, '<?xml version="1.0"?><Error><Code>EntityTooLarge</Code></Error>');
    await expect(done).rejects.toMatchObject({ kind: 'too-large', message: 'The file is larger than 1000 bytes.' });
  });

  it('says the storage server could not be reached', async () => {
    const done = postToStorage(presigned, file(JPEG), { createXhr: () => new FakeXhr() });
    FakeXhr.last?.onerror?.();
    await expect(done).rejects.toMatchObject({ kind: 'unreachable' });
  });

  it('stops on abort', async () => {
    const abort = new AbortController();
    const done = postToStorage(presigned, file(JPEG), { signal: abort.signal, createXhr: () => new FakeXhr() });
    abort.abort();
    await expect(done).rejects.toMatchObject({ name: 'AbortError' });
    expect(FakeXhr.last?.aborted).toBe(true);
  });
});

describe('uploadImage', () => {
  it('presigns for the real type, posts, and answers the verified copy', async () => {
    const requests: { method: string; path: string; options?: unknown }[] = [];
    const api: ApiClient = {
      tokens: { get: () => undefined, set: () => {} },
      request: (async (method: string, path: string, options?: unknown) => {
        requests.push({ method, path, options });
        if (path === '/api/images/presignedUpUrl') return { ...presigned, maxBytes: 10_000 };
        return { key: 'users/u/garment/g_verified.png', format: 'png', width: 1, height: 1, bytes: 12 };
      }) as ApiClient['request'],
    };
    const pending = uploadImage(api, file(PNG, 'shirt.jpg', 'image/jpeg'), 'garment', { createXhr: () => new FakeXhr() });
    await new Promise((r) => setTimeout(r, 0));
    const sent = (FakeXhr.last as FakeXhr).body?.get('file') as File;
    expect(sent.type).toBe('image/png');
    FakeXhr.last?.answer(204);
    const verified = await pending;
    expect(verified.key).toBe('users/u/garment/g_verified.png');
    expect(requests[0]).toMatchObject({ path: '/api/images/presignedUpUrl', options: { query: { kind: 'garment', contentType: 'image/png' } } });
    expect(requests[1]).toMatchObject({
      method: 'POST',
      path: '/api/images/verify',
      options: { body: { key: 'users/u/garment/g.jpg', expectedType: 'image/png' } },
    });
  });
});

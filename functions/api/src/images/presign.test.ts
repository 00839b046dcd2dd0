import { randomUUID } from 'node:crypto';
import type { ObjectStorage } from '@proteus/common/storage';
import { keys } from '@proteus/eventing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cleanupStack, testStorage } from '../../test/deps.ts';
import { fixtures, postUpload, putObject, readObject } from '../../test/images.ts';
import { presignDownload, presignUpload } from './presign.ts';
import { ImageRejected } from './rejected.ts';
import type { ImageSettings } from './settings.ts';
import { verifyImage } from './verify.ts';

const cleanups = cleanupStack();
afterAll(() => cleanups.run());

let storage: ObjectStorage;
beforeAll(async () => {
  storage = await testStorage(cleanups);
}, 30_000);

const settings: ImageSettings = { maxBytes: 15 * 1024 * 1024, presignTtlS: 300, maxPixels: 40_000_000 };
const alice = randomUUID();
const bob = randomUUID();

/** The server refused the upload for `reason` (its XML error), and nothing was stored. */
async function expectRefused(response: Response, key: string, reason: RegExp) {
  const body = await response.text();
  expect([400, 403], body).toContain(response.status);
  expect(body).toMatch(reason);
  expect(await readObject(storage, key)).toBeUndefined();
}

const policyFailed = /Invalid according to Policy: Policy Condition failed/;

describe('presignUpload against SeaweedFS (which checks signatures and POST policies)', () => {
  it('signs a policy with the size range, the exact content type, the owner prefix and the preset key', async () => {
    const before = Date.now();
    const presigned = await presignUpload(storage, settings, { userId: alice, kind: 'garment', contentType: 'image/webp' });
    expect(presigned.key).toMatch(keys.objectKeyPattern);
    expect(presigned.key.startsWith(`users/${alice}/garment/`)).toBe(true);
    expect(presigned.key.endsWith('.webp')).toBe(true);
    expect(presigned.fields).toMatchObject({ key: presigned.key, 'Content-Type': 'image/webp' });
    expect(presigned.maxBytes).toBe(settings.maxBytes);
    const expiresAt = Date.parse(presigned.expiresAt);
    expect(expiresAt - before).toBeGreaterThanOrEqual(299_000);
    expect(expiresAt - before).toBeLessThanOrEqual(301_000);
    const policy = JSON.parse(Buffer.from(presigned.fields.Policy!, 'base64').toString('utf8')) as { expiration: string; conditions: unknown[] };
    expect(policy.conditions).toEqual(
      expect.arrayContaining([
        ['content-length-range', 1, settings.maxBytes],
        { 'Content-Type': 'image/webp' },
        ['starts-with', '$key', `users/${alice}/`],
        { key: presigned.key },
      ]),
    );
    expect(Math.abs(Date.parse(policy.expiration) - expiresAt)).toBeLessThan(2000);
  });

  it('gives every upload its own key', async () => {
    const a = await presignUpload(storage, settings, { userId: alice, kind: 'person', contentType: 'image/png' });
    const b = await presignUpload(storage, settings, { userId: alice, kind: 'person', contentType: 'image/png' });
    expect(a.key).not.toBe(b.key);
    expect(a.key).toMatch(new RegExp(`^users/${alice}/person/[0-9a-f-]{36}\\.png$`));
  });

  it('accepts a real multipart upload, which then verifies', async () => {
    const presigned = await presignUpload(storage, settings, { userId: alice, kind: 'garment', contentType: 'image/jpeg' });
    const jpeg = await fixtures.jpeg();
    const response = await postUpload(presigned, jpeg, { partType: 'image/jpeg' });
    expect([200, 201, 204], await response.text()).toContain(response.status);
    const stored = await readObject(storage, presigned.key);
    expect(stored?.contentType).toBe('image/jpeg');
    expect(Buffer.from(stored!.bytes).equals(jpeg)).toBe(true);
    const verified = await verifyImage(storage, settings, { userId: alice, key: presigned.key, expectedType: 'image/jpeg' });
    expect(verified).toMatchObject({ key: keys.verifiedObjectKey(presigned.key), format: 'jpeg', width: 64, height: 48 });
  });

  describe('the size range (maxBytes 2048)', () => {
    const small = { ...settings, maxBytes: 2048 };

    it('accepts exactly maxBytes', async () => {
      const presigned = await presignUpload(storage, small, { userId: alice, kind: 'garment', contentType: 'image/png' });
      const response = await postUpload(presigned, new Uint8Array(2048).fill(7));
      expect([200, 201, 204], await response.text()).toContain(response.status);
      expect((await readObject(storage, presigned.key))?.bytes.length).toBe(2048);
    });

    it('is enforced by the server: one byte over is refused and nothing is stored', async () => {
      const presigned = await presignUpload(storage, small, { userId: alice, kind: 'garment', contentType: 'image/png' });
      await expectRefused(await postUpload(presigned, new Uint8Array(2049).fill(7)), presigned.key, /<Code>EntityTooLarge<\/Code>/);
    });

    it('refuses an empty file (the range starts at 1)', async () => {
      const presigned = await presignUpload(storage, small, { userId: alice, kind: 'garment', contentType: 'image/png' });
      await expectRefused(await postUpload(presigned, new Uint8Array(0)), presigned.key, /<Code>EntityTooSmall<\/Code>/);
    });
  });

  it("refuses a key under another user's prefix", async () => {
    const presigned = await presignUpload(storage, settings, { userId: alice, kind: 'garment', contentType: 'image/jpeg' });
    const foreign = keys.objectKey(bob, 'garment', randomUUID(), 'jpg');
    await expectRefused(await postUpload(presigned, await fixtures.jpeg(), { fields: { key: foreign } }), foreign, policyFailed);
  });

  it('refuses another key even under the same prefix (the key is exact)', async () => {
    const presigned = await presignUpload(storage, settings, { userId: alice, kind: 'garment', contentType: 'image/jpeg' });
    const other = keys.objectKey(alice, 'results', randomUUID(), 'jpg');
    await expectRefused(await postUpload(presigned, await fixtures.jpeg(), { fields: { key: other } }), other, policyFailed);
  });

  it('refuses a Content-Type other than the signed one', async () => {
    const presigned = await presignUpload(storage, settings, { userId: alice, kind: 'garment', contentType: 'image/jpeg' });
    await expectRefused(await postUpload(presigned, await fixtures.png(), { fields: { 'Content-Type': 'image/png' } }), presigned.key, policyFailed);
    await expectRefused(await postUpload(presigned, await fixtures.png(), { fields: { 'Content-Type': 'text/html' } }), presigned.key, policyFailed);
  });

  it('refuses a policy that was edited after signing', async () => {
    const presigned = await presignUpload(storage, { ...settings, maxBytes: 2048 }, { userId: alice, kind: 'garment', contentType: 'image/png' });
    const policy = Buffer.from(presigned.fields.Policy!, 'base64').toString('utf8').replace('2048', '9999999');
    const response = await postUpload(presigned, new Uint8Array(4096).fill(1), { fields: { Policy: Buffer.from(policy).toString('base64') } });
    await expectRefused(response, presigned.key, /<Code>SignatureDoesNotMatch<\/Code>/);
  });

  it('refuses an upload after the policy expired', async () => {
    const presigned = await presignUpload(storage, { ...settings, presignTtlS: 1 }, { userId: alice, kind: 'garment', contentType: 'image/jpeg' });
    // the policy's expiration has whole seconds: 2.1 s is past it whatever the millisecond we signed at
    await new Promise((r) => setTimeout(r, 2100));
    await expectRefused(await postUpload(presigned, await fixtures.jpeg()), presigned.key, /Policy expired/);
  });
});

describe('presignDownload', () => {
  const notFound = { name: 'ImageRejected', slug: 'image-not-found', details: expect.objectContaining({ status: 404 }) };

  it("gives a working GET URL for the caller's own object", async () => {
    const key = keys.objectKey(alice, 'results', randomUUID(), 'png');
    const png = await fixtures.png();
    await putObject(storage, key, png, 'image/png');
    const { url, expiresAt } = await presignDownload(storage, settings, { userId: alice, key });
    expect(Date.parse(expiresAt)).toBeGreaterThan(Date.now() + 290_000);
    const response = await fetch(url);
    expect(response.status).toBe(200);
    expect(response.headers.get('content-type')).toBe('image/png');
    expect(Buffer.from(await response.arrayBuffer()).equals(png)).toBe(true);
  });

  it("answers image-not-found for another user's existing object", async () => {
    const key = keys.objectKey(bob, 'person', randomUUID(), 'jpg');
    await putObject(storage, key, await fixtures.jpeg(), 'image/jpeg');
    await expect(presignDownload(storage, settings, { userId: alice, key })).rejects.toMatchObject(notFound);
    // bob himself gets it
    await expect(presignDownload(storage, settings, { userId: bob, key })).resolves.toHaveProperty('url');
  });

  it('answers image-not-found for a key that does not exist', async () => {
    const key = keys.objectKey(alice, 'person', randomUUID(), 'jpg');
    await expect(presignDownload(storage, settings, { userId: alice, key })).rejects.toBeInstanceOf(ImageRejected);
    await expect(presignDownload(storage, settings, { userId: alice, key })).rejects.toMatchObject(notFound);
  });

  it.each([
    (u: string) => `users/${u}/../${bob}/person/x.jpg`,
    (u: string) => `users/${u}/person/../../${bob}/person/x.jpg`,
    (u: string) => `users/${u}/person/..jpg`,
    (u: string) => `users/${u}/person/x.jpg/..`,
    (u: string) => `/users/${u}/person/x.jpg`,
    (u: string) => `users/${u}/secrets/x.jpg`,
    (u: string) => `users/${u}/person/x.gif`,
    () => '',
  ])('answers image-not-found for a malformed key (%#)', async (make) => {
    await expect(presignDownload(storage, settings, { userId: alice, key: make(alice) })).rejects.toMatchObject(notFound);
  });
});

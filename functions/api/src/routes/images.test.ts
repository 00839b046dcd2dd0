import { randomUUID } from 'node:crypto';
import { problemErrorHandler } from '@proteus/common';
import type { ObjectStorage } from '@proteus/common/storage';
import { keys } from '@proteus/eventing';
import { Hono } from 'hono';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createKey, jsonInit, signUp, type TestAccount } from '../../test/accounts.ts';
import { baseDeps, cleanupStack, collectingLogger, expectProblem, openTestDatabase, testRedis, testStorage } from '../../test/deps.ts';
import { fixtures, postUpload, putObject, readObject } from '../../test/images.ts';
import { createApp } from '../app.ts';
import type { ApiDeps, AppEnv } from '../env.ts';
import type { PresignedUpload } from '../images/presign.ts';
import { images } from './images.ts';

type App = ReturnType<typeof createApp>;

const cleanups = cleanupStack();
afterAll(() => cleanups.run());

let storage: ObjectStorage;
let deps: ApiDeps;
let app: App;
let alice: TestAccount;
let bob: TestAccount;
let aliceKey: { id: string; key: string };

// the real app: signed-up accounts, bearer tokens and API keys through requireAuth()
beforeAll(async () => {
  storage = await testStorage(cleanups);
  deps = baseDeps({ redis: await testRedis(cleanups), database: await openTestDatabase('postgres', cleanups), storage, log: collectingLogger().log });
  app = createApp(deps);
  alice = await signUp(app, 'alice@example.com');
  bob = await signUp(app, 'bob@example.com');
  aliceKey = await createKey(app, alice.accessToken);
}, 30_000);

/** The same app with other image settings: the accounts and tokens stay valid. */
const withImages = (images: Partial<ApiDeps['images']>) => createApp({ ...deps, images: { ...deps.images, ...images } });

const get = (path: string, bearer = alice.accessToken, on: App = app) => on.request(path, jsonInit('GET', undefined, bearer));
const verify = (body: unknown, bearer = alice.accessToken, on: App = app) => on.request('/api/images/verify', jsonInit('POST', body, bearer));
const download = (key: string, bearer = alice.accessToken) => get(`/api/images/presignedDownloadUrl?key=${encodeURIComponent(key)}`, bearer);
const keyOf = (account: TestAccount, kind: 'garment' | 'person' | 'results', ext: 'jpg' | 'png') => keys.objectKey(account.user.id, kind, randomUUID(), ext);

describe('GET /api/images/presignedUpUrl', () => {
  it('presigns an upload under the caller prefix that works and then verifies through POST /verify', async () => {
    const response = await get('/api/images/presignedUpUrl?kind=person&contentType=image/png', bob.accessToken);
    expect(response.status).toBe(200);
    const presigned = (await response.json()) as PresignedUpload;
    expect(presigned.key).toMatch(new RegExp(`^users/${bob.user.id}/person/[0-9a-f-]{36}\\.png$`));
    expect(presigned).toMatchObject({ maxBytes: deps.images.maxBytes, fields: { key: presigned.key, 'Content-Type': 'image/png' } });
    expect(Date.parse(presigned.expiresAt)).toBeGreaterThan(Date.now());

    const uploaded = await postUpload(presigned, await fixtures.png(30, 20), { partType: 'image/png' });
    expect([200, 201, 204]).toContain(uploaded.status);

    const verified = await verify({ key: presigned.key, expectedType: 'image/png' }, bob.accessToken);
    expect(verified.status).toBe(200);
    expect(await verified.json()).toMatchObject({ key: keys.verifiedObjectKey(presigned.key), format: 'png', width: 30, height: 20 });
  });

  it('ignores unknown query parameters (cache busters)', async () => {
    const response = await get('/api/images/presignedUpUrl?kind=garment&contentType=image/webp&_=123');
    expect(response.status).toBe(200);
  });

  it.each([
    ['', ['kind', 'contentType']],
    ['?kind=garment', ['contentType']],
    ['?contentType=image/jpeg', ['kind']],
    ['?kind=results&contentType=image/jpeg', ['kind']],
    ['?kind=garment&contentType=image/gif', ['contentType']],
    ['?kind=garment&contentType=IMAGE/JPEG', ['contentType']],
    ['?kind=&contentType=', ['kind', 'contentType']],
    // a repeated parameter is ambiguous, not "the first one wins"
    ['?kind=garment&kind=person&contentType=image/jpeg', ['kind']],
  ])('answers 400 invalid-request naming the bad values for %s', async (search, bad) => {
    const problem = await expectProblem(await get(`/api/images/presignedUpUrl${search}`), 400, 'invalid-request');
    expect(problem.errors?.map((e) => e.path)).toEqual(bad);
    expect(problem.detail).toBe(`invalid: ${bad.join(', ')}`);
    expect(problem.instance).toBe('/api/images/presignedUpUrl');
  });
});

describe('GET /api/images/presignedDownloadUrl', () => {
  it("answers a working URL for the caller's own object", async () => {
    const key = keyOf(alice, 'results', 'jpg');
    const jpeg = await fixtures.jpeg();
    await putObject(storage, key, jpeg, 'image/jpeg');
    const response = await download(key);
    expect(response.status).toBe(200);
    const { url, expiresAt } = (await response.json()) as { url: string; expiresAt: string };
    expect(Date.parse(expiresAt)).toBeGreaterThan(Date.now());
    const fetched = await fetch(url);
    expect(fetched.status).toBe(200);
    expect(Buffer.from(await fetched.arrayBuffer()).equals(jpeg)).toBe(true);
  });

  it("answers 404 image-not-found for another user's object, exactly as for a missing one", async () => {
    const key = keyOf(bob, 'results', 'jpg');
    await putObject(storage, key, await fixtures.jpeg(), 'image/jpeg');
    const foreign = await expectProblem(await download(key), 404, 'image-not-found');
    const missing = await expectProblem(await download(keyOf(alice, 'results', 'jpg')), 404, 'image-not-found');
    expect(foreign.title).toBe(missing.title);
    expect((await download(key, bob.accessToken)).status).toBe(200);
  });

  it.each([
    () => `users/${alice.user.id}/../${bob.user.id}/results/x.jpg`,
    () => '../../etc/passwd',
    () => `users/${alice.user.id}/results/..`,
    () => `users/${alice.user.id}/results/x.jpg?x=..`,
  ])('answers 404 for a traversal key (%#)', async (key) => {
    await expectProblem(await download(key()), 404, 'image-not-found');
  });

  it('answers 400 invalid-request without a key', async () => {
    const problem = await expectProblem(await get('/api/images/presignedDownloadUrl'), 400, 'invalid-request');
    expect(problem.errors?.map((e) => e.path)).toEqual(['key']);
  });
});

describe('POST /api/images/verify', () => {
  it('answers 422 image-type-mismatch for PNG bytes uploaded as JPEG', async () => {
    const key = keyOf(alice, 'garment', 'jpg');
    await putObject(storage, key, await fixtures.png(), 'image/jpeg');
    const problem = await expectProblem(await verify({ key }), 422, 'image-type-mismatch');
    expect(problem.detail).toBe('the bytes are image/png but the object is stored as image/jpeg');
  });

  it('answers 413 image-too-large over maxBytes', async () => {
    const key = keyOf(alice, 'garment', 'jpg');
    const jpeg = await fixtures.jpeg();
    await putObject(storage, key, jpeg, 'image/jpeg');
    const problem = await expectProblem(await verify({ key }, alice.accessToken, withImages({ maxBytes: 100 })), 413, 'image-too-large');
    expect(problem.detail).toBe(`${jpeg.length} bytes, at most 100`);
  });

  it('answers 422 image-too-many-pixels', async () => {
    const key = keyOf(alice, 'garment', 'png');
    await putObject(storage, key, await fixtures.png(300, 200), 'image/png');
    const response = await verify({ key }, alice.accessToken, withImages({ maxPixels: 10_000 }));
    expect((await expectProblem(response, 422, 'image-too-many-pixels')).detail).toBe('300x200 = 60000 pixels, at most 10000');
  });

  it("answers 404 image-not-found for another user's object and leaves it untouched", async () => {
    const key = keyOf(bob, 'garment', 'jpg');
    const exif = await fixtures.jpegWithExif();
    await putObject(storage, key, exif, 'image/jpeg');
    await expectProblem(await verify({ key }), 404, 'image-not-found');
    expect(Buffer.from((await readObject(storage, key))!.bytes).equals(exif)).toBe(true);
  });

  it.each([
    ['{"key": ', ['(body)'], 'the body is not valid JSON'],
    ['[]', ['(body)'], 'invalid: (body)'],
    [{}, ['key'], 'invalid: key'],
    [{ key: 42 }, ['key'], 'invalid: key'],
    [{ key: 'users/x/garment/y.jpg', expectedType: 'image/gif' }, ['expectedType'], 'invalid: expectedType'],
    [{ key: 'users/x/garment/y.jpg', owner: 'someone-else' }, ['owner'], 'invalid: owner'],
    // over the route's old 4 KiB limit but within 64 KiB: the key's own limit answers
    [{ key: 'x'.repeat(5000) }, ['key'], 'invalid: key'],
  ] as const)('answers 400 invalid-request for the body %j', async (body, paths, detail) => {
    const problem = await expectProblem(await verify(body), 400, 'invalid-request');
    expect(problem.detail).toBe(detail);
    expect(problem.errors?.map((e) => e.path)).toEqual(paths);
  });

  it('names an unknown field as unknown or read-only', async () => {
    const problem = await expectProblem(await verify({ key: keyOf(alice, 'garment', 'jpg'), owner: bob.user.id }), 400, 'invalid-request');
    expect(problem.errors).toEqual([{ path: 'owner', message: 'unknown or read-only field' }]);
  });

  it('answers 413 body-too-large for a body over 64 KiB', async () => {
    const problem = await expectProblem(await verify({ key: 'x'.repeat(64 * 1024) }), 413, 'body-too-large');
    expect(problem.detail).toBe('at most 65536 bytes');
  });

  it.each([
    ['text/plain', { 'content-type': 'text/plain' }],
    ['no content type', {}],
  ])('answers 415 unsupported-media-type for a body sent as %s', async (_what, headers) => {
    const response = await app.request('/api/images/verify', {
      method: 'POST',
      headers: { ...headers, authorization: `Bearer ${alice.accessToken}` },
      body: JSON.stringify({ key: keyOf(alice, 'garment', 'jpg') }),
    });
    await expectProblem(response, 415, 'unsupported-media-type');
  });
});

describe('authentication on the real app', () => {
  it('lets an API key act for its owner: presign, upload, verify, download', async () => {
    const response = await get('/api/images/presignedUpUrl?kind=garment&contentType=image/jpeg', aliceKey.key);
    expect(response.status).toBe(200);
    const presigned = (await response.json()) as PresignedUpload;
    expect(presigned.key.startsWith(`users/${alice.user.id}/garment/`)).toBe(true);
    const uploaded = await postUpload(presigned, await fixtures.jpeg(), { partType: 'image/jpeg' });
    expect([200, 201, 204]).toContain(uploaded.status);
    expect((await verify({ key: presigned.key, expectedType: 'image/jpeg' }, aliceKey.key)).status).toBe(200);
    expect((await download(presigned.key, aliceKey.key)).status).toBe(200);
    // the key is alice's: bob's token sees nothing there
    await expectProblem(await download(presigned.key, bob.accessToken), 404, 'image-not-found');
  });

  // who asks is settled before the query or the body is read
  it.each([
    ['GET /presignedUpUrl with a bad query', () => app.request('/api/images/presignedUpUrl?kind=results')],
    ['GET /presignedDownloadUrl without a key', () => app.request('/api/images/presignedDownloadUrl')],
    ['POST /verify with an unknown field', () => app.request('/api/images/verify', jsonInit('POST', { key: 'k', owner: 'x' }))],
    ['POST /verify over 64 KiB', () => app.request('/api/images/verify', jsonInit('POST', { key: 'x'.repeat(64 * 1024) }))],
    ['POST /verify as text/plain', () => app.request('/api/images/verify', { method: 'POST', headers: { 'content-type': 'text/plain' }, body: 'key' })],
  ])('answers 401 to an anonymous %s', async (_what, request) => {
    const response = await request();
    await expectProblem(response, 401, 'unauthorized');
    expect(response.headers.get('www-authenticate')).toBe('Bearer');
  });

  it('answers 401 invalid_token for a revoked API key', async () => {
    const { id, key } = await createKey(app, alice.accessToken, 'revoked');
    expect((await app.request(`/api/api-keys/${id}`, jsonInit('DELETE', undefined, alice.accessToken))).status).toBe(204);
    const response = await get('/api/images/presignedUpUrl?kind=garment&contentType=image/jpeg', key);
    await expectProblem(response, 401, 'unauthorized');
    expect(response.headers.get('www-authenticate')).toBe('Bearer error="invalid_token"');
  });
});

describe('without the auth middleware', () => {
  it.each([
    ['GET', '/api/images/presignedUpUrl?kind=garment&contentType=image/jpeg', undefined],
    ['POST', '/api/images/verify', { key: 'users/x/garment/y.jpg' }],
  ])('%s %s fails closed with a 500 that leaks nothing', async (method, path, body) => {
    const bare = new Hono<AppEnv>();
    bare.use(async (c, next) => {
      c.set('deps', deps);
      await next();
    });
    const logger = collectingLogger();
    bare.route('/api/images', images);
    bare.onError(problemErrorHandler(logger.log));
    const response = await bare.request(path, jsonInit(method, body));
    expect(response.status).toBe(500);
    expect(await response.text()).not.toContain('users/');
    expect(logger.lines.some((l) => l.msg === 'unhandled error')).toBe(true);
  });
});

import { randomUUID } from 'node:crypto';
import { notFoundHandler, problemErrorHandler } from '@proteus/common';
import type { ObjectStorage } from '@proteus/common/storage';
import { keys } from '@proteus/eventing';
import { Hono } from 'hono';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { baseDeps, cleanupStack, collectingLogger, openTestDatabase, PROBLEMS, problemOf, testRedis, testStorage } from '../../test/deps.ts';
import { fixtures, postUpload, putObject, readObject } from '../../test/images.ts';
import type { ApiDeps, AppEnv } from '../env.ts';
import type { PresignedUpload } from '../images/presign.ts';
import { images } from './images.ts';

const cleanups = cleanupStack();
afterAll(() => cleanups.run());

const alice = randomUUID();
const bob = randomUUID();
let storage: ObjectStorage;
let deps: ApiDeps;

/** The router as the lead mounts it, with a stand-in for the auth middleware: `x-test-user` names the caller. */
function testApp(d: ApiDeps) {
  const app = new Hono<AppEnv>();
  app.use(async (c, next) => {
    c.set('deps', d);
    c.set('auth', { userId: c.req.header('x-test-user') ?? alice, role: 'user', via: 'token' });
    await next();
  });
  app.route('/api/images', images);
  app.notFound(notFoundHandler);
  app.onError(problemErrorHandler(d.log));
  return app;
}
let app: ReturnType<typeof testApp>;

beforeAll(async () => {
  storage = await testStorage(cleanups);
  deps = baseDeps({ redis: await testRedis(cleanups), database: await openTestDatabase('postgres', cleanups), storage, log: collectingLogger().log });
  app = testApp(deps);
}, 30_000);

const as = (user: string) => ({ headers: { 'x-test-user': user } });
const verify = (body: unknown, user = alice) =>
  app.request('/api/images/verify', {
    method: 'POST',
    headers: { 'content-type': 'application/json', 'x-test-user': user },
    body: typeof body === 'string' ? body : JSON.stringify(body),
  });

async function expectProblem(response: Response, status: number, slug: string) {
  expect(response.status).toBe(status);
  const problem = (await problemOf(response)) as Awaited<ReturnType<typeof problemOf>> & { errors?: { path: string; message: string }[] };
  expect(problem).toMatchObject({ type: PROBLEMS + slug, status });
  return problem;
}

describe('GET /api/images/presignedUpUrl', () => {
  it('presigns an upload under the caller prefix that works and then verifies through POST /verify', async () => {
    const response = await app.request('/api/images/presignedUpUrl?kind=person&contentType=image/png', as(bob));
    expect(response.status).toBe(200);
    const presigned = (await response.json()) as PresignedUpload;
    expect(presigned.key).toMatch(new RegExp(`^users/${bob}/person/[0-9a-f-]{36}\\.png$`));
    expect(presigned).toMatchObject({ maxBytes: deps.images.maxBytes, fields: { key: presigned.key, 'Content-Type': 'image/png' } });
    expect(Date.parse(presigned.expiresAt)).toBeGreaterThan(Date.now());

    const uploaded = await postUpload(presigned, await fixtures.png(30, 20), { partType: 'image/png' });
    expect([200, 201, 204]).toContain(uploaded.status);

    const verified = await verify({ key: presigned.key, expectedType: 'image/png' }, bob);
    expect(verified.status).toBe(200);
    expect(await verified.json()).toMatchObject({ key: presigned.key, format: 'png', width: 30, height: 20 });
  });

  it('ignores unknown query parameters (cache busters)', async () => {
    const response = await app.request('/api/images/presignedUpUrl?kind=garment&contentType=image/webp&_=123');
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
  ])('answers 400 invalid-request naming the bad values for %s', async (query, bad) => {
    const problem = await expectProblem(await app.request(`/api/images/presignedUpUrl${query}`), 400, 'invalid-request');
    expect(problem.errors?.map((e) => e.path).sort()).toEqual([...bad].sort());
    for (const name of bad) expect(problem.detail).toContain(`${name}:`);
    expect(problem.instance).toBe('/api/images/presignedUpUrl');
  });
});

describe('GET /api/images/presignedDownloadUrl', () => {
  const download = (key: string, user = alice) => app.request(`/api/images/presignedDownloadUrl?key=${encodeURIComponent(key)}`, as(user));

  it("answers a working URL for the caller's own object", async () => {
    const key = keys.objectKey(alice, 'results', randomUUID(), 'jpg');
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
    const key = keys.objectKey(bob, 'results', randomUUID(), 'jpg');
    await putObject(storage, key, await fixtures.jpeg(), 'image/jpeg');
    const foreign = await expectProblem(await download(key, alice), 404, 'image-not-found');
    const missingKey = keys.objectKey(alice, 'results', randomUUID(), 'jpg');
    const missing = await expectProblem(await download(missingKey, alice), 404, 'image-not-found');
    expect(foreign.title).toBe(missing.title);
    expect((await download(key, bob)).status).toBe(200);
  });

  it.each([`users/${alice}/../${bob}/results/x.jpg`, '../../etc/passwd', `users/${alice}/results/..`, `users/${alice}/results/x.jpg?x=..`])(
    'answers 404 for the traversal key %s',
    async (key) => {
      await expectProblem(await download(key), 404, 'image-not-found');
    },
  );

  it('answers 400 invalid-request without a key', async () => {
    const problem = await expectProblem(await app.request('/api/images/presignedDownloadUrl'), 400, 'invalid-request');
    expect(problem.errors?.map((e) => e.path)).toEqual(['key']);
  });
});

describe('POST /api/images/verify', () => {
  it('answers 422 image-type-mismatch for PNG bytes uploaded as JPEG', async () => {
    const key = keys.objectKey(alice, 'garment', randomUUID(), 'jpg');
    await putObject(storage, key, await fixtures.png(), 'image/jpeg');
    const problem = await expectProblem(await verify({ key }), 422, 'image-type-mismatch');
    expect(problem.detail).toBe('the bytes are image/png but the object is stored as image/jpeg');
  });

  it('answers 413 image-too-large over maxBytes', async () => {
    const small = testApp({ ...deps, images: { ...deps.images, maxBytes: 100 } });
    const key = keys.objectKey(alice, 'garment', randomUUID(), 'jpg');
    const jpeg = await fixtures.jpeg();
    await putObject(storage, key, jpeg, 'image/jpeg');
    const response = await small.request('/api/images/verify', { method: 'POST', body: JSON.stringify({ key }) });
    const problem = await expectProblem(response, 413, 'image-too-large');
    expect(problem.detail).toBe(`${jpeg.length} bytes, at most 100`);
  });

  it('answers 422 image-too-many-pixels', async () => {
    const key = keys.objectKey(alice, 'garment', randomUUID(), 'png');
    await putObject(storage, key, await fixtures.png(300, 200), 'image/png');
    const tight = testApp({ ...deps, images: { ...deps.images, maxPixels: 10_000 } });
    const response = await tight.request('/api/images/verify', { method: 'POST', body: JSON.stringify({ key }) });
    expect((await expectProblem(response, 422, 'image-too-many-pixels')).detail).toBe('300x200 = 60000 pixels, at most 10000');
  });

  it("answers 404 image-not-found for another user's object and leaves it untouched", async () => {
    const key = keys.objectKey(bob, 'garment', randomUUID(), 'jpg');
    const exif = await fixtures.jpegWithExif();
    await putObject(storage, key, exif, 'image/jpeg');
    await expectProblem(await verify({ key }, alice), 404, 'image-not-found');
    expect(Buffer.from((await readObject(storage, key))!.bytes).equals(exif)).toBe(true);
  });

  it.each([
    ['{"key": ', [], /not valid JSON/],
    ['[]', ['body'], /body:/],
    [{}, ['key'], /key:/],
    [{ key: 42 }, ['key'], /key:/],
    [{ key: 'users/x/garment/y.jpg', expectedType: 'image/gif' }, ['expectedType'], /expectedType:/],
    [{ key: 'users/x/garment/y.jpg', owner: 'someone-else' }, ['owner'], /owner: unknown field/],
  ] as const)('answers 400 invalid-request for the body %j', async (body, paths, detail) => {
    const problem = await expectProblem(await verify(body), 400, 'invalid-request');
    expect(problem.detail).toMatch(detail);
    expect(problem.errors?.map((e) => e.path) ?? []).toEqual(paths);
  });

  it('answers 413 request-too-large for a body over 4 KiB', async () => {
    await expectProblem(await verify({ key: 'x'.repeat(5000) }), 413, 'request-too-large');
  });
});

describe('without the auth middleware', () => {
  it('fails closed with a 500 that leaks nothing', async () => {
    const bare = new Hono<AppEnv>();
    bare.use(async (c, next) => {
      c.set('deps', deps);
      await next();
    });
    const logger = collectingLogger();
    bare.route('/api/images', images);
    bare.onError(problemErrorHandler(logger.log));
    const response = await bare.request('/api/images/presignedUpUrl?kind=garment&contentType=image/jpeg');
    expect(response.status).toBe(500);
    expect(await response.text()).not.toContain('users/');
    expect(logger.lines.some((l) => l.msg === 'unhandled error')).toBe(true);
  });
});

import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { DatabaseHandle } from '@proteus/common/db';
import type { ObjectStorage } from '@proteus/common/storage';
import type { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { baseDeps, cleanupStack, collectingLogger, openTestDatabase, PROBLEMS, problemOf, testRedis, testStorage } from '../../test/deps.ts';
import { createApp } from '../app.ts';

const cleanups = cleanupStack();
afterAll(() => cleanups.run());

let redis: Redis;
let database: DatabaseHandle;
let storage: ObjectStorage;
let dist: string;
let app: ReturnType<typeof createApp>;

const INDEX = '<!doctype html><title>Proteus</title>';

beforeAll(async () => {
  redis = await testRedis(cleanups);
  database = await openTestDatabase('postgres', cleanups);
  storage = await testStorage(cleanups);
  // <tmp>/site/dist is served; <tmp>/site/secret.txt and <tmp>/outside.txt sit above it
  const tmp = mkdtempSync(join(tmpdir(), 'proteus-web-'));
  cleanups.push(() => rmSync(tmp, { recursive: true, force: true }));
  dist = join(tmp, 'site', 'dist');
  mkdirSync(join(dist, 'assets'), { recursive: true });
  writeFileSync(join(dist, 'index.html'), INDEX);
  writeFileSync(join(dist, 'assets', 'x.js'), 'console.log(1)');
  writeFileSync(join(dist, 'favicon.ico'), 'ico');
  writeFileSync(join(tmp, 'site', 'secret.txt'), 'SECRET');
  writeFileSync(join(tmp, 'outside.txt'), 'SECRET');
  app = createApp(baseDeps({ redis, database, storage, log: collectingLogger().log, webDist: dist }));
}, 30_000);

describe('web app serving (webDist set)', () => {
  it('serves index.html at / without long caching', async () => {
    const response = await app.request('/');
    expect(response.status).toBe(200);
    expect(response.headers.get('content-type')).toBe('text/html; charset=utf-8');
    expect(response.headers.get('cache-control')).toBe('no-cache');
    expect(await response.text()).toBe(INDEX);
  });

  it('serves /assets/* as immutable with its content type', async () => {
    const response = await app.request('/assets/x.js');
    expect(response.status).toBe(200);
    expect(response.headers.get('content-type')).toBe('text/javascript; charset=utf-8');
    expect(response.headers.get('cache-control')).toBe('public, max-age=31536000, immutable');
    expect(await response.text()).toBe('console.log(1)');
  });

  it('serves other files without long caching', async () => {
    const response = await app.request('/favicon.ico');
    expect(response.headers.get('content-type')).toBe('image/x-icon');
    expect(response.headers.get('cache-control')).toBe('no-cache');
  });

  it('answers an unknown app path with index.html (the SPA routes on reload)', async () => {
    const response = await app.request('/vtons/123/result');
    expect(response.status).toBe(200);
    expect(await response.text()).toBe(INDEX);
  });

  it.each([
    '/..%2fsecret.txt',
    '/..%2f..%2foutside.txt',
    '/..%2f..%2f..%2f..%2f..%2f..%2fetc/passwd',
    '/assets/..%2f..%2f..%2foutside.txt',
    '/%2e%2e/%2e%2e/outside.txt',
    '/..%5c..%5coutside.txt',
  ])('never serves a file outside the folder: %s', async (path) => {
    const response = await app.request(path);
    const body = await response.text();
    expect(body).not.toContain('SECRET');
    expect(body).not.toContain('root:');
    expect(body === INDEX || response.status === 404).toBe(true);
  });

  it('answers a malformed percent-encoding with a 404 problem, not a 500', async () => {
    const response = await app.request('/%E0%A4%A');
    expect(response.status).toBe(404);
    expect((await problemOf(response)).type).toBe(`${PROBLEMS}not-found`);
  });

  it.each(['/api/unknown', '/api', '/api/health/nope'])('answers %s with a 404 problem, not index.html', async (path) => {
    const response = await app.request(path);
    expect(response.status).toBe(404);
    expect(await problemOf(response)).toMatchObject({ type: `${PROBLEMS}not-found`, status: 404, instance: path });
  });

  it('does not turn GET /events into index.html', async () => {
    const response = await app.request('/events');
    expect(response.status).toBe(404);
    expect((await problemOf(response)).type).toBe(`${PROBLEMS}not-found`);
  });

  it('serves the same with a trailing slash on webDist', async () => {
    const slashed = createApp(baseDeps({ redis, database, storage, log: collectingLogger().log, webDist: `${dist}/` }));
    expect(await (await slashed.request('/')).text()).toBe(INDEX);
    expect(await (await slashed.request('/assets/x.js')).text()).toBe('console.log(1)');
  });

  it('answers GET /healthz 200 (liveness, no dependencies)', async () => {
    const response = await app.request('/healthz');
    expect(response.status).toBe(200);
    expect(await response.json()).toEqual({ status: 'ok' });
  });
});

describe('without webDist', () => {
  it('answers / with a 404 problem', async () => {
    const bare = createApp(baseDeps({ redis, database, storage, log: collectingLogger().log }));
    const response = await bare.request('/');
    expect(response.status).toBe(404);
    expect((await problemOf(response)).type).toBe(`${PROBLEMS}not-found`);
  });
});

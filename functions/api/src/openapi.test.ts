import type { DatabaseHandle } from '@proteus/common/db';
import type { ObjectStorage } from '@proteus/common/storage';
import { Validator } from '@seriousme/openapi-schema-validator';
import type { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { baseDeps, cleanupStack, collectingLogger, openTestDatabase, testRedis, testStorage } from '../test/deps.ts';
import { createApp } from './app.ts';
import { openApiDocument } from './openapi.ts';
import { signupBody } from './routes/auth.ts';

const cleanups = cleanupStack();
afterAll(() => cleanups.run());

let redis: Redis;
let database: DatabaseHandle;
let storage: ObjectStorage;
let app: ReturnType<typeof createApp>;

beforeAll(async () => {
  redis = await testRedis(cleanups);
  database = await openTestDatabase('pglite', cleanups);
  storage = await testStorage(cleanups);
  app = createApp(baseDeps({ redis, database, storage, log: collectingLogger().log }));
}, 30_000);

interface Op {
  responses: Record<string, unknown>;
  security?: unknown;
  parameters?: { name: string; in: string }[];
  requestBody?: { content: Record<string, { schema: { additionalProperties?: unknown; required?: string[] } }> };
}
type Doc = { openapi: string; paths: Record<string, Record<string, Op>> };
const doc = () => openApiDocument() as unknown as Doc;
const METHODS = ['get', 'put', 'post', 'delete', 'options', 'head', 'patch', 'trace'];

/** Every `$ref` in a value, at any depth. */
function refsIn(value: unknown, found: string[] = []): string[] {
  if (Array.isArray(value)) for (const v of value) refsIn(v, found);
  else if (value && typeof value === 'object') {
    for (const [k, v] of Object.entries(value)) {
      if (k === '$ref' && typeof v === 'string') found.push(v);
      else refsIn(v, found);
    }
  }
  return found;
}

/** The method and path of every route the app registers under /api, as OpenAPI writes them. */
function registeredRoutes(): Set<string> {
  const routes = new Set<string>();
  for (const { method, path } of app.routes) {
    if (!path.startsWith('/api/') && path !== '/api') continue;
    if (method === 'ALL' || path.endsWith('*')) continue;
    const normalized = path.replace(/\/+$/, '').replace(/:([A-Za-z0-9_]+)/g, '{$1}');
    if (normalized === '/api/openapi.json' || normalized === '/api/docs') continue;
    routes.add(`${method.toLowerCase()} ${normalized}`);
  }
  return routes;
}

describe('the OpenAPI document', () => {
  it('is OpenAPI 3.1 in shape: every operation has responses, every $ref resolves', () => {
    const d = doc();
    expect(d.openapi).toBe('3.1.0');
    for (const [path, item] of Object.entries(d.paths)) {
      for (const [method, op] of Object.entries(item)) {
        expect(METHODS, `${method} ${path}`).toContain(method);
        expect(Object.keys(op.responses ?? {}).length, `${method} ${path}`).toBeGreaterThan(0);
      }
    }
    const refs = refsIn(d);
    expect(refs.length).toBeGreaterThan(0);
    for (const ref of refs) {
      expect(ref.startsWith('#/'), ref).toBe(true);
      const target = ref
        .slice(2)
        .split('/')
        .reduce<unknown>((o, k) => (o as Record<string, unknown> | undefined)?.[k], d);
      expect(target, ref).toBeTypeOf('object');
    }
  });

  it('passes the OpenAPI 3.1 schema validator', async () => {
    const result = await new Validator().validate(structuredClone(openApiDocument()));
    expect(result.errors ?? []).toEqual([]);
    expect(result.valid).toBe(true);
  });

  it('documents every /api route the app registers, and nothing else', () => {
    const registered = registeredRoutes();
    const documented = new Set(Object.entries(doc().paths).flatMap(([path, item]) => Object.keys(item).map((method) => `${method} ${path}`)));
    // a sanity check on the route listing itself
    expect(registered).toContain('post /api/auth/signup');
    expect(registered).toContain('get /api/status/{job_id}');
    expect([...registered].filter((r) => !documented.has(r))).toEqual([]);
    expect([...documented].filter((r) => !registered.has(r))).toEqual([]);
  });

  it('has the route’s own request schema: signup refuses an unknown property', async () => {
    const schema = doc().paths['/api/auth/signup']?.post?.requestBody?.content['application/json']?.schema;
    expect(schema?.additionalProperties).toBe(false);
    expect(schema?.required).toEqual(expect.arrayContaining(['email', 'password']));
    expect(signupBody.safeParse({ email: 'a@b.test', password: 'x'.repeat(12), role: 'admin' }).success).toBe(false);
    const res = await app.request('/api/auth/signup', {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ email: 'openapi@proteus.test', password: 'x'.repeat(12), role: 'admin' }),
    });
    expect(res.status).toBe(400);
  });

  it('names query parameters, security and problem responses', () => {
    const jobs = doc().paths['/api/jobs']?.get as Op;
    expect(jobs.parameters?.map((p) => `${p.in}:${p.name}`)).toEqual(expect.arrayContaining(['query:since', 'query:cursor', 'query:limit']));
    expect(jobs.security).toEqual([{ bearerAuth: [] }, { apiKey: [] }]);
    expect(jobs.responses['401']).toEqual({ $ref: '#/components/responses/Problem401' });
    const signup = doc().paths['/api/auth/signup']?.post as Op;
    expect(signup.security).toEqual([]);
    expect(Object.keys(signup.responses)).toEqual(expect.arrayContaining(['201', '400', '409', '413', '415']));
  });
});

describe('serving', () => {
  it('GET /api/openapi.json answers the document without credentials', async () => {
    const res = await app.request('/api/openapi.json');
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toMatch(/application\/json/);
    expect(await res.json()).toEqual(openApiDocument());
  });

  it('GET /api/docs answers a self-contained HTML page', async () => {
    const res = await app.request('/api/docs');
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toMatch(/text\/html/);
    const html = await res.text();
    expect(html).toContain('/api/openapi.json');
    expect(html).not.toMatch(/<script[^>]*\bsrc\s*=/i);
    expect(html).not.toMatch(/<link[^>]*\bhref\s*=\s*["']?https?:/i);
    expect(res.headers.get('content-security-policy')).toMatch(/script-src 'sha256-/);
  });
});

/**
 * The OpenAPI 3.1 document of /api, generated from the routes' own zod schemas (request bodies
 * and queries), served at `GET /api/openapi.json`, and a self-contained reference page at
 * `GET /api/docs` (no CDN, no third-party script). openapi.test.ts checks that every route the
 * app registers is documented and every documented path is a route.
 */
import { createHash } from 'node:crypto';
import { Hono } from 'hono';
import { z } from 'zod';
import type { AppEnv } from './env.ts';
import * as apiKeys from './routes/api-keys.ts';
import * as auth from './routes/auth.ts';
import { BATCH_CONTENT_TYPE, MAX_BATCH_EVENTS, MAX_INGEST_BYTES } from './routes/cloudevents.ts';
import * as images from './routes/images.ts';
import * as jobs from './routes/jobs.ts';
import * as users from './routes/users.ts';
import * as vtons from './routes/vtons.ts';
import { MAX_JSON_BYTES } from './validation.ts';

type Json = Record<string, unknown>;
/** who may call: nobody in particular, an access token, a token or an API key, an API key only */
type Access = 'public' | 'token' | 'admin' | 'token-or-key' | 'key';

interface Operation {
  method: 'get' | 'post' | 'patch' | 'delete';
  path: string;
  summary: string;
  /** what a client should know beyond the summary (CommonMark) */
  description?: string;
  tag: string;
  access: Access;
  body?: z.ZodType;
  query?: z.ZodType;
  /** a request body that is not one zod schema (CloudEvents) */
  requestBody?: Json;
  success: Record<number, { description: string; schema?: Json; contentType?: string }>;
  /** problem statuses beyond those implied by access, body and query */
  problems?: number[];
  headers?: Json[];
}

const ref = (name: string) => ({ $ref: `#/components/schemas/${name}` });

/** JSON Schema (2020-12, the dialect of OpenAPI 3.1) of what a client sends. */
export function inputSchema(schema: z.ZodType): Json {
  const { $schema: _, ...rest } = z.toJSONSchema(schema, { io: 'input', unrepresentable: 'any' }) as Json;
  return rest;
}

const PROBLEM_DESCRIPTIONS: Record<number, string> = {
  400: 'Invalid request: `errors` names each field',
  401: 'Missing, invalid or expired credentials (see `WWW-Authenticate`)',
  403: 'Authenticated, but not allowed',
  404: 'Not found (also for another user’s resources)',
  409: 'Conflict',
  413: 'Request body or image too large',
  415: `Unsupported media type: expected application/json`,
  422: 'Unprocessable (an image that fails the checks, or a reused Idempotency-Key)',
  429: 'Rate-limited: retry after `Retry-After` seconds',
  503: 'A dependency is unavailable: retry later',
};

const idempotencyKey = {
  name: 'Idempotency-Key',
  in: 'header',
  required: false,
  description: 'a retry with the same key and body answers the same job (`Idempotent-Replayed: true`)',
  schema: { type: 'string', maxLength: 255 },
};

const tokens = {
  type: 'object',
  properties: {
    user: ref('User'),
    accessToken: { type: 'string' },
    refreshToken: { type: 'string' },
    expiresIn: { type: 'integer', description: 'seconds the access token lives' },
  },
  required: ['accessToken', 'refreshToken', 'expiresIn'],
};
const page = (item: Json) => ({
  type: 'object',
  properties: { items: { type: 'array', items: item }, nextCursor: { type: ['string', 'null'] } },
  required: ['items', 'nextCursor'],
});
const jobAccepted = { 202: { description: 'Queued', schema: ref('JobAccepted') } };
const WAITS_FOR_MASK =
  'A try-on without `maskKey` first needs a person mask: it reuses a mask made from the same person photo (the VTON’s, or the one made for another of the caller’s try-ons of that photo); else it waits for that photo’s mask job if one is queued or running, or a segmentation job (`purpose: person-mask`) is queued with it and the try-on waits for it; it is answered and listed as `queued` with `waiting_for` naming the job it waits for. When the mask is made the try-on is queued with it; when it fails, without one (the worker then builds a mask from the landmarks). The answer is always the try-on job.';
const JOB_STATUS =
  'A try-on waiting for its person mask is `queued`; `waiting_for` names the segmentation job making the mask (a job of the caller’s, with its own status), null once the try-on is queued.';
const submission: Pick<Operation, 'access' | 'tag' | 'success' | 'problems' | 'headers'> = {
  access: 'token-or-key',
  tag: 'Jobs',
  success: jobAccepted,
  problems: [404, 413, 422, 503],
  headers: [idempotencyKey],
};

const operations: Operation[] = [
  { method: 'get', path: '/api/health', summary: 'Readiness: every dependency', tag: 'Health', access: 'public', success: {} },
  {
    method: 'get',
    path: '/api/ops/status',
    summary: 'The operator view (admins): queue depth, policy, workers, wait p95, recent policy changes',
    tag: 'Health',
    access: 'admin',
    success: {
      200: {
        description:
          '`{at, queueDepth, policy: {batchSize, degraded, mode, reason, since} | null, workers: [{name, engine, at}], waitP95Ms | null, waitWindowS, recentChanges: [{id, at, batchSize, degraded, mode, reason, queueDepth, avgWaitMs}]}` (docs/WEB.md)',
      },
    },
  },
  {
    method: 'post',
    path: '/api/auth/signup',
    summary: 'Create an account',
    tag: 'Auth',
    access: 'public',
    body: auth.signupBody,
    success: { 201: { description: 'The account and its first tokens', schema: tokens } },
    problems: [409],
  },
  {
    method: 'post',
    path: '/api/auth/login',
    summary: 'Log in (rate-limited per account and per client IP)',
    tag: 'Auth',
    access: 'public',
    body: auth.loginBody,
    success: { 200: { description: 'Tokens', schema: tokens } },
    problems: [401, 429],
  },
  {
    method: 'post',
    path: '/api/auth/refresh',
    summary: 'Rotate a refresh token (a reused one revokes them all)',
    tag: 'Auth',
    access: 'public',
    body: auth.refreshBody,
    success: { 200: { description: 'A new token pair', schema: tokens } },
    problems: [401],
  },
  {
    method: 'post',
    path: '/api/auth/logout',
    summary: 'Revoke a refresh token',
    tag: 'Auth',
    access: 'public',
    body: auth.refreshBody,
    success: { 204: { description: 'Revoked' } },
  },
  {
    method: 'get',
    path: '/api/users/me',
    summary: 'The caller’s account',
    tag: 'Users',
    access: 'token',
    success: { 200: { description: 'The account', schema: ref('User') } },
  },
  {
    method: 'patch',
    path: '/api/users/me',
    summary: 'Change the display name or the password (currentPassword required)',
    tag: 'Users',
    access: 'token',
    body: users.patchBody,
    success: { 200: { description: 'The account', schema: ref('User') } },
  },
  {
    method: 'delete',
    path: '/api/users/me',
    summary: 'Delete the caller’s account',
    tag: 'Users',
    access: 'token',
    success: { 204: { description: 'Deleted' } },
  },
  {
    method: 'get',
    path: '/api/users',
    summary: 'List accounts (admins)',
    tag: 'Users',
    access: 'admin',
    query: users.listQuery,
    success: { 200: { description: 'A page of accounts', schema: page(ref('User')) } },
  },
  {
    method: 'post',
    path: '/api/api-keys',
    summary: 'Create an API key (the key is shown once)',
    tag: 'API keys',
    access: 'token',
    body: apiKeys.createBody,
    success: {
      201: { description: 'The key, with its secret', schema: { allOf: [ref('ApiKey'), { type: 'object', properties: { key: { type: 'string' } } }] } },
    },
    problems: [409],
  },
  {
    method: 'get',
    path: '/api/api-keys',
    summary: 'List the caller’s live API keys',
    tag: 'API keys',
    access: 'token',
    success: {
      200: { description: 'The keys (never their secrets)', schema: { type: 'object', properties: { items: { type: 'array', items: ref('ApiKey') } } } },
    },
  },
  {
    method: 'delete',
    path: '/api/api-keys/{id}',
    summary: 'Revoke an API key',
    tag: 'API keys',
    access: 'token',
    success: { 204: { description: 'Revoked' } },
    problems: [404],
  },
  {
    method: 'get',
    path: '/api/images/presignedUpUrl',
    summary: 'A presigned POST to upload an image',
    tag: 'Images',
    access: 'token-or-key',
    query: images.uploadQuery,
    success: { 200: { description: '`{url, fields, key, expiresAt, maxBytes}`' } },
  },
  {
    method: 'get',
    path: '/api/images/presignedDownloadUrl',
    summary: 'A presigned URL to download one of the caller’s images',
    tag: 'Images',
    access: 'token-or-key',
    query: images.downloadQuery,
    success: { 200: { description: '`{url, expiresAt}`' } },
    problems: [404],
  },
  {
    method: 'post',
    path: '/api/images/verify',
    summary: 'Check an upload: size, magic bytes, pixel count, full decode; metadata stripped',
    tag: 'Images',
    access: 'token-or-key',
    body: images.verifyBody,
    success: {
      200: { description: '`{key, format, width, height, bytes, etag}`: `key` is the clean copy jobs use (`<id>_verified.<ext>`); the upload is deleted' },
    },
    problems: [404, 413, 422],
  },
  {
    method: 'post',
    path: '/api/vtons',
    summary: 'Create a try-on record',
    tag: 'VTONs',
    access: 'token-or-key',
    body: vtons.createBody,
    success: { 201: { description: 'The VTON', schema: ref('Vton') } },
    problems: [404],
  },
  {
    method: 'get',
    path: '/api/vtons',
    summary: 'List the caller’s VTONs, newest first',
    tag: 'VTONs',
    access: 'token-or-key',
    query: vtons.listQuery,
    success: { 200: { description: 'A page of VTONs', schema: page(ref('Vton')) } },
  },
  {
    method: 'get',
    path: '/api/vtons/{id}',
    summary: 'One VTON',
    tag: 'VTONs',
    access: 'token-or-key',
    success: { 200: { description: 'The VTON', schema: ref('Vton') } },
    problems: [404],
  },
  {
    method: 'patch',
    path: '/api/vtons/{id}',
    summary: 'Change a VTON’s input images',
    tag: 'VTONs',
    access: 'token-or-key',
    body: vtons.patchBody,
    success: { 200: { description: 'The VTON', schema: ref('Vton') } },
    problems: [404],
  },
  {
    method: 'delete',
    path: '/api/vtons/{id}',
    summary: 'Delete a VTON and its jobs',
    tag: 'VTONs',
    access: 'token-or-key',
    success: { 204: { description: 'Deleted' } },
    problems: [404],
  },
  { ...submission, method: 'post', path: '/api/segformer/segmentOutfitPic', summary: 'Segment an image (garment or person)', body: jobs.segmentBody },
  {
    ...submission,
    method: 'post',
    path: '/api/catvton/transferOutfit',
    summary: 'Try a garment on a person',
    description: `${WAITS_FOR_MASK} \`engine: "warp"\` never waits (it needs no mask).`,
    body: jobs.transferBody,
  },
  { ...submission, method: 'post', path: '/api/upload/cloth', summary: 'Clean an uploaded garment image', body: jobs.clothBody },
  {
    ...submission,
    method: 'post',
    path: '/api/snap',
    summary: 'Try-on from `{user_photo_url, cloth_clean_url}` or `{personKey, garmentKey}`',
    description: `Joins the caller’s newest VTON of that garment, else makes one. ${WAITS_FOR_MASK}`,
    body: jobs.snapBody,
  },
  {
    method: 'get',
    path: '/api/status/{job_id}',
    summary: 'One job',
    description: JOB_STATUS,
    tag: 'Jobs',
    access: 'token-or-key',
    success: { 200: { description: 'The job', schema: ref('Job') } },
    problems: [404],
  },
  {
    method: 'get',
    path: '/api/jobs',
    summary: 'The caller’s jobs changed since a time or a cursor (for clients that reconnect)',
    description: `${JOB_STATUS} A try-on released by its mask job changes (\`waiting_for\` becomes null), so it is listed again.`,
    tag: 'Jobs',
    access: 'token-or-key',
    query: jobs.listQuery,
    success: {
      200: {
        description: 'Jobs in the order they changed',
        schema: {
          type: 'object',
          properties: { items: { type: 'array', items: ref('Job') }, nextCursor: { type: ['string', 'null'] }, hasMore: { type: 'boolean' } },
        },
      },
    },
  },
  {
    method: 'post',
    path: '/api/cloudevents',
    summary: 'Submit jobs as `dev.proteus.*.requested` CloudEvents (binary, structured or batch mode)',
    description: `A \`dev.proteus.tryon.requested\` is submitted as \`POST /api/catvton/transferOutfit\` is: ${WAITS_FOR_MASK}`,
    tag: 'CloudEvents',
    access: 'key',
    requestBody: {
      required: true,
      description: `At most ${MAX_INGEST_BYTES} bytes; a batch holds at most ${MAX_BATCH_EVENTS} events. Binary mode: the data as the body, attributes in \`ce-*\` headers.`,
      content: {
        'application/cloudevents+json': { schema: { type: 'object' } },
        [BATCH_CONTENT_TYPE]: { schema: { type: 'array', maxItems: MAX_BATCH_EVENTS, items: { type: 'object' } } },
        'application/json': { schema: { type: 'object' } },
      },
    },
    success: {
      202: { description: 'Every event became a job', schema: { type: 'object', properties: { results: { type: 'array', items: {} } } } },
      207: { description: 'Some events carry a problem instead of a job', schema: { type: 'object', properties: { results: { type: 'array', items: {} } } } },
    },
    problems: [400, 413],
  },
];

const SECURITY: Record<Access, Json[]> = {
  public: [],
  token: [{ bearerAuth: [] }],
  admin: [{ bearerAuth: [] }],
  'token-or-key': [{ bearerAuth: [] }, { apiKey: [] }],
  key: [{ apiKey: [] }],
};

/** The problem statuses an operation can answer, from what it is and what it declares. */
function problemStatuses(op: Operation): number[] {
  const statuses = new Set(op.problems ?? []);
  const add = (...more: number[]) => {
    for (const s of more) statuses.add(s);
  };
  if (op.access !== 'public') add(401, 429);
  // account routes refuse API keys; admins only for the listing; CloudEvents refuse tokens
  if (op.access === 'token' || op.access === 'admin' || op.access === 'key') statuses.add(403);
  if (op.body) add(400, 413, 415);
  if (op.query) statuses.add(400);
  // every route reads the database or Redis: either out of reach is a 503 with Retry-After
  statuses.add(503);
  return [...statuses].sort((a, b) => a - b);
}

/** Query parameters from a query schema: one per property. */
function queryParameters(schema: z.ZodType): Json[] {
  const json = inputSchema(schema) as { properties?: Record<string, Json>; required?: string[] };
  return Object.entries(json.properties ?? {}).map(([name, property]) => ({
    name,
    in: 'query',
    required: json.required?.includes(name) ?? false,
    schema: property,
  }));
}

function operationObject(op: Operation): Json {
  const parameters: Json[] = [
    ...(op.path.match(/\{[^}]+\}/g) ?? []).map((p) => ({ name: p.slice(1, -1), in: 'path', required: true, schema: { type: 'string' } })),
  ];
  if (op.query) parameters.push(...queryParameters(op.query));
  if (op.headers) parameters.push(...op.headers);
  const responses: Json = {};
  for (const [status, { description, schema, contentType }] of Object.entries(op.success)) {
    responses[status] = schema ? { description, content: { [contentType ?? 'application/json']: { schema } } } : { description };
  }
  for (const status of problemStatuses(op)) responses[status] = { $ref: `#/components/responses/Problem${status}` };
  return {
    operationId: `${op.method}${op.path.replace(/[^A-Za-z0-9]+(.)?/g, (_, c: string | undefined) => (c ?? '').toUpperCase())}`,
    summary: op.summary,
    ...(op.description ? { description: op.description } : {}),
    tags: [op.tag],
    security: SECURITY[op.access],
    ...(parameters.length ? { parameters } : {}),
    ...(op.body
      ? {
          requestBody: {
            required: true,
            description: `JSON, at most ${MAX_JSON_BYTES} bytes; unknown or read-only fields are refused by name`,
            content: { 'application/json': { schema: inputSchema(op.body) } },
          },
        }
      : op.requestBody
        ? { requestBody: op.requestBody }
        : {}),
    responses,
  };
}

function healthOperation(): Json {
  const report = { description: 'The health report', content: { 'application/json': { schema: ref('HealthReport') } } };
  return { 200: report, 503: { ...report, description: 'A dependency is failing' } };
}

function buildDocument(): Json {
  const paths: Record<string, Json> = {};
  for (const op of operations) {
    const operation = operationObject(op);
    if (op.path === '/api/health') operation.responses = healthOperation();
    paths[op.path] = { ...paths[op.path], [op.method]: operation };
  }
  const problemResponses = Object.fromEntries(
    Object.entries(PROBLEM_DESCRIPTIONS).map(([status, description]) => [
      `Problem${status}`,
      { description, content: { 'application/problem+json': { schema: ref('Problem') } } },
    ]),
  );
  return {
    openapi: '3.1.0',
    info: {
      title: 'Proteus API',
      version: '0.1.0',
      description:
        'Virtual try-on: accounts, API keys, images, VTONs and GPU jobs. Every error is `application/problem+json` (RFC 9457). Job updates arrive over the `/updates` WebSocket.',
    },
    servers: [{ url: '/' }],
    tags: ['Health', 'Auth', 'Users', 'API keys', 'Images', 'VTONs', 'Jobs', 'CloudEvents'].map((name) => ({ name })),
    components: {
      securitySchemes: {
        bearerAuth: { type: 'http', scheme: 'bearer', bearerFormat: 'JWT', description: 'An access token from /api/auth/login (HS256, 15 min)' },
        apiKey: { type: 'http', scheme: 'bearer', bearerFormat: 'prk_<id>_<secret>', description: 'An API key from /api/api-keys, for shop backends' },
      },
      schemas: {
        Problem: {
          type: 'object',
          description: 'RFC 9457 problem details',
          properties: {
            type: { type: 'string', format: 'uri', examples: ['https://proteus.dev/problems/invalid-request'] },
            title: { type: 'string' },
            status: { type: 'integer' },
            detail: { type: 'string' },
            instance: { type: 'string' },
            errors: {
              type: 'array',
              items: { type: 'object', properties: { path: { type: 'string' }, message: { type: 'string' } }, required: ['path', 'message'] },
            },
            retryAfter: { type: 'integer' },
          },
          required: ['type', 'title', 'status'],
        },
        User: {
          type: 'object',
          properties: {
            id: { type: 'string' },
            email: { type: 'string' },
            role: { type: 'string', enum: ['user', 'admin'] },
            displayName: { type: ['string', 'null'] },
            createdAt: { type: 'string', format: 'date-time' },
            updatedAt: { type: 'string', format: 'date-time' },
          },
        },
        ApiKey: {
          type: 'object',
          properties: {
            id: { type: 'string' },
            name: { type: 'string' },
            createdAt: { type: 'string', format: 'date-time' },
            lastUsedAt: { type: ['string', 'null'], format: 'date-time' },
          },
        },
        Vton: {
          type: 'object',
          properties: Object.fromEntries(
            [
              ['id', 'string'],
              ['garmentKey', 'nullable'],
              ['clothCleanKey', 'nullable'],
              ['personKey', 'nullable'],
              ['maskKey', 'nullable'],
              ['resultKey', 'nullable'],
              ['status', 'string'],
              ['createdAt', 'string'],
              ['updatedAt', 'string'],
            ].map(([name, type]) => [name, { type: type === 'nullable' ? ['string', 'null'] : 'string' }]),
          ),
        },
        JobAccepted: {
          type: 'object',
          properties: { job_id: { type: 'string' }, status: { const: 'queued' }, kind: { type: 'string' }, vton_id: { type: ['string', 'null'] } },
        },
        Job: {
          type: 'object',
          description: 'A job in the original design’s field names',
          properties: {
            job_id: { type: 'string' },
            status: { type: 'string' },
            kind: { type: 'string' },
            result_url: { type: ['string', 'null'] },
            waiting_for: { type: ['string', 'null'], description: 'the segmentation job making this try-on’s person mask; null once queued' },
          },
        },
        HealthReport: { type: 'object', properties: { status: { type: 'string' } } },
      },
      responses: problemResponses,
    },
    paths,
  };
}

let built: Json | undefined;
/** The document, built once. */
export function openApiDocument(): Json {
  built ??= buildDocument();
  return built;
}

const STYLE = `body{font:15px/1.45 system-ui,sans-serif;margin:2rem auto;max-width:60rem;padding:0 1rem;color:#1d1d1f}
details{border:1px solid #ddd;border-radius:6px;margin:.4rem 0;padding:.3rem .6rem}
summary{cursor:pointer}code,pre{font:13px ui-monospace,monospace}pre{background:#f6f6f6;padding:.5rem;overflow:auto}
.m{display:inline-block;min-width:4.2rem;font-weight:700;text-transform:uppercase}.get{color:#0a6}.post{color:#06c}.patch{color:#a60}.delete{color:#c03}
table{border-collapse:collapse}td,th{border:1px solid #ddd;padding:.2rem .5rem;text-align:left;vertical-align:top}`;

// DOM built with textContent only: nothing from the document is parsed as HTML
const SCRIPT = `(async () => {
  const main = document.getElementById('ops');
  const el = (tag, text, cls) => { const e = document.createElement(tag); if (text !== undefined) e.textContent = text; if (cls) e.className = cls; return e; };
  const pre = (value) => el('pre', JSON.stringify(value, null, 2));
  let doc;
  try { doc = await (await fetch('/api/openapi.json')).json(); } catch (err) { main.textContent = 'Could not load /api/openapi.json: ' + err; return; }
  document.getElementById('title').textContent = doc.info.title + ' ' + doc.info.version;
  document.getElementById('desc').textContent = doc.info.description || '';
  const resolve = (v) => { while (v && v.$ref) v = v.$ref.slice(2).split('/').reduce((o, k) => o[k], doc); return v; };
  for (const [path, item] of Object.entries(doc.paths)) {
    for (const [method, op] of Object.entries(item)) {
      const d = el('details');
      const s = el('summary');
      s.append(el('span', method, 'm ' + method), el('code', path), document.createTextNode(' — ' + (op.summary || '')));
      d.append(s);
      if (op.description) d.append(el('p', op.description));
      const sec = (op.security || []).map((r) => Object.keys(r).join('+')).join(' or ') || 'none';
      d.append(el('p', 'Tags: ' + (op.tags || []).join(', ') + ' · Security: ' + sec));
      if (op.parameters && op.parameters.length) {
        d.append(el('h4', 'Parameters'));
        const t = el('table');
        const head = el('tr'); ['name', 'in', 'required', 'schema'].forEach((h) => head.append(el('th', h))); t.append(head);
        for (const p of op.parameters) {
          const r = el('tr');
          r.append(el('td', p.name), el('td', p.in), el('td', p.required ? 'yes' : 'no'));
          const c = el('td'); c.append(el('code', JSON.stringify(p.schema))); r.append(c); t.append(r);
        }
        d.append(t);
      }
      if (op.requestBody) {
        d.append(el('h4', 'Request body'));
        if (op.requestBody.description) d.append(el('p', op.requestBody.description));
        for (const [type, media] of Object.entries(op.requestBody.content || {})) { d.append(el('p', type)); d.append(pre(media.schema)); }
      }
      d.append(el('h4', 'Responses'));
      const rl = el('ul');
      for (const [status, raw] of Object.entries(op.responses)) {
        const resp = resolve(raw);
        const li = el('li');
        li.append(el('strong', status), document.createTextNode(' ' + (resp.description || '') + ' ' + Object.keys(resp.content || {}).join(', ')));
        rl.append(li);
      }
      d.append(rl);
      main.append(d);
    }
  }
})();`;

const sha256 = (text: string) => `'sha256-${createHash('sha256').update(text).digest('base64')}'`;

const DOCS_HTML = `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width,initial-scale=1">
<title>Proteus API reference</title><style>${STYLE}</style></head>
<body><h1 id="title">Proteus API</h1><p id="desc"></p><p>The document: <a href="/api/openapi.json">/api/openapi.json</a> (OpenAPI 3.1)</p>
<main id="ops">Loading…</main>
<script>${SCRIPT}</script></body></html>`;

// only our own inline script and style, and fetches to ourselves
const DOCS_CSP = `default-src 'none'; script-src ${sha256(SCRIPT)}; style-src ${sha256(STYLE)}; connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'`;

export const openApiRoutes = new Hono<AppEnv>()
  .get('/openapi.json', (c) => c.json(openApiDocument()))
  .get('/docs', (c) => c.html(DOCS_HTML, 200, { 'content-security-policy': DOCS_CSP }));

/**
 * The bad-input matrix replayed from outside: malformed and mistyped JSON, bodies over the
 * limit, fields a client may not set (mass assignment), forged and stale JWTs (on the api and
 * on the /updates socket), uploads the signed POST policy forbids (refused by the S3 server
 * itself), and hostile images (refused by the api's check). Each case says what it expects
 * and what it measured, and checks that nothing was half-written: no job queued, no row listed,
 * no verified copy made.
 */
import { randomUUID } from 'node:crypto';
import sharp from 'sharp';
import { WebSocket } from 'ws';
import { facingLandmarks } from './client.ts';
import { type Answer, accessClaims, forgeJwt, pixelBombPng } from './security-http.ts';
import { expectStatus, knownJobs, postForm, presign, queuedBy, type World } from './security-world.ts';

export interface InputResult {
  group: string;
  name: string;
  expected: string;
  measured: string;
  failure?: string | undefined;
}

export interface InputContext {
  jwtSecret: string;
  garmentPng: Uint8Array;
  personJpeg: Uint8Array;
}

interface Case {
  group: string;
  name: string;
  expected: string;
  run: (w: World, ctx: InputContext) => Promise<{ measured: string; failures: (string | undefined)[] }>;
}

const shown = (a: Answer) => `${a.status}${a.problem ? ` ${a.problem}` : ''}`;
const isProblem = (a: Answer, status: number, slug: string) =>
  a.status === status && a.problem === slug ? undefined : `expected ${status} ${slug}, got ${a.status} ${a.contentType} ${a.text.slice(0, 200)}`;

/** How many jobs and VTONs the owner has: a refused request must not add to them. */
async function footprint(w: World) {
  const jobs = await knownJobs(w);
  const vtons = expectStatus(await w.call('GET', '/api/vtons?limit=100', { token: w.owner.observer }), 200, 'the VTON listing').json as { items: unknown[] };
  return { jobs: jobs.size, vtons: vtons.items.length };
}

/** The request, and a failure when it left anything behind: a job queued, a job or VTON listed. */
async function leavesNothing(w: World, send: () => Promise<Answer>): Promise<{ answer: Answer; trace?: string }> {
  const before = await footprint(w);
  const { result: answer, queued } = await queuedBy(w, send);
  const after = await footprint(w);
  const changed = (Object.keys(before) as (keyof typeof before)[]).filter((k) => before[k] !== after[k]).map((k) => `${k} listed ${before[k]} -> ${after[k]}`);
  if (queued.length) changed.push(`queued ${queued.join(', ')}`);
  return { answer, ...(changed.length ? { trace: `left behind: ${changed.join(', ')}` } : {}) };
}

/** A JSON case: the answer must be this problem, and nothing may be left behind. */
function jsonCase(
  name: string,
  status: number,
  slug: string,
  send: (w: World, prepared: string) => Promise<Answer>,
  prepare?: (w: World) => Promise<string>,
): Case {
  return {
    group: 'JSON',
    name,
    expected: `${status} ${slug}, nothing written`,
    run: async (w) => {
      const prepared = prepare ? await prepare(w) : '';
      const { answer, trace } = await leavesNothing(w, () => send(w, prepared));
      return { measured: shown(answer) + (trace ? `; ${trace}` : ''), failures: [isProblem(answer, status, slug), trace] };
    },
  };
}

export type SocketOutcome =
  | { kind: 'refused'; status: number }
  | { kind: 'closed'; code: number; reason: string }
  | { kind: 'ready' }
  | { kind: 'error'; message: string };

/** Opens /updates, offers `auth` as the first message when given, and says how it ended. */
export function trySocket(url: string, { origin, auth, protocols }: { origin?: string; auth?: string; protocols?: string[] } = {}): Promise<SocketOutcome> {
  return new Promise((resolve) => {
    const socket = new WebSocket(`${url.replace(/^http/, 'ws')}/updates`, protocols ?? [], origin ? { headers: { origin } } : {});
    const done = (outcome: SocketOutcome) => {
      clearTimeout(timer);
      resolve(outcome);
      socket.terminate();
    };
    const timer = setTimeout(() => done({ kind: 'error', message: 'no outcome in 15 s' }), 15_000);
    socket.on('unexpected-response', (_request, response) => done({ kind: 'refused', status: response.statusCode ?? 0 }));
    socket.on('error', (error) => done({ kind: 'error', message: error.message }));
    socket.on('close', (code, reason) => done({ kind: 'closed', code, reason: String(reason) }));
    socket.on('message', (data) => {
      const message = JSON.parse(String(data)) as { type: string };
      if (message.type === 'hello' && auth !== undefined) socket.send(auth);
      else if (message.type === 'ready') done({ kind: 'ready' });
      else if (message.type !== 'hello') done({ kind: 'error', message: `received ${String(data).slice(0, 100)} before auth` });
    });
  });
}

export const describeSocket = (o: SocketOutcome) =>
  o.kind === 'refused' ? `upgrade refused ${o.status}` : o.kind === 'closed' ? `closed ${o.code}` : o.kind === 'ready' ? 'accepted' : `error: ${o.message}`;

/** The forged tokens: each must be refused by the api and by the socket. */
function forgedTokens(w: World, secret: string): [string, string][] {
  const claims = accessClaims(w.owner.userId);
  const { exp: _, ...noExp } = claims;
  return [
    ['JWT with alg none', forgeJwt({ alg: 'none', typ: 'JWT' }, claims, secret)],
    ['JWT without exp', forgeJwt({ alg: 'HS256', typ: 'JWT' }, noExp, secret)],
    ['JWT expired a minute ago', forgeJwt({ alg: 'HS256', typ: 'JWT' }, accessClaims(w.owner.userId, -60), secret)],
    ['JWT signed with another key', forgeJwt({ alg: 'HS256', typ: 'JWT' }, claims, `${secret}-not`)],
    ['JWT signed HS512 (algorithm not pinned)', forgeJwt({ alg: 'HS512', typ: 'JWT' }, claims, secret)],
    ['JWT with typ refresh', forgeJwt({ alg: 'HS256', typ: 'JWT' }, { ...claims, typ: 'refresh' }, secret)],
    ['a refresh token as the bearer', w.owner.refreshToken],
  ];
}

/** One presigned POST the policy forbids: the S3 server must refuse it and store nothing. */
function uploadCase(
  name: string,
  build: (w: World) => Promise<{ bytes: Uint8Array; override?: Record<string, string>; contentType?: string; probe?: string }>,
): Case {
  return {
    group: 'Upload (S3 server)',
    name,
    expected: 'refused by the S3 server (4xx), nothing stored',
    run: async (w) => {
      const presigned = await presign(w, w.owner.token, 'garment', 'image/png');
      const { bytes, override = {}, contentType = 'image/png', probe } = await build(w);
      const stored = await postForm(presigned, bytes, contentType, override);
      // nothing under the key the form names, nor under the owner's one
      const keys = [presigned.key, ...(probe ? [probe] : [])];
      const present: string[] = [];
      for (const key of keys) {
        const owner = key.startsWith(`users/${w.owner.userId}/`) ? w.owner.token : w.another.token;
        const found = await w.call('GET', `/api/images/presignedDownloadUrl?key=${encodeURIComponent(key)}`, { token: owner });
        if (found.status !== 404) present.push(key);
      }
      return {
        measured: `${stored.status} ${stored.code ?? ''}`.trim() + (present.length ? `; stored ${present.join(', ')}` : ''),
        failures: [
          stored.status >= 400 && stored.status < 500 ? undefined : `the S3 server answered ${stored.status} ${stored.text.slice(0, 200)}`,
          present.length ? `stored: ${present.join(', ')}` : undefined,
        ],
      };
    },
  };
}

/** An upload the policy allows but the api's check must refuse; no verified copy, no job. */
function imageCase(name: string, slug: string, status: number, build: (ctx: InputContext) => Promise<{ bytes: Uint8Array; contentType: string }>): Case {
  return {
    group: 'Image check',
    name,
    expected: `${status} ${slug} from /api/images/verify and /api/snap; no verified copy, nothing queued`,
    run: async (w, ctx) => {
      const { bytes, contentType } = await build(ctx);
      const presigned = await presign(w, w.owner.token, 'person', contentType);
      const stored = await postForm(presigned, bytes, contentType);
      if (stored.status >= 300)
        return { measured: `upload refused ${stored.status}`, failures: [`the upload itself was refused: ${stored.status} ${stored.text.slice(0, 200)}`] };
      const verify = await w.call('POST', '/api/images/verify', { token: w.owner.token, body: { key: presigned.key } });
      const snap = await leavesNothing(w, () =>
        w.call('POST', '/api/snap', { token: w.owner.token, body: { personKey: presigned.key, garmentKey: w.garmentKey, landmarks: facingLandmarks() } }),
      );
      const dot = presigned.key.lastIndexOf('.');
      const verifiedKey = `${presigned.key.slice(0, dot)}_verified${presigned.key.slice(dot)}`;
      const copy = await w.call('GET', `/api/images/presignedDownloadUrl?key=${encodeURIComponent(verifiedKey)}`, { token: w.owner.token });
      return {
        measured: `verify ${shown(verify)}; snap ${shown(snap.answer)}${snap.trace ? `; ${snap.trace}` : ''}${copy.status === 404 ? '' : '; a verified copy exists'}`,
        failures: [
          isProblem(verify, status, slug),
          isProblem(snap.answer, status, slug),
          snap.trace,
          copy.status === 404 ? undefined : `a verified copy was written (${copy.status})`,
        ],
      };
    },
  };
}

const cases: Case[] = [
  jsonCase('malformed JSON', 400, 'invalid-request', (w) =>
    w.call('POST', '/api/vtons', { token: w.owner.token, raw: '{"garmentKey": ', contentType: 'application/json' }),
  ),
  jsonCase('JSON sent as text/plain', 415, 'unsupported-media-type', (w) =>
    w.call('POST', '/api/vtons', { token: w.owner.token, raw: JSON.stringify({ garmentKey: w.garmentKey }), contentType: 'text/plain' }),
  ),
  jsonCase('wrong types (a try-on with numbers for keys)', 400, 'invalid-request', (w) =>
    w.call('POST', '/api/catvton/transferOutfit', { token: w.owner.token, body: { personKey: 5, garmentKey: true, landmarks: 'none' } }),
  ),
  jsonCase('a JSON body of 64 KiB + 1 byte', 413, 'body-too-large', (w) =>
    w.call('POST', '/api/vtons', { token: w.owner.token, raw: JSON.stringify({ garmentKey: 'x'.repeat(64 * 1024) }), contentType: 'application/json' }),
  ),
  {
    group: 'JSON',
    name: 'a CloudEvent of 1 MiB + 1 byte, then another request',
    expected: '413 body-too-large, nothing written; the next request through the same URL answers 200',
    run: async (w) => {
      const { answer, trace } = await leavesNothing(w, async () => {
        const refused = await w.call('POST', '/api/cloudevents', {
          token: w.ownerKey,
          raw: `{"pad":"${'x'.repeat(1024 * 1024)}"}`,
          contentType: 'application/cloudevents+json',
        });
        // the body was refused unread: the connection it came on must not carry the next request
        const next = await w.call('GET', '/api/health');
        return { ...refused, text: `${refused.text} (next: ${next.status})`, next: next.status };
      });
      const next = (answer as Answer & { next: number }).next;
      return {
        measured: `${shown(answer)}; next request ${next}${trace ? `; ${trace}` : ''}`,
        failures: [isProblem(answer, 413, 'body-too-large'), next === 200 ? undefined : `the next request answered ${next}`, trace],
      };
    },
  },
  jsonCase('an invalid CloudEvent (no specversion)', 400, 'invalid-event', (w) =>
    w.call('POST', '/api/cloudevents', {
      token: w.ownerKey,
      raw: JSON.stringify({ id: randomUUID(), source: 'x', type: 'dev.proteus.segment.requested', data: {} }),
      contentType: 'application/cloudevents+json',
    }),
  ),
  jsonCase('a query of the wrong type (limit=abc)', 400, 'invalid-request', (w) => w.call('GET', '/api/jobs?limit=abc', { token: w.owner.token })),
  jsonCase('extra fields on a VTON (userId, status, resultKey)', 400, 'invalid-request', (w) =>
    w.call('POST', '/api/vtons', {
      token: w.owner.token,
      body: { garmentKey: w.garmentKey, userId: w.another.userId, status: 'completed', resultKey: w.personKey },
    }),
  ),
  jsonCase('extra field on a snap (userId of another user)', 400, 'invalid-request', (w) =>
    w.call('POST', '/api/snap', { token: w.owner.token, body: { personKey: w.personKey, garmentKey: w.garmentKey, userId: w.another.userId } }),
  ),
  jsonCase(
    'an Idempotency-Key reused with another body',
    422,
    'idempotency-key-reused',
    (w, key) =>
      w.call('POST', '/api/segformer/segmentOutfitPic', { token: w.owner.token, body: { imageKey: w.personKey }, headers: { 'idempotency-key': key } }),
    async (w) => {
      const key = randomUUID();
      const first = await w.call('POST', '/api/upload/cloth', { token: w.owner.token, body: { key: w.garmentKey }, headers: { 'idempotency-key': key } });
      expectStatus(first, 202, 'the first use of an Idempotency-Key');
      return key;
    },
  ),
  {
    group: 'JSON',
    name: 'sign-up with role: admin',
    expected: '400 invalid-request; no account made (the same e-mail signs up afterwards)',
    run: async (w) => {
      const email = `mass-${randomUUID()}@example.org`;
      const pw = `pw-${randomUUID()}`;
      w.secrets.add('password', pw);
      const answer = await w.call('POST', '/api/auth/signup', { body: { email, password: pw, role: 'admin' } });
      const again = await w.call('POST', '/api/auth/signup', { body: { email, password: pw } });
      const role = (again.json as { user?: { role?: string } } | undefined)?.user?.role;
      return {
        measured: `${shown(answer)}; then ${again.status} as ${role}`,
        failures: [
          isProblem(answer, 400, 'invalid-request'),
          again.status === 201 && role === 'user' ? undefined : `the second sign-up answered ${again.status} ${role}`,
        ],
      };
    },
  },
  {
    group: 'JSON',
    name: 'PATCH /api/users/me with role: admin and email',
    expected: '400 invalid-request; the account unchanged',
    run: async (w) => {
      const answer = await w.call('PATCH', '/api/users/me', { token: w.another.token, body: { role: 'admin', email: 'boss@example.org' } });
      const me = (await w.call('GET', '/api/users/me', { token: w.another.token })).json as { role: string; email: string };
      return {
        measured: `${shown(answer)}; role ${me.role}`,
        failures: [
          isProblem(answer, 400, 'invalid-request'),
          me.role === 'user' && me.email === w.another.email ? undefined : `the account is now ${JSON.stringify(me)}`,
        ],
      };
    },
  },
];

/** Forged tokens on the api (401) and on the socket (4401). */
function tokenCases(w: World, ctx: InputContext): Case[] {
  return forgedTokens(w, ctx.jwtSecret).flatMap(([name, token]): Case[] => [
    {
      group: 'JWT',
      name: `${name} (api)`,
      expected: '401 unauthorized',
      run: async () => {
        const answer = await w.call('GET', '/api/vtons', { token });
        return { measured: shown(answer), failures: [isProblem(answer, 401, 'unauthorized')] };
      },
    },
    {
      group: 'JWT',
      name: `${name} (/updates)`,
      expected: 'closed 4401',
      run: async () => {
        const outcome = await trySocket(w.url, { auth: JSON.stringify({ type: 'auth', token }) });
        return { measured: describeSocket(outcome), failures: [outcome.kind === 'closed' && outcome.code === 4401 ? undefined : `expected a 4401 close`] };
      },
    },
  ]);
}

const socketCases: Case[] = [
  {
    group: 'Realtime',
    name: 'no token (first message not auth)',
    expected: 'closed 4401',
    run: async (w) => {
      const outcome = await trySocket(w.url, { auth: JSON.stringify({ type: 'subscribe', userId: w.owner.userId }) });
      return { measured: describeSocket(outcome), failures: [outcome.kind === 'closed' && outcome.code === 4401 ? undefined : 'expected a 4401 close'] };
    },
  },
  {
    group: 'Realtime',
    name: 'a token that is not a JWT',
    expected: 'closed 4401',
    run: async (w) => {
      const outcome = await trySocket(w.url, { auth: JSON.stringify({ type: 'auth', token: 'not-a-token' }) });
      return { measured: describeSocket(outcome), failures: [outcome.kind === 'closed' && outcome.code === 4401 ? undefined : 'expected a 4401 close'] };
    },
  },
  {
    group: 'Realtime',
    name: 'an API key as the token',
    expected: 'closed 4401',
    run: async (w) => {
      const outcome = await trySocket(w.url, { auth: JSON.stringify({ type: 'auth', token: w.ownerKey }) });
      return { measured: describeSocket(outcome), failures: [outcome.kind === 'closed' && outcome.code === 4401 ? undefined : 'expected a 4401 close'] };
    },
  },
  {
    group: 'Realtime',
    name: 'a bad token as the bearer subprotocol',
    expected: 'closed 4401',
    run: async (w) => {
      const outcome = await trySocket(w.url, { protocols: ['proteus.v1', 'proteus.bearer.not-a-token'] });
      return { measured: describeSocket(outcome), failures: [outcome.kind === 'closed' && outcome.code === 4401 ? undefined : 'expected a 4401 close'] };
    },
  },
  {
    group: 'Realtime',
    name: 'a valid token from another Origin',
    expected: 'upgrade refused 403',
    run: async (w) => {
      const outcome = await trySocket(w.url, { origin: 'https://evil.example.org', auth: JSON.stringify({ type: 'auth', token: w.owner.token }) });
      return {
        measured: describeSocket(outcome),
        failures: [outcome.kind === 'refused' && outcome.status === 403 ? undefined : 'expected the upgrade refused with 403'],
      };
    },
  },
  {
    group: 'Realtime',
    name: 'a valid token from the stack’s own Origin (control)',
    expected: 'accepted',
    run: async (w) => {
      const outcome = await trySocket(w.url, { origin: w.url, auth: JSON.stringify({ type: 'auth', token: w.owner.token }) });
      return { measured: describeSocket(outcome), failures: [outcome.kind === 'ready' ? undefined : 'expected the socket accepted'] };
    },
  },
];

/** The api's internal routes through the public URL: refused, as the cluster's ingress refuses them. */
const internalCases: Case[] = [
  {
    group: 'Internal routes',
    name: 'POST /events (the lifecycle sink) through the public URL: a forged job.completed for the owner’s job',
    expected: '403 forbidden; the job unchanged',
    run: async (w) => {
      const before = (await w.call('GET', `/api/status/${w.jobId}`, { token: w.owner.token })).json as { status: string };
      const event = {
        specversion: '1.0',
        id: randomUUID(),
        source: 'https://evil.example.org',
        type: 'dev.proteus.job.completed',
        time: new Date().toISOString(),
        datacontenttype: 'application/json',
        data: { jobId: w.jobId, userId: w.owner.userId, resultKey: `users/${w.owner.userId}/result/${randomUUID()}.png` },
      };
      const answer = await w.call('POST', '/events', { raw: JSON.stringify(event), contentType: 'application/cloudevents+json' });
      const after = (await w.call('GET', `/api/status/${w.jobId}`, { token: w.owner.token })).json as { status: string; result_url: string | null };
      const unchanged = after.status === before.status && !after.result_url?.includes(event.data.resultKey);
      return {
        measured: `${shown(answer)}; job ${before.status} -> ${after.status}`,
        failures: [isProblem(answer, 403, 'forbidden'), unchanged ? undefined : 'the forged event changed the job'],
      };
    },
  },
  ...['/metrics', '/healthz'].map(
    (path): Case => ({
      group: 'Internal routes',
      name: `GET ${path} through the public URL`,
      expected: '403 forbidden',
      run: async (w) => {
        const answer = await w.call('GET', path);
        return { measured: shown(answer), failures: [isProblem(answer, 403, 'forbidden')] };
      },
    }),
  ),
];

const uploadCases: Case[] = [
  {
    group: 'Upload (S3 server)',
    name: 'a PNG within the policy (control)',
    expected: 'stored (2xx), then verified 200',
    run: async (w, ctx) => {
      const presigned = await presign(w, w.owner.token, 'garment', 'image/png');
      const stored = await postForm(presigned, ctx.garmentPng, 'image/png');
      const verify = await w.call('POST', '/api/images/verify', { token: w.owner.token, body: { key: presigned.key, expectedType: 'image/png' } });
      return {
        measured: `${stored.status}; verify ${verify.status}`,
        failures: [
          stored.status < 300 ? undefined : `the S3 server refused it: ${stored.status} ${stored.text.slice(0, 200)}`,
          verify.status === 200 ? undefined : verify.text,
        ],
      };
    },
  },
  uploadCase('one byte over the policy’s size limit', async (w) => {
    const { maxBytes } = await presign(w, w.owner.token, 'garment', 'image/png');
    return { bytes: new Uint8Array(maxBytes + 1) };
  }),
  uploadCase('an empty file (under content-length-range)', async () => ({ bytes: new Uint8Array(0) })),
  uploadCase('the key changed to another user’s prefix', async (w) => {
    const key = `users/${w.another.userId}/garment/${randomUUID()}.png`;
    return { bytes: new Uint8Array(64), override: { key }, probe: key };
  }),
  uploadCase('the key changed to another of the owner’s objects', async (w) => {
    const key = `users/${w.owner.userId}/garment/${randomUUID()}.png`;
    return { bytes: new Uint8Array(64), override: { key }, probe: key };
  }),
  uploadCase('a Content-Type other than the signed one', async () => ({
    bytes: new Uint8Array(64),
    override: { 'Content-Type': 'text/html' },
    contentType: 'text/html',
  })),
  uploadCase('the policy signature tampered with', async () => ({ bytes: new Uint8Array(64), override: { 'X-Amz-Signature': '0'.repeat(64) } })),
];

const imageCases: Case[] = [
  imageCase('wrong magic bytes (text stored as a PNG)', 'not-an-image', 422, async () => ({
    bytes: Buffer.from('<html>not an image</html>'),
    contentType: 'image/png',
  })),
  imageCase('PNG bytes uploaded as image/jpeg', 'image-type-mismatch', 422, async (ctx) => ({ bytes: ctx.garmentPng, contentType: 'image/jpeg' })),
  imageCase('a 20000x20000 PNG (pixel bomb)', 'image-too-many-pixels', 422, async () => ({ bytes: pixelBombPng(20_000, 20_000), contentType: 'image/png' })),
  imageCase('a truncated JPEG', 'image-truncated', 422, async (ctx) => ({
    bytes: ctx.personJpeg.slice(0, Math.floor(ctx.personJpeg.length / 2)),
    contentType: 'image/jpeg',
  })),
];

/** Runs every bad-input case in order; a case that throws is a failure of that case. */
export async function runInputs(w: World, ctx: InputContext): Promise<InputResult[]> {
  const all = [...cases, ...tokenCases(w, ctx), ...socketCases, ...internalCases, ...uploadCases, ...imageCases];
  const results: InputResult[] = [];
  for (const c of all) {
    try {
      const { measured, failures } = await c.run(w, ctx);
      const failed = failures.filter(Boolean);
      results.push({ group: c.group, name: c.name, expected: c.expected, measured, failure: failed.length ? failed.join('; ') : undefined });
    } catch (error) {
      results.push({ group: c.group, name: c.name, expected: c.expected, measured: 'threw', failure: (error as Error).message });
    }
  }
  return results;
}

/** A real person JPEG of the garment portrait, as a phone would send it. */
export const personJpegOf = (png: Uint8Array) => sharp(png).jpeg({ quality: 85 }).toBuffer();

/**
 * The api's authorization matrix replayed from outside: every route of the served OpenAPI
 * document times {owner, another user, anonymous, API key of the owner, API key of another user}.
 * The owner's things answer the owner (by token, or by key where keys are allowed) and nobody
 * else: another principal gets 404, never 403 (which would say the thing exists); anonymous 401;
 * a key where only tokens are allowed 403. A route of the document with no row here is a
 * failure, so a new route cannot be forgotten. After each cell of another principal nothing of
 * the owner's has changed and nothing was queued.
 */
import { randomUUID } from 'node:crypto';
import { facingLandmarks } from './client.ts';
import type { Answer, RequestOptions } from './security-http.ts';
import { createKey, expectStatus, queuedBy, queuedSince, signUpPerson, type World } from './security-world.ts';

export const principals = ['owner', 'another user', 'anonymous', 'API key of owner', 'API key of another'] as const;
export type Principal = (typeof principals)[number];

type Expected = Record<Principal, number>;

/** the owner's things: the owner by token or key; others 404 */
const ownerOnly = (ok: number): Expected => ({ owner: ok, 'another user': 404, anonymous: 401, 'API key of owner': ok, 'API key of another': 404 });
/** a listing or a request of no one's thing: every authenticated caller gets its own answer */
const anyCaller = (ok: number): Expected => ({ owner: ok, 'another user': ok, anonymous: 401, 'API key of owner': ok, 'API key of another': ok });
/** account and key management: access tokens only, each acting on its own account */
const tokensOnly = (ok: number, other = ok): Expected => ({
  owner: ok,
  'another user': other,
  anonymous: 401,
  'API key of owner': 403,
  'API key of another': 403,
});
const adminsOnly: Expected = { owner: 403, 'another user': 403, anonymous: 401, 'API key of owner': 403, 'API key of another': 403 };
const everyone = (ok: number): Expected => ({ owner: ok, 'another user': ok, anonymous: ok, 'API key of owner': ok, 'API key of another': ok });
/** the CloudEvents ingest: API keys only, and only for the key's own user */
const keysOnly: Expected = { owner: 403, 'another user': 403, anonymous: 401, 'API key of owner': 202, 'API key of another': 403 };

/** the credentials of each principal for one cell */
type Credentials = Record<Principal, string | undefined>;

interface Cell {
  request: { method: string; path: string } & RequestOptions;
  /** runs after the answer: a failure's text, or undefined */
  check?: (answer: Answer) => Promise<string | undefined> | string | undefined;
}

interface Row {
  /** `METHOD /path/{param}` as in the OpenAPI document */
  route: string;
  group: string;
  expected: Expected;
  /** builds the request (on fresh things of the owner where the route changes them) */
  cell: (w: World, p: Principal, credentials: Credentials) => Promise<Cell>;
  /** credentials of its own for this row (a route that deletes its caller) */
  credentials?: (w: World) => Promise<Credentials>;
}

const ownerSide = (p: Principal) => p === 'owner' || p === 'API key of owner';

async function freshVton(w: World): Promise<string> {
  const answer = await w.call('POST', '/api/vtons', { token: w.owner.observer, body: { garmentKey: w.garmentKey } });
  return (expectStatus(answer, 201, 'a fresh VTON').json as { id: string }).id;
}

/** The owner's VTON as the owner sees it: nothing another principal did may show here. */
async function untouchedVton(w: World, vtonId: string): Promise<string | undefined> {
  const answer = await w.call('GET', `/api/vtons/${vtonId}`, { token: w.owner.observer });
  if (answer.status !== 200) return `the owner's VTON is gone: ${answer.status}`;
  const vton = answer.json as { personKey: string | null; status: string; garmentKey: string | null };
  if (vton.personKey !== null || vton.status !== 'draft' || vton.garmentKey !== w.garmentKey) return `the owner's VTON changed: ${answer.text}`;
  return undefined;
}

const listsOwn = (needle: () => string) => (p: Principal) => (answer: Answer) => {
  const listed = answer.text.includes(needle());
  return listed === ownerSide(p) ? undefined : `the listing ${listed ? 'shows' : 'misses'} the owner's ${needle()}`;
};

/** A structured CloudEvent asking for a try-on of the owner's images. */
const tryonEvent = (w: World, vtonId: string) =>
  JSON.stringify({
    specversion: '1.0',
    id: randomUUID(),
    source: 'https://shop.example.org/security',
    type: 'dev.proteus.tryon.requested',
    time: new Date().toISOString(),
    datacontenttype: 'application/json',
    data: { jobId: randomUUID(), userId: w.owner.userId, vtonId, personKey: w.personKey, garmentKey: w.garmentKey, landmarks: facingLandmarks(), seed: 1 },
  });

export const rows: Row[] = [
  { route: 'GET /api/health', group: 'Health', expected: everyone(200), cell: async () => ({ request: { method: 'GET', path: '/api/health' } }) },
  { route: 'GET /api/ops/status', group: 'Health', expected: adminsOnly, cell: async () => ({ request: { method: 'GET', path: '/api/ops/status' } }) },
  {
    route: 'POST /api/auth/signup',
    group: 'Auth',
    expected: everyone(201),
    cell: async (w) => {
      const pw = `pw-${randomUUID()}`;
      w.secrets.add('password', pw);
      return { request: { method: 'POST', path: '/api/auth/signup', body: { email: `signup-${randomUUID()}@example.org`, password: pw } } };
    },
  },
  {
    route: 'POST /api/auth/login',
    group: 'Auth',
    expected: everyone(200),
    cell: async (w) => ({ request: { method: 'POST', path: '/api/auth/login', body: { email: w.another.email, password: w.another.password } } }),
  },
  {
    route: 'POST /api/auth/refresh',
    group: 'Auth',
    expected: everyone(200),
    cell: async (w) => ({
      request: { method: 'POST', path: '/api/auth/refresh', body: { refreshToken: w.another.refreshToken } },
      check: (answer) => {
        // rotation: the next cell uses the new one
        const next = (answer.json as { refreshToken?: string } | undefined)?.refreshToken;
        if (next) w.another.refreshToken = next;
        return next ? undefined : 'no new refresh token';
      },
    }),
  },
  {
    route: 'POST /api/auth/logout',
    group: 'Auth',
    expected: everyone(204),
    cell: async (w) => {
      const pair = expectStatus(
        await w.call('POST', '/api/auth/refresh', { body: { refreshToken: w.another.refreshToken } }),
        200,
        'a refresh token to revoke',
      );
      const { refreshToken: revoked } = pair.json as { refreshToken: string };
      const fresh = expectStatus(await w.call('POST', '/api/auth/refresh', { body: { refreshToken: revoked } }), 200, 'a refresh token to keep');
      w.another.refreshToken = (fresh.json as { refreshToken: string }).refreshToken;
      return { request: { method: 'POST', path: '/api/auth/logout', body: { refreshToken: revoked } } };
    },
  },
  {
    route: 'GET /api/users/me',
    group: 'Users',
    expected: tokensOnly(200),
    cell: async (w, p) => ({
      request: { method: 'GET', path: '/api/users/me' },
      check: (answer) => {
        const id = (answer.json as { id?: string } | undefined)?.id;
        const mine = p === 'owner' ? w.owner.userId : w.another.userId;
        return answer.status !== 200 || id === mine ? undefined : `answered the account ${id}, not the caller's`;
      },
    }),
  },
  {
    route: 'PATCH /api/users/me',
    group: 'Users',
    expected: tokensOnly(200),
    cell: async (w, p) => ({
      request: { method: 'PATCH', path: '/api/users/me', body: { displayName: `named by ${p}` } },
      check: async () => {
        const me = (await w.call('GET', '/api/users/me', { token: w.owner.token })).json as { displayName: string | null };
        const changed = me.displayName === `named by ${p}`;
        return changed === (p === 'owner') ? undefined : `the owner's name is ${me.displayName} after a ${p} request`;
      },
    }),
  },
  {
    route: 'DELETE /api/users/me',
    group: 'Users',
    expected: tokensOnly(204),
    // each cell deletes its caller: throwaway accounts of their own
    credentials: async (w) => {
      const owner = await signUpPerson(w.url, w.secrets, 'doomed-owner');
      const another = await signUpPerson(w.url, w.secrets, 'doomed-another');
      return {
        owner: owner.token,
        'another user': another.token,
        anonymous: undefined,
        'API key of owner': (await createKey(w, owner.token, 'doomed')).key,
        'API key of another': (await createKey(w, another.token, 'doomed')).key,
      };
    },
    cell: async (w, p, credentials) => ({
      request: { method: 'DELETE', path: '/api/users/me' },
      check: async () => {
        if (p === 'owner' || p === 'another user') {
          const gone = await w.call('GET', '/api/users/me', { token: credentials[p] });
          return gone.status === 401 ? undefined : `the deleted account still answers ${gone.status}`;
        }
        const owner = await w.call('GET', '/api/users/me', { token: credentials.owner });
        return owner.status === 200 ? undefined : `the account is gone after a refused delete: ${owner.status}`;
      },
    }),
  },
  { route: 'GET /api/users', group: 'Users', expected: adminsOnly, cell: async () => ({ request: { method: 'GET', path: '/api/users' } }) },
  {
    route: 'POST /api/api-keys',
    group: 'API keys',
    expected: tokensOnly(201),
    cell: async () => ({ request: { method: 'POST', path: '/api/api-keys', body: { name: 'matrix' } } }),
  },
  {
    route: 'GET /api/api-keys',
    group: 'API keys',
    expected: tokensOnly(200),
    cell: async (w, p) => ({
      request: { method: 'GET', path: '/api/api-keys' },
      check: (answer) => (answer.status === 200 ? listsOwn(() => w.ownerKeyId)(p)(answer) : undefined),
    }),
  },
  {
    route: 'DELETE /api/api-keys/{id}',
    group: 'API keys',
    expected: tokensOnly(204, 404),
    cell: async (w, p) => {
      const fresh = await createKey(w, w.owner.token, 'to revoke');
      return {
        request: { method: 'DELETE', path: `/api/api-keys/${fresh.id}` },
        check: async () => {
          const still = await w.call('GET', '/api/vtons', { token: fresh.key });
          const alive = still.status === 200;
          return alive === (p !== 'owner') ? undefined : `the key ${alive ? 'still works' : 'was revoked'} after a ${p} request`;
        },
      };
    },
  },
  {
    route: 'GET /api/images/presignedUpUrl',
    group: 'Images',
    expected: anyCaller(200),
    cell: async (w, p) => ({
      request: { method: 'GET', path: '/api/images/presignedUpUrl?kind=garment&contentType=image%2Fpng' },
      check: (answer) => {
        if (answer.status !== 200) return undefined;
        const key = (answer.json as { key: string }).key;
        const prefix = `users/${ownerSide(p) ? w.owner.userId : w.another.userId}/`;
        return key.startsWith(prefix) ? undefined : `the upload key ${key} is not under the caller's prefix`;
      },
    }),
  },
  {
    route: 'GET /api/images/presignedDownloadUrl',
    group: 'Images',
    expected: ownerOnly(200),
    cell: async (w) => ({ request: { method: 'GET', path: `/api/images/presignedDownloadUrl?key=${encodeURIComponent(w.garmentKey)}` } }),
  },
  {
    route: 'POST /api/images/verify',
    group: 'Images',
    expected: ownerOnly(200),
    cell: async (w) => ({ request: { method: 'POST', path: '/api/images/verify', body: { key: w.garmentKey } } }),
  },
  {
    route: 'POST /api/vtons',
    group: 'VTONs',
    expected: ownerOnly(201),
    cell: async (w) => ({ request: { method: 'POST', path: '/api/vtons', body: { garmentKey: w.garmentKey } } }),
  },
  {
    route: 'GET /api/vtons',
    group: 'VTONs',
    expected: anyCaller(200),
    cell: async (w, p) => {
      const vtonId = await freshVton(w);
      return { request: { method: 'GET', path: '/api/vtons' }, check: (a) => (a.status === 200 ? listsOwn(() => vtonId)(p)(a) : undefined) };
    },
  },
  {
    route: 'GET /api/vtons/{id}',
    group: 'VTONs',
    expected: ownerOnly(200),
    cell: async (w) => ({ request: { method: 'GET', path: `/api/vtons/${await freshVton(w)}` } }),
  },
  {
    route: 'PATCH /api/vtons/{id}',
    group: 'VTONs',
    expected: ownerOnly(200),
    cell: async (w, p) => {
      const vtonId = await freshVton(w);
      return {
        request: { method: 'PATCH', path: `/api/vtons/${vtonId}`, body: { personKey: w.personKey } },
        check: () => (ownerSide(p) ? undefined : untouchedVton(w, vtonId)),
      };
    },
  },
  {
    route: 'DELETE /api/vtons/{id}',
    group: 'VTONs',
    expected: ownerOnly(204),
    cell: async (w, p) => {
      const vtonId = await freshVton(w);
      return { request: { method: 'DELETE', path: `/api/vtons/${vtonId}` }, check: () => (ownerSide(p) ? undefined : untouchedVton(w, vtonId)) };
    },
  },
  {
    route: 'POST /api/segformer/segmentOutfitPic',
    group: 'Jobs',
    expected: ownerOnly(202),
    cell: async (w, p) => {
      const vtonId = await freshVton(w);
      return {
        request: { method: 'POST', path: '/api/segformer/segmentOutfitPic', body: { imageKey: w.garmentKey, vtonId } },
        check: () => (ownerSide(p) ? undefined : untouchedVton(w, vtonId)),
      };
    },
  },
  {
    route: 'POST /api/catvton/transferOutfit',
    group: 'Jobs',
    expected: ownerOnly(202),
    cell: async (w, p) => {
      const vtonId = await freshVton(w);
      return {
        request: {
          method: 'POST',
          path: '/api/catvton/transferOutfit',
          body: { vtonId, personKey: w.personKey, garmentKey: w.garmentKey, landmarks: facingLandmarks(), engine: 'warp' },
        },
        check: () => (ownerSide(p) ? undefined : untouchedVton(w, vtonId)),
      };
    },
  },
  {
    route: 'POST /api/upload/cloth',
    group: 'Jobs',
    expected: ownerOnly(202),
    cell: async (w) => ({ request: { method: 'POST', path: '/api/upload/cloth', body: { key: w.garmentKey } } }),
  },
  {
    route: 'POST /api/snap',
    group: 'Jobs',
    expected: ownerOnly(202),
    cell: async (w) => ({
      request: { method: 'POST', path: '/api/snap', body: { personKey: w.personKey, garmentKey: w.garmentKey, landmarks: facingLandmarks() } },
    }),
  },
  {
    route: 'GET /api/status/{job_id}',
    group: 'Jobs',
    expected: ownerOnly(200),
    cell: async (w) => ({ request: { method: 'GET', path: `/api/status/${w.jobId}` } }),
  },
  {
    route: 'GET /api/jobs',
    group: 'Jobs',
    expected: anyCaller(200),
    cell: async (w, p) => ({ request: { method: 'GET', path: '/api/jobs' }, check: (a) => (a.status === 200 ? listsOwn(() => w.jobId)(p)(a) : undefined) }),
  },
  {
    route: 'POST /api/cloudevents',
    group: 'CloudEvents',
    expected: keysOnly,
    cell: async (w, p) => {
      const vtonId = await freshVton(w);
      return {
        request: { method: 'POST', path: '/api/cloudevents', raw: tryonEvent(w, vtonId), contentType: 'application/cloudevents+json' },
        check: () => (p === 'API key of owner' ? undefined : untouchedVton(w, vtonId)),
      };
    },
  },
];

export interface CellResult {
  route: string;
  group: string;
  /** one of the matrix's principals, or an admin on the admin routes */
  principal: Principal | 'admin';
  expected: number;
  measured: number;
  problem?: string | undefined;
  failure?: string | undefined;
}

/** Slugs a refusal may carry, by status. */
const refusalTypes: Record<number, string[]> = { 401: ['unauthorized'], 403: ['forbidden'], 404: ['not-found', 'image-not-found'] };

/** The routes of the served document, as `METHOD /path`. */
export async function documentedRoutes(w: World): Promise<string[]> {
  const document = expectStatus(await w.call('GET', '/api/openapi.json'), 200, 'the OpenAPI document').json as {
    paths: Record<string, Record<string, unknown>>;
  };
  return Object.entries(document.paths).flatMap(([path, item]) => Object.keys(item).map((method) => `${method.toUpperCase()} ${path}`));
}

/**
 * Whether every job an accepted submission answered (`job_id`, or the `results` of a CloudEvents
 * batch) is accounted for: it waits for a mask job, as the owner sees it, or it was queued after
 * `mark`. The queue is read after the status: a try-on released by its mask job between the
 * answer and the status read is XADDed before its release commits (lifecycle/release.ts).
 */
async function accountedFor(w: World, answered: unknown, mark: Record<string, string>): Promise<boolean> {
  const body = answered as { job_id?: string; results?: { job_id?: string }[] } | undefined;
  const ids = [body?.job_id, ...(body?.results ?? []).map((r) => r.job_id)].filter((id): id is string => typeof id === 'string');
  if (!ids.length) return false;
  const released: string[] = [];
  for (const id of ids) {
    const job = expectStatus(await w.call('GET', `/api/status/${id}`, { token: w.owner.observer }), 200, 'the accepted job');
    if (!(job.json as { waiting_for?: string | null }).waiting_for) released.push(id);
  }
  if (!released.length) return true;
  const queued = new Set(await queuedSince(w.redis, mark));
  return released.every((id) => queued.has(id));
}

const order: Principal[] = ['anonymous', 'API key of owner', 'API key of another', 'another user', 'owner'];

/** Every cell of one row. */
export async function runRow(w: World, row: Row): Promise<CellResult[]> {
  const standard: Credentials = {
    owner: w.owner.token,
    'another user': w.another.token,
    anonymous: undefined,
    'API key of owner': w.ownerKey,
    'API key of another': w.anotherKey,
  };
  const credentials = row.credentials ? await row.credentials(w) : standard;
  const results: CellResult[] = [];
  // the owner and another user last: a cell that deletes its caller must not revoke the keys of later cells
  for (const principal of order) {
    const cell = await row.cell(w, principal, credentials);
    const { method, path, ...options } = cell.request;
    const { result: answer, queued, mark } = await queuedBy(w, () => w.call(method, path, { ...options, token: credentials[principal] }));
    const expected = row.expected[principal];
    const failures: string[] = [];
    if (answer.status !== expected) failures.push(`answered ${answer.status}: ${answer.text.slice(0, 200)}`);
    if (answer.status >= 400) {
      const allowed = refusalTypes[answer.status];
      if (!answer.problem) failures.push(`not problem+json: ${answer.contentType}`);
      else if (allowed && !allowed.includes(answer.problem)) failures.push(`problem type ${answer.problem}, expected ${allowed.join(' or ')}`);
    }
    const refused = answer.status >= 400;
    if (refused && queued.length) failures.push(`a refused request queued jobs ${queued.join(', ')}`);
    // and the check sees what an accepted submission queues (a try-on may instead wait for its photo's mask job, queued before)
    if (answer.status === 202 && !queued.length && !(await accountedFor(w, answer.json, mark)))
      failures.push('accepted, but nothing was queued, and it waits for nothing');
    const checked = await cell.check?.(answer);
    if (checked) failures.push(checked);
    results.push({
      route: row.route,
      group: row.group,
      principal,
      expected,
      measured: answer.status,
      problem: answer.problem,
      failure: failures.length ? failures.join('; ') : undefined,
    });
  }
  return results;
}

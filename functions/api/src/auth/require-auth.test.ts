import { generateKeyPairSync, randomUUID, sign as rsaSign } from 'node:crypto';
import { problemErrorHandler } from '@proteus/common';
import type { DatabaseHandle } from '@proteus/common/db';
import { keys } from '@proteus/eventing';
import { Hono } from 'hono';
import type { Redis } from 'ioredis';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { createKey, hmacJwt, jsonInit, now, PASSWORD, signUp, type TestAccount } from '../../test/accounts.ts';
import { apiWorld, cleanupStack, PROBLEMS, problemOf } from '../../test/deps.ts';
import { fixtures, putObject } from '../../test/images.ts';
import { createApp } from '../app.ts';
import type { ApiDeps, AppEnv } from '../env.ts';
import { readAccount, requireAuth } from './require-auth.ts';

type App = ReturnType<typeof createApp>;
type Principal = 'owner' | 'other' | 'anonymous' | 'ownerKey' | 'otherKey' | 'admin';
const principals: Principal[] = ['owner', 'other', 'anonymous', 'ownerKey', 'otherKey', 'admin'];

interface World {
  owner: TestAccount;
  other: TestAccount;
  admin: TestAccount;
  ownerKey: { id: string; key: string };
  otherKey: { id: string; key: string };
}

/** A route that accepts API keys, as the image and job routes do: it answers who the caller is. */
function probeApp(deps: ApiDeps) {
  return (
    new Hono<AppEnv>()
      .use(async (c, next) => {
        c.set('deps', deps);
        await next();
      })
      .get('/probe', requireAuth(), (c) => c.json(c.var.auth))
      .get('/admin-probe', requireAuth({ role: 'admin' }), (c) => c.json(c.var.auth))
      // the account left to the route, as the snap does; then read by the route, or by a role guard after it
      .get('/deferred', requireAuth({ accountInRoute: true }), async (c) => {
        const before = c.get('auth');
        await readAccount(c);
        return c.json({ before, after: c.get('auth') });
      })
      .get('/deferred-admin', requireAuth({ accountInRoute: true }), requireAuth({ role: 'admin' }), (c) => c.json(c.get('auth')))
      .onError(problemErrorHandler(deps.log))
  );
}

describe.each(['postgres', 'pglite'] as const)('authentication and authorization on %s', (kind) => {
  const cleanups = cleanupStack();
  let database: DatabaseHandle;
  let redis: Redis;
  let deps: ApiDeps;
  let app: App;
  let lines: Record<string, unknown>[];
  let world: World;

  let reset: () => Promise<void>;
  beforeAll(async () => {
    ({ database, redis, deps, app, lines, reset } = await apiWorld(kind, cleanups));
  }, 60_000);
  afterAll(() => cleanups.run());
  beforeEach(async () => {
    await reset();
    const owner = await signUp(app, 'owner@example.com');
    const other = await signUp(app, 'other@example.com');
    const admin = await signUp(app, 'admin@proteus.test');
    world = { owner, other, admin, ownerKey: await createKey(app, owner.accessToken), otherKey: await createKey(app, other.accessToken) };
  });

  const bearer = (p: Principal): string | undefined =>
    ({
      owner: world.owner.accessToken,
      other: world.other.accessToken,
      admin: world.admin.accessToken,
      ownerKey: world.ownerKey.key,
      otherKey: world.otherKey.key,
      anonymous: undefined,
    })[p];

  /** A fresh JPEG stored under the owner's prefix, as a verified-to-be upload. */
  async function ownerImage(): Promise<string> {
    const key = keys.objectKey(world.owner.user.id, 'garment', randomUUID(), 'jpg');
    await putObject(deps.storage, key, await fixtures.jpeg(), 'image/jpeg');
    return key;
  }

  async function expectUnauthorized(response: Response, error: string | null = 'invalid_token') {
    expect(response.status).toBe(401);
    expect(await problemOf(response)).toMatchObject({ type: `${PROBLEMS}unauthorized`, status: 401 });
    expect(response.headers.get('www-authenticate')).toBe(error ? `Bearer error="${error}"` : 'Bearer');
  }

  describe('the authorization matrix: route × caller → status', () => {
    // `me` is whoever calls: owner, other and admin each reach their own account
    // `notFound`: the problem a refused caller gets, where it is not the generic not-found
    const routes: {
      name: string;
      request: () => [string, RequestInit?] | Promise<[string, RequestInit?]>;
      expected: Record<Principal, number>;
      notFound?: string;
    }[] = [
      {
        name: 'GET /api/users/me',
        request: () => ['/api/users/me'],
        expected: { owner: 200, other: 200, anonymous: 401, ownerKey: 403, otherKey: 403, admin: 200 },
      },
      {
        name: 'PATCH /api/users/me',
        request: () => ['/api/users/me', jsonInit('PATCH', { displayName: 'New name' })],
        expected: { owner: 200, other: 200, anonymous: 401, ownerKey: 403, otherKey: 403, admin: 200 },
      },
      {
        name: 'DELETE /api/users/me',
        request: () => ['/api/users/me', { method: 'DELETE' }],
        expected: { owner: 204, other: 204, anonymous: 401, ownerKey: 403, otherKey: 403, admin: 204 },
      },
      { name: 'GET /api/users', request: () => ['/api/users'], expected: { owner: 403, other: 403, anonymous: 401, ownerKey: 403, otherKey: 403, admin: 200 } },
      {
        name: 'POST /api/api-keys',
        request: () => ['/api/api-keys', jsonInit('POST', { name: 'k2' })],
        expected: { owner: 201, other: 201, anonymous: 401, ownerKey: 403, otherKey: 403, admin: 201 },
      },
      {
        name: 'GET /api/api-keys',
        request: () => ['/api/api-keys'],
        expected: { owner: 200, other: 200, anonymous: 401, ownerKey: 403, otherKey: 403, admin: 200 },
      },
      {
        // the owner's key: another user, and even an admin, get 404 as if it did not exist
        name: "DELETE /api/api-keys/<owner's key>",
        request: () => [`/api/api-keys/${world.ownerKey.id}`, { method: 'DELETE' }],
        expected: { owner: 204, other: 404, anonymous: 401, ownerKey: 403, otherKey: 403, admin: 404 },
      },
      // the image routes take API keys (shop backends); objects are the owner's alone, hidden even from an admin
      {
        name: 'GET /api/images/presignedUpUrl',
        request: () => ['/api/images/presignedUpUrl?kind=garment&contentType=image/jpeg'],
        expected: { owner: 200, other: 200, anonymous: 401, ownerKey: 200, otherKey: 200, admin: 200 },
      },
      {
        name: "GET /api/images/presignedDownloadUrl (the owner's image)",
        request: async () => [`/api/images/presignedDownloadUrl?key=${encodeURIComponent(await ownerImage())}`],
        expected: { owner: 200, other: 404, anonymous: 401, ownerKey: 200, otherKey: 404, admin: 404 },
        notFound: 'image-not-found',
      },
      {
        name: "POST /api/images/verify (the owner's image)",
        request: async () => ['/api/images/verify', jsonInit('POST', { key: await ownerImage() })],
        expected: { owner: 200, other: 404, anonymous: 401, ownerKey: 200, otherKey: 404, admin: 404 },
        notFound: 'image-not-found',
      },
      // the auth routes are public: a credential in the header changes nothing
      {
        name: 'POST /api/auth/login',
        request: () => ['/api/auth/login', jsonInit('POST', { email: 'owner@example.com', password: PASSWORD })],
        expected: { owner: 200, other: 200, anonymous: 200, ownerKey: 200, otherKey: 200, admin: 200 },
      },
      {
        name: "POST /api/auth/refresh (the owner's refresh token)",
        request: () => ['/api/auth/refresh', jsonInit('POST', { refreshToken: world.owner.refreshToken })],
        expected: { owner: 200, other: 200, anonymous: 200, ownerKey: 200, otherKey: 200, admin: 200 },
      },
      {
        name: 'POST /api/auth/logout',
        request: () => ['/api/auth/logout', jsonInit('POST', { refreshToken: world.owner.refreshToken })],
        expected: { owner: 204, other: 204, anonymous: 204, ownerKey: 204, otherKey: 204, admin: 204 },
      },
      {
        name: 'POST /api/auth/signup',
        request: () => ['/api/auth/signup', jsonInit('POST', { email: 'fresh@example.com', password: PASSWORD })],
        expected: { owner: 201, other: 201, anonymous: 201, ownerKey: 201, otherKey: 201, admin: 201 },
      },
    ];
    const cells = routes.flatMap((route) => principals.map((p) => [route.name, p, route.expected[p], route] as const));

    it.each(cells)('%s as %s → %i', async (_name, principal, status, route) => {
      const [path, init = {}] = await route.request();
      const headers = new Headers(init.headers);
      const credential = bearer(principal);
      if (credential) headers.set('authorization', `Bearer ${credential}`);
      const response = await app.request(path, { ...init, headers });
      expect(response.status, await response.clone().text()).toBe(status);
      if (status === 401) expect(response.headers.get('www-authenticate')).toBe('Bearer');
      if (status === 403) expect((await problemOf(response)).type).toBe(`${PROBLEMS}forbidden`);
      if (status === 404) expect((await problemOf(response)).type).toBe(`${PROBLEMS}${route.notFound ?? 'not-found'}`);
      if (path === '/api/users/me' && status === 200) {
        const me = (await response.json()) as { id: string };
        expect(me.id).toBe(world[principal as 'owner' | 'other' | 'admin'].user.id);
      }
      // a presigned upload lands under the caller's own prefix; an API key's caller is its owner
      if (path.startsWith('/api/images/presignedUpUrl') && status === 200) {
        const account = { owner: world.owner, ownerKey: world.owner, other: world.other, otherKey: world.other, admin: world.admin }[
          principal as 'owner' | 'ownerKey' | 'other' | 'otherKey' | 'admin'
        ];
        expect(((await response.json()) as { key: string }).key.startsWith(`users/${account.user.id}/garment/`)).toBe(true);
      }
    });

    it("a refused DELETE of the owner's key leaves it working", async () => {
      const probe = probeApp(deps);
      for (const caller of [world.other.accessToken, world.admin.accessToken]) {
        expect((await app.request(`/api/api-keys/${world.ownerKey.id}`, jsonInit('DELETE', undefined, caller))).status).toBe(404);
      }
      expect((await probe.request('/probe', jsonInit('GET', undefined, world.ownerKey.key))).status).toBe(200);
    });
  });

  describe('API keys on a route that accepts them', () => {
    it('act for their owner, and name the key', async () => {
      const probe = probeApp(deps);
      const response = await probe.request('/probe', jsonInit('GET', undefined, world.ownerKey.key));
      expect(response.status).toBe(200);
      expect(await response.json()).toEqual({ userId: world.owner.user.id, role: 'user', via: 'api-key', keyId: world.ownerKey.id });
      const row = await database.db.selectFrom('api_keys').select('last_used_at').where('id', '=', world.ownerKey.id).executeTakeFirstOrThrow();
      expect(row.last_used_at).toBeInstanceOf(Date);
    });

    it('a bearer token acts as its user', async () => {
      const response = await probeApp(deps).request('/probe', jsonInit('GET', undefined, world.other.accessToken));
      expect(await response.json()).toEqual({ userId: world.other.user.id, role: 'user', via: 'token' });
    });

    it('role: admin is required by role, not by the credential type', async () => {
      const probe = probeApp(deps);
      expect((await probe.request('/admin-probe', jsonInit('GET', undefined, world.admin.accessToken))).status).toBe(200);
      const adminKey = await createKey(app, world.admin.accessToken);
      expect((await probe.request('/admin-probe', jsonInit('GET', undefined, adminKey.key))).status).toBe(200);
      const refused = await probe.request('/admin-probe', jsonInit('GET', undefined, world.owner.accessToken));
      expect(refused.status).toBe(403);
      expect((await problemOf(refused)).type).toBe(`${PROBLEMS}forbidden`);
    });

    it('fail once revoked, once the owner is deleted, or when any part is altered', async () => {
      const probe = probeApp(deps);
      const { key, id } = world.ownerKey;
      const secret = key.slice(-43);
      const altered = [
        `prk_${id}_${secret.slice(0, -1)}${secret.endsWith('A') ? 'B' : 'A'}`,
        `prk_${world.otherKey.id}_${secret}`,
        `prk_${id}_`,
        `prk_${id}`,
        'prk_',
        key.toUpperCase(),
      ];
      for (const bad of altered) await expectUnauthorized(await probe.request('/probe', jsonInit('GET', undefined, bad)));
      expect((await app.request(`/api/api-keys/${id}`, jsonInit('DELETE', undefined, world.owner.accessToken))).status).toBe(204);
      await expectUnauthorized(await probe.request('/probe', jsonInit('GET', undefined, key)));
      expect((await probe.request('/probe', jsonInit('GET', undefined, world.otherKey.key))).status).toBe(200);
      expect((await app.request('/api/users/me', jsonInit('DELETE', undefined, world.other.accessToken))).status).toBe(204);
      await expectUnauthorized(await probe.request('/probe', jsonInit('GET', undefined, world.otherKey.key)));
    });
  });

  describe('an account left to the route (accountInRoute)', () => {
    it('is marked unread with the token’s role, then read fresh; a gone account is refused when read', async () => {
      const probe = probeApp(deps);
      const response = await probe.request('/deferred', jsonInit('GET', undefined, world.owner.accessToken));
      expect(await response.json()).toEqual({
        before: { userId: world.owner.user.id, role: 'user', via: 'token', accountUnread: true },
        after: { userId: world.owner.user.id, role: 'user', via: 'token' },
      });
      // an API key's account was read with the key
      const byKey = await probe.request('/deferred', jsonInit('GET', undefined, world.ownerKey.key));
      expect(((await byKey.json()) as { before: unknown }).before).toEqual({
        userId: world.owner.user.id,
        role: 'user',
        via: 'api-key',
        keyId: world.ownerKey.id,
      });
      await database.db.deleteFrom('users').where('id', '=', world.owner.user.id).execute();
      await expectUnauthorized(await probe.request('/deferred', jsonInit('GET', undefined, world.owner.accessToken)));
    });

    it('a role guard after it reads the account first: the role is the account’s, not the token’s', async () => {
      const probe = probeApp(deps);
      const admin = () => probe.request('/deferred-admin', jsonInit('GET', undefined, world.admin.accessToken));
      expect(await (await admin()).json()).toEqual({ userId: world.admin.user.id, role: 'admin', via: 'token' });
      await database.db.updateTable('users').set({ role: 'user' }).where('id', '=', world.admin.user.id).execute();
      expect((await admin()).status).toBe(403);
      await database.db.deleteFrom('users').where('id', '=', world.admin.user.id).execute();
      await expectUnauthorized(await admin());
    });

    it('cannot be combined with a required role', () => {
      expect(() => requireAuth({ accountInRoute: true, role: 'admin' })).toThrow(/role/);
    });
  });

  describe('access tokens', () => {
    const me = (token: string) => app.request('/api/users/me', jsonInit('GET', undefined, token));
    const claims = () => ({ sub: world.owner.user.id, role: 'user', typ: 'access', iat: now(), exp: now() + 600 });

    it('accepts a well-formed HS256 token (the control for the forgeries below)', async () => {
      expect((await me(hmacJwt({ alg: 'HS256', typ: 'JWT' }, claims()))).status).toBe(200);
    });

    it.each<[string, () => string]>([
      [
        'alg none, no signature',
        () => `${Buffer.from('{"alg":"none","typ":"JWT"}').toString('base64url')}.${Buffer.from(JSON.stringify(claims())).toString('base64url')}.`,
      ],
      ['alg None, HMAC signature kept', () => hmacJwt({ alg: 'None', typ: 'JWT' }, claims())],
      ['HS512 with the right secret', () => hmacJwt({ alg: 'HS512', typ: 'JWT' }, claims(), undefined, 'sha512')],
      [
        'RS256 signed with some RSA key',
        () => {
          const { privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
          const input = `${Buffer.from('{"alg":"RS256","typ":"JWT"}').toString('base64url')}.${Buffer.from(JSON.stringify(claims())).toString('base64url')}`;
          return `${input}.${rsaSign('sha256', Buffer.from(input), privateKey).toString('base64url')}`;
        },
      ],
      [
        'no exp',
        () => {
          const { exp: _exp, ...rest } = claims();
          return hmacJwt({ alg: 'HS256', typ: 'JWT' }, rest);
        },
      ],
      ['exp not a number', () => hmacJwt({ alg: 'HS256', typ: 'JWT' }, { ...claims(), exp: String(now() + 600) })],
      ['expired', () => hmacJwt({ alg: 'HS256', typ: 'JWT' }, { ...claims(), iat: now() - 1000, exp: now() - 10 })],
      ['a wrong signature (another secret)', () => hmacJwt({ alg: 'HS256', typ: 'JWT' }, claims(), 'another-secret-of-at-least-32-characters!!')],
      [
        'a tampered payload (role: admin, signature of the original)',
        () => {
          const [header, , signature] = world.owner.accessToken.split('.');
          const payload = JSON.parse(Buffer.from(world.owner.accessToken.split('.')[1] as string, 'base64url').toString()) as Record<string, unknown>;
          return `${header}.${Buffer.from(JSON.stringify({ ...payload, role: 'admin' })).toString('base64url')}.${signature}`;
        },
      ],
      ['typ refresh in the claims', () => hmacJwt({ alg: 'HS256', typ: 'JWT' }, { ...claims(), typ: 'refresh' })],
      [
        'no typ claim',
        () => {
          const { typ: _typ, ...rest } = claims();
          return hmacJwt({ alg: 'HS256', typ: 'JWT' }, rest);
        },
      ],
      ['a header typ that is not JWT', () => hmacJwt({ alg: 'HS256', typ: 'at+jwt+evil' }, claims())],
      ['a crit header', () => hmacJwt({ alg: 'HS256', typ: 'JWT', crit: ['exp'] }, claims())],
      ['an unknown role', () => hmacJwt({ alg: 'HS256', typ: 'JWT' }, { ...claims(), role: 'root' })],
      ['the refresh token itself', () => world.owner.refreshToken],
      ['two parts only', () => world.owner.accessToken.split('.').slice(0, 2).join('.')],
      ['garbage', () => 'not.a.jwt'],
    ])('refuses %s: 401 with WWW-Authenticate', async (_what, token) => {
      await expectUnauthorized(await me(token()));
    });

    it('a tampered payload cannot reach the admin listing either', async () => {
      const [header, body, signature] = world.owner.accessToken.split('.') as [string, string, string];
      const payload = JSON.parse(Buffer.from(body, 'base64url').toString()) as Record<string, unknown>;
      const forged = `${header}.${Buffer.from(JSON.stringify({ ...payload, role: 'admin' })).toString('base64url')}.${signature}`;
      await expectUnauthorized(await app.request('/api/users', jsonInit('GET', undefined, forged)));
    });

    it('a validly signed token of a deleted account fails', async () => {
      const token = world.owner.accessToken;
      expect((await me(token)).status).toBe(200);
      await database.db.deleteFrom('users').where('id', '=', world.owner.user.id).execute();
      await expectUnauthorized(await me(token));
    });

    it('a snap with a deleted account’s token fails, and nothing is written or queued', async () => {
      const garmentKey = await ownerImage();
      const personKey = keys.objectKey(world.owner.user.id, 'person', randomUUID(), 'jpg');
      await putObject(deps.storage, personKey, await fixtures.jpeg(), 'image/jpeg');
      const token = world.owner.accessToken;
      await database.db.deleteFrom('users').where('id', '=', world.owner.user.id).execute();
      await expectUnauthorized(await app.request('/api/snap', jsonInit('POST', { personKey, garmentKey }, token)));
      // a foreign garment or a named VTON: the gone account is the answer first
      const foreign = keys.objectKey(world.other.user.id, 'garment', randomUUID(), 'jpg');
      await expectUnauthorized(await app.request('/api/snap', jsonInit('POST', { personKey, garmentKey: foreign }, token)));
      await expectUnauthorized(await app.request('/api/snap', jsonInit('POST', { personKey, garmentKey, vtonId: randomUUID() }, token)));
      expect(await database.db.selectFrom('jobs').select('id').execute()).toEqual([]);
      expect(await database.db.selectFrom('vtons').select('id').execute()).toEqual([]);
      expect(await redis.xlen(keys.streams.segment)).toBe(0);
      expect(await redis.xlen(keys.streams.jobs)).toBe(0);
    });

    it('the role comes from the account, not from the token: a demoted admin is refused at once', async () => {
      await database.db.updateTable('users').set({ role: 'user' }).where('id', '=', world.admin.user.id).execute();
      expect((await app.request('/api/users', jsonInit('GET', undefined, world.admin.accessToken))).status).toBe(403);
    });

    it('no header: 401 with a bare Bearer challenge; a non-Bearer scheme: invalid_request', async () => {
      await expectUnauthorized(await app.request('/api/users/me'), null);
      await expectUnauthorized(await app.request('/api/users/me', { headers: { authorization: 'Basic b3duZXI6cHc=' } }), 'invalid_request');
      await expectUnauthorized(await app.request('/api/users/me', { headers: { authorization: 'Bearer' } }), 'invalid_request');
    });

    it('carries sub, role, typ, iat and exp = iat + JWT_TTL_S, with alg HS256', async () => {
      const [header, body] = world.owner.accessToken.split('.') as [string, string];
      expect(JSON.parse(Buffer.from(header, 'base64url').toString())).toEqual({ alg: 'HS256', typ: 'JWT' });
      const payload = JSON.parse(Buffer.from(body, 'base64url').toString()) as Record<string, number | string>;
      expect(payload).toMatchObject({ sub: world.owner.user.id, role: 'user', typ: 'access' });
      expect(Number(payload.exp) - Number(payload.iat)).toBe(900);
    });
  });

  describe('the per-principal rate limit', () => {
    it('answers 429 with Retry-After after RATE_LIMIT_PER_MINUTE requests; each user and each key counts alone', async () => {
      const limited = { ...deps, auth: { ...deps.auth, ratePerMinute: 3 } };
      const probe = probeApp(limited);
      const call = (credential: string) => probe.request('/probe', jsonInit('GET', undefined, credential));
      await redis.flushdb(); // creating the keys above counted
      for (let i = 0; i < 3; i++) expect((await call(world.owner.accessToken)).status).toBe(200);
      const refused = await call(world.owner.accessToken);
      expect(refused.status).toBe(429);
      expect((await problemOf(refused)).type).toBe(`${PROBLEMS}rate-limited`);
      const retryAfter = Number(refused.headers.get('retry-after'));
      expect(retryAfter).toBeGreaterThan(0);
      expect(retryAfter).toBeLessThanOrEqual(60);
      // the owner's API key and another user have counters of their own
      for (let i = 0; i < 3; i++) expect((await call(world.ownerKey.key)).status).toBe(200);
      expect((await call(world.ownerKey.key)).status).toBe(429);
      expect((await call(world.other.accessToken)).status).toBe(200);
      // the account routes count too
      expect((await createApp(limited).request('/api/users/me', jsonInit('GET', undefined, world.owner.accessToken))).status).toBe(429);
    });
  });

  it('logs no credential', async () => {
    await probeApp(deps).request('/probe', jsonInit('GET', undefined, world.ownerKey.key));
    await app.request('/api/users/me', jsonInit('GET', undefined, 'prk_bogus'));
    const text = JSON.stringify(lines);
    for (const secret of [world.owner.accessToken, world.ownerKey.key, world.ownerKey.key.slice(-43), world.owner.refreshToken, PASSWORD])
      expect(text).not.toContain(secret);
  });
});

/**
 * Every VTON and job route × {owner, another user, anonymous, API key of the owner, API key of
 * another user}. The owner's resources answer the owner (by token or key) and nobody else:
 * another principal gets 404 (never 403, which would say the thing exists), anonymous 401.
 */
import { randomUUID } from 'node:crypto';
import { keys } from '@proteus/eventing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createKey, jsonInit, signUp } from '../../test/accounts.ts';
import { type ApiWorld, apiWorld, cleanupStack } from '../../test/deps.ts';
import { storeImage } from '../../test/jobs.ts';

type Principal = 'owner' | 'another user' | 'anonymous' | 'API key of owner' | 'API key of another';
const principals: Principal[] = ['owner', 'another user', 'anonymous', 'API key of owner', 'API key of another'];

interface Owned {
  userId: string;
  vtonId: string;
  jobId: string;
  garmentKey: string;
  personKey: string;
}

interface Route {
  name: string;
  /** builds the request on fresh resources of the owner */
  request: (o: Owned) => { method: string; path: string; body?: unknown };
  /** the owner's answer; others with credentials get `other` (404 unless a listing) */
  owner: number;
  other?: number;
  /** for listings: whether the answer names the owner's resource */
  lists?: (o: Owned, body: string) => boolean;
}

const routes: Route[] = [
  { name: 'POST /api/vtons', request: (o) => ({ method: 'POST', path: '/api/vtons', body: { garmentKey: o.garmentKey } }), owner: 201 },
  { name: 'GET /api/vtons', request: () => ({ method: 'GET', path: '/api/vtons' }), owner: 200, other: 200, lists: (o, body) => body.includes(o.vtonId) },
  { name: 'GET /api/vtons/:id', request: (o) => ({ method: 'GET', path: `/api/vtons/${o.vtonId}` }), owner: 200 },
  { name: 'PATCH /api/vtons/:id', request: (o) => ({ method: 'PATCH', path: `/api/vtons/${o.vtonId}`, body: { personKey: o.personKey } }), owner: 200 },
  { name: 'DELETE /api/vtons/:id', request: (o) => ({ method: 'DELETE', path: `/api/vtons/${o.vtonId}` }), owner: 204 },
  {
    name: 'POST /api/segformer/segmentOutfitPic',
    request: (o) => ({ method: 'POST', path: '/api/segformer/segmentOutfitPic', body: { imageKey: o.garmentKey, vtonId: o.vtonId } }),
    owner: 202,
  },
  {
    name: 'POST /api/catvton/transferOutfit',
    request: (o) => ({ method: 'POST', path: '/api/catvton/transferOutfit', body: { vtonId: o.vtonId, personKey: o.personKey, garmentKey: o.garmentKey } }),
    owner: 202,
  },
  { name: 'POST /api/upload/cloth', request: (o) => ({ method: 'POST', path: '/api/upload/cloth', body: { key: o.garmentKey } }), owner: 202 },
  { name: 'POST /api/snap', request: (o) => ({ method: 'POST', path: '/api/snap', body: { personKey: o.personKey, garmentKey: o.garmentKey } }), owner: 202 },
  { name: 'GET /api/status/:job_id', request: (o) => ({ method: 'GET', path: `/api/status/${o.jobId}` }), owner: 200 },
  { name: 'GET /api/jobs', request: () => ({ method: 'GET', path: '/api/jobs' }), owner: 200, other: 200, lists: (o, body) => body.includes(o.jobId) },
];

describe.each(['postgres', 'pglite'] as const)('authorization of the VTON and job routes on %s', (kind) => {
  const cleanups = cleanupStack();
  let w: ApiWorld;
  const credentials = {} as Record<Principal, string | undefined>;
  let ownerId: string;

  beforeAll(async () => {
    w = await apiWorld(kind, cleanups);
    const owner = await signUp(w.app, 'owner@example.com');
    const another = await signUp(w.app, 'another@example.com');
    ownerId = owner.user.id;
    credentials.owner = owner.accessToken;
    credentials['another user'] = another.accessToken;
    credentials.anonymous = undefined;
    credentials['API key of owner'] = (await createKey(w.app, owner.accessToken)).key;
    credentials['API key of another'] = (await createKey(w.app, another.accessToken)).key;
  }, 60_000);
  afterAll(() => cleanups.run());

  /** A VTON with a queued job, and two verified-ready images, all the owner's. */
  async function freshOwned(): Promise<Owned> {
    const garmentKey = await storeImage(w.storage, ownerId, 'garment');
    const personKey = await storeImage(w.storage, ownerId, 'person');
    const vtonId = randomUUID();
    const jobId = randomUUID();
    await w.database.db.insertInto('vtons').values({ id: vtonId, user_id: ownerId, garment_key: garmentKey }).execute();
    await w.database.db.insertInto('jobs').values({ id: jobId, user_id: ownerId, vton_id: vtonId, kind: 'segment' }).execute();
    return { userId: ownerId, vtonId, jobId, garmentKey, personKey };
  }

  const cases = routes.flatMap((route) => principals.map((principal) => [route.name, principal, route] as const));

  it.each(cases)('%s as %s', async (_, principal, route) => {
    const owned = await freshOwned();
    const { method, path, body } = route.request(owned);
    const response = await w.app.request(path, jsonInit(method, body, credentials[principal]));
    const text = await response.text();
    const ownerSide = principal === 'owner' || principal === 'API key of owner';
    const expected = principal === 'anonymous' ? 401 : ownerSide ? route.owner : (route.other ?? 404);
    expect(response.status, text).toBe(expected);
    if (route.lists) expect(route.lists(owned, text)).toBe(ownerSide);
    if (!ownerSide) {
      // nothing of the owner's changed, and nothing was queued for anyone else
      const vton = await w.database.db.selectFrom('vtons').selectAll().where('id', '=', owned.vtonId).executeTakeFirst();
      expect(vton).toMatchObject({ user_id: ownerId, garment_key: owned.garmentKey, person_key: null, status: 'draft' });
      const queued = (await w.redis.xrange(keys.streams.jobs, '-', '+')).concat(await w.redis.xrange(keys.streams.segment, '-', '+'));
      expect(queued.filter(([, f]) => String(f[1]).includes(owned.vtonId) || String(f[1]).includes(owned.garmentKey))).toEqual([]);
    }
  });
});

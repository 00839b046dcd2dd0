import { randomUUID } from 'node:crypto';
import { createProducer, keys } from '@proteus/eventing';
import { Redis } from 'ioredis';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { jsonInit, signUp, type TestAccount } from '../../test/accounts.ts';
import { type ApiWorld, apiWorld, cleanupStack, closedPort, expectProblem } from '../../test/deps.ts';
import { fixtures, putObject } from '../../test/images.ts';
import { accepted, eventsOf, landmarks, pendingRequests, storeImage } from '../../test/jobs.ts';

/** The key jobs use for an upload: its checked copy. */
const verified = keys.verifiedObjectKey;

describe.each(['postgres', 'pglite'] as const)('job submission on %s', (kind) => {
  const cleanups = cleanupStack();
  let w: ApiWorld;
  let ann: TestAccount;
  let bob: TestAccount;

  beforeAll(async () => {
    w = await apiWorld(kind, cleanups);
  }, 60_000);
  afterAll(() => cleanups.run());
  beforeEach(async () => {
    await w.reset();
    ann = await signUp(w.app, 'ann@example.com');
    bob = await signUp(w.app, 'bob@example.com');
  });

  const post = (path: string, body: unknown, token = ann.accessToken, headers: Record<string, string> = {}) => {
    const init = jsonInit('POST', body, token);
    return w.app.request(path, { ...init, headers: { ...(init.headers as Record<string, string>), ...headers } });
  };
  const jobRows = () => w.database.db.selectFrom('jobs').selectAll().execute();
  const vtonRow = (id: string) => w.database.db.selectFrom('vtons').selectAll().where('id', '=', id).executeTakeFirstOrThrow();

  describe('happy paths', () => {
    it('POST /api/upload/cloth makes a VTON and a segmentation job, and XADDs the contract event to queue:segment', async () => {
      const key = await storeImage(w.storage, ann.user.id, 'garment');
      const job = await accepted(await post('/api/upload/cloth', { key }));
      expect(job).toEqual({ job_id: expect.stringMatching(/^[0-9a-f-]{36}$/), status: 'queued', kind: 'segment', vton_id: expect.any(String) });

      const [row, ...more] = await jobRows();
      expect(more).toEqual([]);
      expect(row).toMatchObject({ id: job.job_id, user_id: ann.user.id, vton_id: job.vton_id, kind: 'segment', status: 'queued', attempts: 0 });
      expect(await vtonRow(job.vton_id)).toMatchObject({ user_id: ann.user.id, garment_key: verified(key), status: 'segmenting' });

      const events = await eventsOf(w.redis, keys.streams.segment, ann.user.id);
      expect(events).toHaveLength(1);
      expect(events[0]).toMatchObject({
        type: 'dev.proteus.segment.requested',
        source: '/proteus/api',
        data: { jobId: job.job_id, userId: ann.user.id, vtonId: job.vton_id, imageKey: verified(key), purpose: 'garment' },
      });
      expect(await w.redis.xlen(keys.streams.jobs)).toBe(0);
    });

    it('POST /api/segformer/segmentOutfitPic segments a person photo for an existing VTON', async () => {
      const created = await w.app.request('/api/vtons', jsonInit('POST', {}, ann.accessToken));
      const vton = (await created.json()) as { id: string };
      const key = await storeImage(w.storage, ann.user.id, 'person', 'png');
      const job = await accepted(await post('/api/segformer/segmentOutfitPic', { imageKey: key, vtonId: vton.id, purpose: 'person-mask' }));
      expect(job).toMatchObject({ kind: 'segment', vton_id: vton.id });
      expect(await vtonRow(vton.id)).toMatchObject({ person_key: verified(key), status: 'segmenting' });
      const [event] = await eventsOf(w.redis, keys.streams.segment, ann.user.id);
      expect(event?.data).toEqual({ jobId: job.job_id, userId: ann.user.id, vtonId: vton.id, imageKey: verified(key), purpose: 'person-mask' });
    });

    it('POST /api/catvton/transferOutfit XADDs a tryon.requested with every field to queue:jobs', async () => {
      const personKey = await storeImage(w.storage, ann.user.id, 'person');
      const garmentKey = await storeImage(w.storage, ann.user.id, 'cloth_clean', 'png');
      const maskKey = await storeImage(w.storage, ann.user.id, 'mask', 'png');
      const deadline = new Date(Date.now() + 60_000).toISOString();
      const body = { personKey, garmentKey, maskKey, landmarks: landmarks(), seed: 42, steps: 20, engine: 'warp', deadline };
      const job = await accepted(await post('/api/catvton/transferOutfit', body));
      expect(job.kind).toBe('tryon');
      expect(await vtonRow(job.vton_id)).toMatchObject({ person_key: verified(personKey), cloth_clean_key: garmentKey, mask_key: maskKey, status: 'queued' });
      const events = await eventsOf(w.redis, keys.streams.jobs, ann.user.id);
      expect(events).toHaveLength(1);
      expect(events[0]).toMatchObject({ type: 'dev.proteus.tryon.requested', source: '/proteus/api' });
      expect(events[0]?.data).toEqual({ jobId: job.job_id, userId: ann.user.id, vtonId: job.vton_id, ...body, personKey: verified(personKey) });
    });

    it('POST /api/snap by upload keys joins the VTON made for that garment, whichever key of it is given', async () => {
      const garmentKey = await storeImage(w.storage, ann.user.id, 'garment');
      const cloth = await accepted(await post('/api/upload/cloth', { key: garmentKey }));
      const personKey = await storeImage(w.storage, ann.user.id, 'person');
      const byUpload = await accepted(await post('/api/snap', { personKey, garmentKey }));
      const byCopy = await accepted(await post('/api/snap', { personKey: verified(personKey), garmentKey: verified(garmentKey) }));
      expect([byUpload.vton_id, byCopy.vton_id]).toEqual([cloth.vton_id, cloth.vton_id]);
    });

    it('draws a random uint32 seed when none is given', async () => {
      const personKey = await storeImage(w.storage, ann.user.id, 'person');
      const garmentKey = await storeImage(w.storage, ann.user.id, 'garment');
      for (let i = 0; i < 3; i++) await accepted(await post('/api/snap', { personKey, garmentKey }));
      // each snap waits for its person mask: the request with its seed is kept on the try-on's row
      const seeds = (await pendingRequests(w.database)).map((e) => e.data.seed);
      expect(seeds).toHaveLength(3);
      for (const seed of seeds) expect(Number.isInteger(seed) && seed >= 0 && seed < 2 ** 32).toBe(true);
      expect(new Set(seeds).size).toBeGreaterThan(1);
    });

    it('POST /api/snap takes the original design’s URLs (a presigned upload URL, a download URL) and joins the VTON of the garment', async () => {
      const garmentKey = await storeImage(w.storage, ann.user.id, 'garment');
      const cloth = await accepted(await post('/api/upload/cloth', { key: garmentKey }));
      const personKey = await storeImage(w.storage, ann.user.id, 'person');
      const download = await w.app.request(
        `/api/images/presignedDownloadUrl?key=${encodeURIComponent(garmentKey)}`,
        jsonInit('GET', undefined, ann.accessToken),
      );
      const { url: clothUrl } = (await download.json()) as { url: string };
      const personUrl = `${w.storage.config.endpoint}/${w.storage.bucket}/${personKey}`;
      const job = await accepted(await post('/api/snap', { user_photo_url: personUrl, cloth_clean_url: clothUrl, landmarks: landmarks(), seed: 7 }));
      expect(job).toMatchObject({ status: 'queued', kind: 'tryon', vton_id: cloth.vton_id });
      const [event] = await pendingRequests(w.database);
      expect(event?.data).toMatchObject({
        jobId: job.job_id,
        vtonId: cloth.vton_id,
        personKey: verified(personKey),
        garmentKey: verified(garmentKey),
        seed: 7,
      });
    });

    it('GET /api/status/:job_id answers the job, and a presigned result URL once completed', async () => {
      const key = await storeImage(w.storage, ann.user.id, 'garment');
      const job = await accepted(await post('/api/upload/cloth', { key }));
      const status = async () => (await w.app.request(`/api/status/${job.job_id}`, jsonInit('GET', undefined, ann.accessToken))).json();
      expect(await status()).toEqual({
        job_id: job.job_id,
        status: 'queued',
        kind: 'segment',
        vton_id: job.vton_id,
        result_url: null,
        error: null,
        engine: null,
        resolution: null,
        batch_size: null,
        attempts: 0,
        waiting_for: null,
        enqueued_at: expect.any(String),
        started_at: null,
        finished_at: null,
        updated_at: expect.any(String),
      });
      const resultKey = keys.objectKey(ann.user.id, 'cloth_clean', randomUUID(), 'png');
      const png = await fixtures.png();
      await putObject(w.storage, resultKey, png, 'image/png');
      await w.database.db
        .updateTable('jobs')
        .set({ status: 'completed', result_key: resultKey, finished_at: new Date(), attempts: 1, engine: 'warp', resolution: '768x1024', batch_size: 4 })
        .execute();
      const done = (await status()) as { result_url: string; status: string; finished_at: string };
      expect(done).toMatchObject({ status: 'completed', engine: 'warp', resolution: '768x1024', batch_size: 4, attempts: 1, finished_at: expect.any(String) });
      const fetched = await fetch(done.result_url);
      expect(fetched.status).toBe(200);
      expect(Buffer.from(await fetched.arrayBuffer()).equals(png)).toBe(true);
      expect(JSON.stringify(w.lines)).not.toContain('X-Amz-Signature');
    });

    it('GET /api/jobs?since lists the caller’s jobs changed since then, oldest change first, with a cursor', async () => {
      const key = await storeImage(w.storage, ann.user.id, 'garment');
      const ids: string[] = [];
      for (let i = 0; i < 5; i++) ids.push((await accepted(await post('/api/upload/cloth', { key }))).job_id);
      await accepted(await post('/api/upload/cloth', { key: await storeImage(w.storage, bob.user.id) }, bob.accessToken));
      const list = async (q: string) => {
        const response = await w.app.request(`/api/jobs${q}`, jsonInit('GET', undefined, ann.accessToken));
        expect(response.status, await response.clone().text()).toBe(200);
        return (await response.json()) as { items: { job_id: string; updated_at: string }[]; nextCursor: string | null; hasMore: boolean };
      };
      const all = await list('');
      expect(all.items.map((j) => j.job_id)).toEqual(ids);
      expect(all.hasMore).toBe(false);

      const first = await list('?limit=2');
      expect(first.items.map((j) => j.job_id)).toEqual(ids.slice(0, 2));
      expect(first.hasMore).toBe(true);
      const second = await list(`?limit=2&cursor=${first.nextCursor}`);
      expect(second.items.map((j) => j.job_id)).toEqual(ids.slice(2, 4));
      const third = await list(`?limit=2&cursor=${second.nextCursor}`);
      expect(third.items.map((j) => j.job_id)).toEqual(ids.slice(4));
      expect(third.hasMore).toBe(false);
      // nothing changed since: empty, and the cursor stays where it was
      const none = await list(`?cursor=${third.nextCursor}`);
      expect(none).toEqual({ items: [], nextCursor: third.nextCursor, hasMore: false });

      // a change moves a job to the end; since= the time before it finds only that job
      const mark = new Date(Date.now() + 5);
      await new Promise((r) => setTimeout(r, 20));
      await w.database.db
        .updateTable('jobs')
        .set({ status: 'running', updated_at: new Date() })
        .where('id', '=', ids[1] as string)
        .execute();
      expect((await list(`?since=${mark.toISOString()}`)).items.map((j) => j.job_id)).toEqual([ids[1]]);
      expect((await list(`?cursor=${third.nextCursor}`)).items.map((j) => j.job_id)).toEqual([ids[1]]);
    });

    it.each([['?since=yesterday'], ['?cursor=nope'], ['?limit=0'], ['?limit=101'], ['?bogus=1']])('GET /api/jobs%s is a 400', async (q) => {
      await expectProblem(await w.app.request(`/api/jobs${q}`, jsonInit('GET', undefined, ann.accessToken)), 400, 'invalid-request');
    });
  });

  describe('owner scoping', () => {
    it('another user’s VTON, image or job answers 404 and writes nothing', async () => {
      const bobKey = await storeImage(w.storage, bob.user.id, 'garment');
      const bobJob = await accepted(await post('/api/upload/cloth', { key: bobKey }, bob.accessToken));
      const annKey = await storeImage(w.storage, ann.user.id, 'garment');
      const annPerson = await storeImage(w.storage, ann.user.id, 'person');

      await expectProblem(await post('/api/upload/cloth', { key: bobKey }), 404, 'image-not-found');
      await expectProblem(await post('/api/segformer/segmentOutfitPic', { imageKey: annKey, vtonId: bobJob.vton_id }), 404, 'not-found');
      await expectProblem(await post('/api/catvton/transferOutfit', { personKey: annPerson, garmentKey: bobKey }), 404, 'image-not-found');
      await expectProblem(await post('/api/snap', { personKey: annPerson, garmentKey: bobKey }), 404, 'image-not-found');
      const bobUrl = `${w.storage.config.endpoint}/${w.storage.bucket}/${bobKey}`;
      const annUrl = `${w.storage.config.endpoint}/${w.storage.bucket}/${annPerson}`;
      await expectProblem(await post('/api/snap', { user_photo_url: annUrl, cloth_clean_url: bobUrl }), 404, 'image-not-found');
      await expectProblem(await w.app.request(`/api/status/${bobJob.job_id}`, jsonInit('GET', undefined, ann.accessToken)), 404, 'not-found');
      const listed = (await (await w.app.request('/api/jobs', jsonInit('GET', undefined, ann.accessToken))).json()) as { items: unknown[] };
      expect(listed.items).toEqual([]);

      expect((await jobRows()).map((r) => r.user_id)).toEqual([bob.user.id]);
      expect(await eventsOf(w.redis, keys.streams.segment, ann.user.id)).toEqual([]);
      expect(await eventsOf(w.redis, keys.streams.jobs, ann.user.id)).toEqual([]);
      expect(await vtonRow(bobJob.vton_id)).toMatchObject({ garment_key: verified(bobKey), status: 'segmenting' });
    });
  });

  describe('bad input writes nothing', () => {
    let person: string;
    let garment: string;
    beforeEach(async () => {
      person = await storeImage(w.storage, ann.user.id, 'person');
      garment = await storeImage(w.storage, ann.user.id, 'garment');
    });
    afterEach(async () => {
      expect(await jobRows()).toEqual([]);
      expect(await w.database.db.selectFrom('vtons').selectAll().execute()).toEqual([]);
      expect(await w.redis.xlen(keys.streams.jobs)).toBe(0);
      expect(await w.redis.xlen(keys.streams.segment)).toBe(0);
    });

    it('malformed JSON and a wrong media type', async () => {
      await expectProblem(await post('/api/snap', '{"personKey":'), 400, 'invalid-request');
      const response = await w.app.request('/api/upload/cloth', {
        method: 'POST',
        headers: { authorization: `Bearer ${ann.accessToken}`, 'content-type': 'text/plain' },
        body: '{}',
      });
      await expectProblem(response, 415, 'unsupported-media-type');
    });

    it.each<[string, string, (k: { person: string; garment: string }) => unknown, string[]]>([
      ['wrong types', '/api/catvton/transferOutfit', (k) => ({ personKey: 5, garmentKey: k.garment, seed: '1', steps: 2.5 }), ['personKey', 'seed', 'steps']],
      [
        'extra and read-only fields',
        '/api/catvton/transferOutfit',
        (k) => ({ personKey: k.person, garmentKey: k.garment, userId: 'x', status: 'completed' }),
        ['userId', 'status'],
      ],
      ['a `..` key', '/api/upload/cloth', (k) => ({ key: k.garment.replace('garment/', 'garment/../') }), ['key']],
      ['an absolute URL as a key', '/api/segformer/segmentOutfitPic', () => ({ imageKey: 'https://example.com/a.jpg' }), ['imageKey']],
      ['an unknown purpose', '/api/segformer/segmentOutfitPic', (k) => ({ imageKey: k.garment, purpose: 'shoes' }), ['purpose']],
      ['32 landmarks', '/api/catvton/transferOutfit', (k) => ({ personKey: k.person, garmentKey: k.garment, landmarks: landmarks(32) }), ['landmarks']],
      ['steps 0', '/api/catvton/transferOutfit', (k) => ({ personKey: k.person, garmentKey: k.garment, steps: 0 }), ['steps']],
      ['steps 101', '/api/catvton/transferOutfit', (k) => ({ personKey: k.person, garmentKey: k.garment, steps: 101 }), ['steps']],
      ['seed -1', '/api/snap', (k) => ({ personKey: k.person, garmentKey: k.garment, seed: -1 }), ['seed']],
      ['seed 2^32', '/api/snap', (k) => ({ personKey: k.person, garmentKey: k.garment, seed: 2 ** 32 }), ['seed']],
      ['an unknown engine', '/api/catvton/transferOutfit', (k) => ({ personKey: k.person, garmentKey: k.garment, engine: 'gpu' }), ['engine']],
      [
        'a deadline without offset',
        '/api/catvton/transferOutfit',
        (k) => ({ personKey: k.person, garmentKey: k.garment, deadline: '2030-01-01 10:00' }),
        ['deadline'],
      ],
      ['no keys at all', '/api/snap', () => ({}), ['personKey', 'garmentKey']],
      ['half the URL form', '/api/snap', (k) => ({ user_photo_url: k.person }), ['cloth_clean_url']],
      ['both forms at once', '/api/snap', (k) => ({ user_photo_url: k.person, cloth_clean_url: k.garment, personKey: k.person }), ['personKey']],
      ['a foreign host URL', '/api/snap', (k) => ({ user_photo_url: `https://evil.example/b/${k.person}`, cloth_clean_url: k.garment }), ['user_photo_url']],
      ['a URL that is no key', '/api/snap', (k) => ({ user_photo_url: k.person, cloth_clean_url: 'not a url' }), ['cloth_clean_url']],
      ['a bad vtonId', '/api/segformer/segmentOutfitPic', (k) => ({ imageKey: k.garment, vtonId: '../x' }), ['vtonId']],
    ])('%s -> 400 naming the fields', async (_, path, body, fields) => {
      const problem = await expectProblem(await post(path, body({ person, garment })), 400, 'invalid-request');
      expect([...new Set(problem.errors?.map((e) => e.path))].sort()).toEqual([...fields].sort());
    });

    it('the URL form on another bucket of our endpoint is a 400', async () => {
      const url = `${w.storage.config.endpoint}/other-bucket/${person}`;
      await expectProblem(await post('/api/snap', { user_photo_url: url, cloth_clean_url: garment }), 400, 'invalid-request');
    });

    it.each([
      ['a missing image', 404, 'image-not-found', async (key: string) => key],
      ['a truncated JPEG', 422, 'image-truncated', async (_key: string) => (await fixtures.jpeg(400, 300)).subarray(0, 600)],
      ['bytes that are no image', 422, 'not-an-image', async () => Buffer.from('hello, not a picture')],
      ['a PNG stored as JPEG', 422, 'image-type-mismatch', async () => fixtures.png()],
    ] as const)('%s is the image problem (%i %s)', async (_, status, slug, bytes) => {
      const key = keys.objectKey(ann.user.id, 'garment', randomUUID(), 'jpg');
      const content = await bytes(key);
      if (typeof content !== 'string') await putObject(w.storage, key, content, 'image/jpeg');
      await expectProblem(await post('/api/upload/cloth', { key }), status, slug);
      await expectProblem(await post('/api/snap', { personKey: person, garmentKey: key }), status, slug);
    });
  });

  describe('Idempotency-Key', () => {
    const idem = (key: string) => ({ 'idempotency-key': key });

    it('a replay returns the original job (same status and body), one row and one XADD', async () => {
      const key = await storeImage(w.storage, ann.user.id, 'garment');
      const first = await post('/api/upload/cloth', { key }, ann.accessToken, idem('retry-1'));
      const firstBody = await accepted(first);
      expect(first.headers.get('idempotent-replayed')).toBeNull();
      const again = await post('/api/upload/cloth', { key }, ann.accessToken, idem('retry-1'));
      expect(await accepted(again)).toEqual(firstBody);
      expect(again.headers.get('idempotent-replayed')).toBe('true');
      expect(await jobRows()).toHaveLength(1);
      expect(await eventsOf(w.redis, keys.streams.segment, ann.user.id)).toHaveLength(1);
    });

    it('the same body with keys in another order is the same request', async () => {
      const personKey = await storeImage(w.storage, ann.user.id, 'person');
      const garmentKey = await storeImage(w.storage, ann.user.id, 'garment');
      const a = await accepted(await post('/api/snap', { personKey, garmentKey, seed: 3 }, ann.accessToken, idem('k')));
      const b = await accepted(
        await post('/api/snap', `{ "seed": 3, "garmentKey": "${garmentKey}", "personKey": "${personKey}" }`, ann.accessToken, idem('k')),
      );
      expect(b).toEqual(a);
    });

    it('the same key with another body or another route is a 422 idempotency-key-reused', async () => {
      const key = await storeImage(w.storage, ann.user.id, 'garment');
      const other = await storeImage(w.storage, ann.user.id, 'garment');
      await accepted(await post('/api/upload/cloth', { key }, ann.accessToken, idem('once')));
      await expectProblem(await post('/api/upload/cloth', { key: other }, ann.accessToken, idem('once')), 422, 'idempotency-key-reused');
      await expectProblem(await post('/api/segformer/segmentOutfitPic', { imageKey: key }, ann.accessToken, idem('once')), 422, 'idempotency-key-reused');
      expect(await jobRows()).toHaveLength(1);
    });

    it('keys are per user: the same key of two users makes two jobs', async () => {
      const annKey = await storeImage(w.storage, ann.user.id, 'garment');
      const bobKey = await storeImage(w.storage, bob.user.id, 'garment');
      const a = await accepted(await post('/api/upload/cloth', { key: annKey }, ann.accessToken, idem('shared')));
      const b = await accepted(await post('/api/upload/cloth', { key: bobKey }, bob.accessToken, idem('shared')));
      expect(a.job_id).not.toBe(b.job_id);
    });

    it('concurrent identical requests make one job and one XADD; every caller gets it', async () => {
      const personKey = await storeImage(w.storage, ann.user.id, 'person');
      const garmentKey = await storeImage(w.storage, ann.user.id, 'garment');
      const responses = await Promise.all(Array.from({ length: 6 }, () => post('/api/snap', { personKey, garmentKey }, ann.accessToken, idem('race'))));
      const bodies = await Promise.all(responses.map(accepted));
      expect(new Set(bodies.map((b) => b.job_id)).size).toBe(1);
      // the try-on and the person mask it waits for; the losers' mask requests were withdrawn
      const rows = await jobRows();
      expect(rows.map((r) => r.kind).sort()).toEqual(['segment', 'tryon']);
      expect(rows.find((r) => r.kind === 'tryon')?.id).toBe(bodies[0]?.job_id);
      expect(await w.database.db.selectFrom('vtons').selectAll().execute()).toHaveLength(1);
      const masks = await eventsOf(w.redis, keys.streams.segment, ann.user.id);
      expect(masks.map((e) => e.data)).toEqual([expect.objectContaining({ jobId: rows.find((r) => r.kind === 'segment')?.id, purpose: 'person-mask' })]);
      expect(await w.redis.xlen(keys.streams.jobs)).toBe(0);
    });

    it.each([
      ['an empty key', ''],
      ['256 characters', 'k'.repeat(256)],
      ['a control character', 'a\u0001b'],
    ])('%s is a 400', async (_, value) => {
      const key = await storeImage(w.storage, ann.user.id, 'garment');
      let response: Response;
      try {
        response = await post('/api/upload/cloth', { key }, ann.accessToken, idem(value));
      } catch {
        // fetch's Headers refuse control characters before anything is sent: also never a job
        return;
      }
      const problem = await expectProblem(response, 400, 'invalid-request');
      expect(problem.errors?.[0]?.path).toBe('Idempotency-Key');
      expect(await jobRows()).toEqual([]);
    });
  });
});

describe.each(['postgres', 'pglite'] as const)('Redis down at submit on %s', (kind) => {
  const cleanups = cleanupStack();
  let w: ApiWorld;
  beforeAll(async () => {
    // fails fast instead of waiting out the reconnect backoff; the XADD is refused all the same
    const down = new Redis(`redis://127.0.0.1:${await closedPort()}`, { enableOfflineQueue: false, maxRetriesPerRequest: 0 });
    down.on('error', () => {});
    cleanups.push(() => down.disconnect());
    w = await apiWorld(kind, cleanups, { producer: createProducer(down) });
  }, 60_000);
  afterAll(() => cleanups.run());

  it('answers 503 and leaves no job or VTON row', async () => {
    const ann = await signUp(w.app, 'ann@example.com');
    const key = await storeImage(w.storage, ann.user.id, 'garment');
    const created = (await (await w.app.request('/api/vtons', jsonInit('POST', { garmentKey: key }, ann.accessToken))).json()) as { id: string };
    const response = await w.app.request('/api/upload/cloth', jsonInit('POST', { key }, ann.accessToken));
    await expectProblem(response, 503, 'queue-unavailable');
    expect(response.headers.get('retry-after')).toBe('1');
    const segment = await w.app.request('/api/segformer/segmentOutfitPic', jsonInit('POST', { imageKey: key, vtonId: created.id }, ann.accessToken));
    await expectProblem(segment, 503, 'queue-unavailable');
    expect(await w.database.db.selectFrom('jobs').selectAll().execute()).toEqual([]);
    // the existing VTON is as it was: the status change rolled back with the job
    expect(await w.database.db.selectFrom('vtons').select(['id', 'status']).execute()).toEqual([{ id: created.id, status: 'draft' }]);
  }, 30_000);
});

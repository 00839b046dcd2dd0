/**
 * The people and things the security matrices act on, made over HTTP on the running stack:
 * an owner and another user (each with an access token, a refresh token and an API key), an
 * admin, the owner's verified garment and person images (uploaded through the presigned POST,
 * checked by /api/images/verify) and one job of the owner's. Every secret handed out is kept in
 * `secrets` for the log scan.
 */

import { keys } from '@proteus/eventing';
import type { Redis } from 'ioredis';
import { type Answer, password, type RequestOptions, request, Secrets, uniqueEmail } from './security-http.ts';

export interface Person {
  email: string;
  password: string;
  userId: string;
  token: string;
  refreshToken: string;
  /** an API key of this person's for the suite's own checks (listings), so they never count against the token's rate limit */
  observer: string;
}

export interface World {
  url: string;
  secrets: Secrets;
  redis: Redis;
  owner: Person;
  another: Person;
  admin: Person;
  ownerKey: string;
  ownerKeyId: string;
  anotherKey: string;
  garmentKey: string;
  personKey: string;
  /** a job of the owner's (the garment's segmentation) */
  jobId: string;
  call(method: string, path: string, options?: RequestOptions): Promise<Answer>;
  /** requests made, by credential (the most any one made shows the distance to the rate limit) */
  requests: Map<string, number>;
}

export class SetupError extends Error {}

/** The answer, or an error naming what failed when its status is not `status`. */
export function expectStatus(answer: Answer, status: number, what: string): Answer {
  if (answer.status !== status) throw new SetupError(`${what}: expected ${status}, got ${answer.status} ${answer.text.slice(0, 300)}`);
  return answer;
}

export async function signUpPerson(url: string, secrets: Secrets, label: string, email = uniqueEmail(label)): Promise<Person> {
  const pw = password();
  secrets.add('password', pw);
  const answer = expectStatus(await request(secrets, url, 'POST', '/api/auth/signup', { body: { email, password: pw } }), 201, `sign up ${label}`);
  const body = answer.json as { user: { id: string }; accessToken: string; refreshToken: string };
  const observer = expectStatus(
    await request(secrets, url, 'POST', '/api/api-keys', { token: body.accessToken, body: { name: 'observer' } }),
    201,
    `the observer key of ${label}`,
  );
  return {
    email,
    password: pw,
    userId: body.user.id,
    token: body.accessToken,
    refreshToken: body.refreshToken,
    observer: (observer.json as { key: string }).key,
  };
}

export async function createKey(world: Pick<World, 'call'>, token: string, name: string): Promise<{ key: string; id: string }> {
  const answer = expectStatus(await world.call('POST', '/api/api-keys', { token, body: { name } }), 201, `create key ${name}`);
  return answer.json as { key: string; id: string };
}

/** Presigned POST of `bytes` as the form says; the S3 server's answer. */
export async function postForm(
  presigned: { url: string; fields: Record<string, string> },
  bytes: Uint8Array,
  contentType: string,
  override: Record<string, string> = {},
) {
  const form = new FormData();
  for (const [k, v] of Object.entries({ ...presigned.fields, ...override })) form.append(k, v);
  form.append('file', new Blob([bytes], { type: contentType }));
  const response = await fetch(presigned.url, { method: 'POST', body: form, signal: AbortSignal.timeout(120_000) });
  const text = await response.text();
  return { status: response.status, text, code: /<Code>([^<]+)<\/Code>/.exec(text)?.[1] };
}

export interface Presigned {
  url: string;
  fields: Record<string, string>;
  key: string;
  maxBytes: number;
}

export async function presign(world: Pick<World, 'call'>, token: string, kind: 'garment' | 'person', contentType: string): Promise<Presigned> {
  const answer = await world.call('GET', `/api/images/presignedUpUrl?kind=${kind}&contentType=${encodeURIComponent(contentType)}`, { token });
  return expectStatus(answer, 200, 'presign').json as Presigned;
}

/** Uploads through the presigned POST and verifies; the verified copy's key. */
export async function uploadVerified(
  world: Pick<World, 'call'>,
  token: string,
  bytes: Uint8Array,
  kind: 'garment' | 'person',
  contentType: string,
): Promise<string> {
  const presigned = await presign(world, token, kind, contentType);
  const stored = await postForm(presigned, bytes, contentType);
  if (stored.status >= 300) throw new SetupError(`presigned POST: ${stored.status} ${stored.text.slice(0, 300)}`);
  const verified = await world.call('POST', '/api/images/verify', { token, body: { key: presigned.key, expectedType: contentType } });
  return (expectStatus(verified, 200, 'verify').json as { key: string }).key;
}

const queues = [keys.streams.jobs, keys.streams.segment];

/** The last entry id of each job queue: what a refused request may not add to. */
export async function queueMark(redis: Redis): Promise<Record<string, string>> {
  const mark: Record<string, string> = {};
  for (const stream of queues) {
    const last = (await redis.xrevrange(stream, '+', '-', 'COUNT', 1))[0];
    mark[stream] = last ? last[0] : '0-0';
  }
  return mark;
}

/** The job ids of the entries queued after `mark` (streams trim, so lengths would not do). */
export async function queuedSince(redis: Redis, mark: Record<string, string>): Promise<string[]> {
  const ids: string[] = [];
  for (const stream of queues) {
    for (const [, fields] of await redis.xrange(stream, `(${mark[stream]}`, '+')) {
      ids.push(/"jobId":"([^"]+)"/.exec(fields.join(' '))?.[1] ?? '(no jobId)');
    }
  }
  return ids;
}

/** Every job id the owner and another user can list (a waiting try-on is listed before it is queued). */
export async function knownJobs(w: Pick<World, 'call' | 'owner' | 'another'>): Promise<Set<string>> {
  const known = new Set<string>();
  for (const person of [w.owner, w.another]) {
    let cursor: string | null = null;
    for (;;) {
      const query: string = cursor ? `&cursor=${encodeURIComponent(cursor)}` : '';
      const answer = expectStatus(await w.call('GET', `/api/jobs?limit=100${query}`, { token: person.observer }), 200, 'the job listing');
      const page = answer.json as { items: { job_id: string }[]; nextCursor: string | null; hasMore: boolean };
      for (const item of page.items) known.add(item.job_id);
      if (!page.hasMore) break;
      cursor = page.nextCursor;
    }
  }
  return known;
}

/**
 * Runs `send` and says what it queued: entries of jobs nobody had before it. Entries of jobs
 * listed before (a try-on released when its person mask was made) are the system going on.
 */
export async function queuedBy<T>(
  w: Pick<World, 'call' | 'owner' | 'another' | 'redis'>,
  send: () => Promise<T>,
): Promise<{ result: T; queued: string[]; mark: Record<string, string> }> {
  const known = await knownJobs(w);
  const mark = await queueMark(w.redis);
  const result = await send();
  const queued = (await queuedSince(w.redis, mark)).filter((id) => !known.has(id));
  return { result, queued, mark };
}

export async function makeWorld(url: string, redis: Redis, adminEmail: string, images: { garmentPng: Uint8Array; personJpeg: Uint8Array }): Promise<World> {
  const secrets = new Secrets();
  const requests = new Map<string, number>();
  const call = (method: string, path: string, options?: RequestOptions) => {
    const credential = options?.token ?? '(none)';
    requests.set(credential, (requests.get(credential) ?? 0) + 1);
    return request(secrets, url, method, path, options);
  };
  const owner = await signUpPerson(url, secrets, 'owner');
  const another = await signUpPerson(url, secrets, 'another');
  const admin = await signUpPerson(url, secrets, 'admin', adminEmail);
  const partial = { call };
  const ownerKey = await createKey(partial, owner.token, 'owner shop');
  const anotherKey = await createKey(partial, another.token, 'another shop');
  const garmentKey = await uploadVerified(partial, owner.token, images.garmentPng, 'garment', 'image/png');
  const personKey = await uploadVerified(partial, owner.token, images.personJpeg, 'person', 'image/jpeg');
  const job = expectStatus(await call('POST', '/api/upload/cloth', { token: owner.token, body: { key: garmentKey } }), 202, 'the owner’s first job');
  return {
    url,
    secrets,
    redis,
    owner,
    another,
    admin,
    ownerKey: ownerKey.key,
    ownerKeyId: ownerKey.id,
    anotherKey: anotherKey.key,
    garmentKey,
    personKey,
    jobId: (job.json as { job_id: string }).job_id,
    call,
    requests,
  };
}

/**
 * Every Redis key, stream, group and channel name Proteus uses, and the object-storage key
 * layout. No other module (TypeScript or Python) spells one: Python reads the generated
 * contract.json, and a hook flags key literals outside this package.
 */

/** Streams: durable queues of CloudEvents, one field (`entryField`) per entry. */
export const streams = {
  /** try-on jobs: api -> gpu-worker */
  jobs: 'queue:jobs',
  /** segmentation requests: api -> eventing -> segment */
  segment: 'queue:segment',
  /** lifecycle events (completed, failed): segment, gpu-worker -> eventing -> api /events */
  lifecycle: 'events:jobs',
  /** dead letters, with reason and delivery count */
  dead: 'queue:dead',
} as const;

/** Consumer groups, one per consuming part. Created at `0` with MKSTREAM, never destroyed. */
export const groups = {
  weavers: 'weavers',
  tailors: 'tailors',
  recorders: 'recorders',
} as const;

/** Which group consumes which stream. */
export const streamGroups = {
  [streams.jobs]: groups.weavers,
  [streams.segment]: groups.tailors,
  [streams.lifecycle]: groups.recorders,
} as const;

/** Pub/Sub channels. */
export const channels = {
  /** user-facing updates; any realtime replica delivers them to the owner */
  jobDone: 'events:job_done',
} as const;

/** Plain string keys the arbitrator writes and the worker and ops view read. */
export const config = {
  batchSize: 'config:batch_size',
  degradedMode: 'config:degraded_mode',
  mode: 'config:mode',
  policy: 'config:policy',
} as const;

/**
 * What the arbitrator keeps besides `config`: `policyChanges`, a stream of its
 * `dev.proteus.policy.changed` events (one per change, appended in the same MULTI as the new
 * `config:*` values). It has no consumer group (the workers act on `config:*`, not on the event);
 * the ops view and bench read it with XREVRANGE, and the arbitrator caps it (XADD MAXLEN ~).
 */
export const arbitrator = {
  policyChanges: 'events:policy',
} as const;

/**
 * Keys the gpu-workers write for others to read. `profile` is a Hash: field
 * `<engine>:<WIDTHxHEIGHT>:<steps>:<batchSize>`, value JSON `{"seconds", "samples", "at"}`, the
 * exponentially weighted seconds one batch of that shape took; the arbitrator reads it.
 */
export const worker = {
  profile: 'worker:profile',
} as const;

/** The one field of a stream entry; it holds the CloudEvent as structured JSON. */
export const entryField = 'event';

/** Key templates: `{name}` stands for a parameter. Python formats the same strings. */
export const templates = {
  workerHeartbeat: 'worker:heartbeat:{consumer}',
  workerHeartbeatPattern: 'worker:heartbeat:*',
  objectKey: 'users/{userId}/{kind}/{id}.{ext}',
  /** a fixed-window request counter of one principal (or login target) in one scope */
  rateLimit: 'ratelimit:{scope}:{id}',
} as const;

/** A worker's liveness key; it expires unless the worker refreshes it. */
export function workerHeartbeat(consumer: string): string {
  assertSegment('consumer', consumer);
  return templates.workerHeartbeat.replace('{consumer}', consumer);
}

/**
 * What a rate limit counts: requests of a user (bearer token) or of an API key, and login
 * attempts per account and per client IP. E-mail addresses and IPs are passed as hashes: they
 * would not pass the id check, and a hash keeps them out of Redis.
 */
export const rateLimitScopes = ['user', 'api-key', 'login-account', 'login-ip'] as const;
export type RateLimitScope = (typeof rateLimitScopes)[number];

/** `ratelimit:<scope>:<id>` */
export function rateLimit(scope: RateLimitScope, id: string): string {
  if (!rateLimitScopes.includes(scope)) throw new RangeError(`rate limit scope ${JSON.stringify(scope)} is not one of ${rateLimitScopes.join(', ')}`);
  assertSegment('id', id);
  return templates.rateLimit.replace('{scope}', scope).replace('{id}', id);
}

/** What an object in storage is; each kind is a folder under the owner's prefix. */
export const objectKinds = ['garment', 'cloth_clean', 'person', 'mask', 'results'] as const;
export type ObjectKind = (typeof objectKinds)[number];

export const objectExtensions = ['jpg', 'png', 'webp'] as const;
export type ObjectExtension = (typeof objectExtensions)[number];

/** Characters allowed in an id that becomes part of a key (no `/`, no `..`). */
export const idPattern = /^[A-Za-z0-9][A-Za-z0-9_-]{0,127}$/;

/** Every object key this system writes; an uploaded key is checked against it. */
export const objectKeyPattern = new RegExp(
  `^users/${idPattern.source.slice(1, -1)}/(${objectKinds.join('|')})/${idPattern.source.slice(1, -1)}\\.(${objectExtensions.join('|')})$`,
);

/** `users/<userId>/<kind>/<id>.<ext>` */
export function objectKey(userId: string, kind: ObjectKind, id: string, ext: ObjectExtension): string {
  assertSegment('userId', userId);
  assertSegment('id', id);
  if (!objectKinds.includes(kind)) throw new RangeError(`object kind ${JSON.stringify(kind)} is not one of ${objectKinds.join(', ')}`);
  if (!objectExtensions.includes(ext)) throw new RangeError(`extension ${JSON.stringify(ext)} is not one of ${objectExtensions.join(', ')}`);
  return templates.objectKey.replace('{userId}', userId).replace('{kind}', kind).replace('{id}', id).replace('{ext}', ext);
}

/** Kinds a user uploads to through a presigned POST; every other kind only Proteus writes. */
export const uploadKinds = ['garment', 'person'] as const satisfies readonly ObjectKind[];

const VERIFIED_SUFFIX = '_verified';

/**
 * Where the api keeps the checked, re-encoded copy of an upload: `<id>_verified.<ext>` next to
 * `<id>.<ext>`. Uploads are presigned at fresh UUIDs, so no upload can land on such a key: once
 * written it changes only by Proteus. A key that is already not an upload answers itself.
 */
export function verifiedObjectKey(key: string): string {
  const match = objectKeyPattern.exec(key);
  if (!match) throw new RangeError(`${JSON.stringify(key)} is not an object key`);
  if (!isUploadMatch(key, match)) return key;
  const dot = key.lastIndexOf('.');
  return `${key.slice(0, dot)}${VERIFIED_SUFFIX}${key.slice(dot)}`;
}

const isUploadMatch = (key: string, match: RegExpExecArray) =>
  (uploadKinds as readonly ObjectKind[]).includes(match[1] as ObjectKind) &&
  !key.slice(key.lastIndexOf('/') + 1, key.lastIndexOf('.')).endsWith(VERIFIED_SUFFIX);

/** True for a key a user may have uploaded to (an upload kind, not a verified copy). */
export function isUploadKey(key: string): boolean {
  const match = objectKeyPattern.exec(key);
  return match !== null && isUploadMatch(key, match);
}

/** The prefix a user's uploads must stay under. */
export function userPrefix(userId: string): string {
  assertSegment('userId', userId);
  return `users/${userId}/`;
}

function assertSegment(name: string, value: string): void {
  if (!idPattern.test(value)) {
    throw new RangeError(`${name} ${JSON.stringify(value)} must match ${idPattern.source}`);
  }
}

/**
 * What the security suite needs to talk to the running stack from outside: one request helper
 * that never throws on a status (the matrices assert statuses), a ledger of every secret the
 * stack handed out or was given (tokens, refresh tokens, API keys, passwords, presigned URL and
 * POST policy signatures) for the log scan, forged JWTs, and hand-made hostile images.
 */
import { createHmac, randomUUID } from 'node:crypto';
import { deflateSync } from 'node:zlib';

export const PROBLEM_BASE = 'https://proteus.dev/problems/';

export interface Answer {
  status: number;
  contentType: string;
  text: string;
  /** the parsed body when it is JSON, else undefined */
  json: unknown;
  /** the problem's slug (`type` without the base) when the answer is problem+json */
  problem?: string;
}

/** Everything secret the suite has seen; the log scan looks for each value. */
export class Secrets {
  private readonly found = new Map<string, string>();

  add(kind: string, value: string | undefined | null) {
    if (value && value.length >= 8) this.found.set(value, kind);
  }

  /** A JWT, and its signature on its own (a log might keep only part of a token). */
  addJwt(kind: string, token: string | undefined) {
    if (!token) return;
    this.add(kind, token);
    this.add(`${kind} (signature part)`, token.split('.')[2]);
  }

  /** The X-Amz-Signature of a presigned URL (and the URL itself). */
  addUrl(kind: string, url: string | null | undefined) {
    if (!url || !URL.canParse(url)) return;
    const signature = new URL(url).searchParams.get('X-Amz-Signature');
    if (signature) {
      this.add(`${kind} signature`, signature);
      this.add(kind, url);
    }
  }

  /** Walks an answer for what is secret in it, by the names the api gives such values. */
  harvest(value: unknown, depth = 0): void {
    if (depth > 6 || value === null || typeof value !== 'object') return;
    if (Array.isArray(value)) {
      for (const item of value) this.harvest(item, depth + 1);
      return;
    }
    for (const [name, field] of Object.entries(value as Record<string, unknown>)) {
      if (typeof field === 'string') {
        if (name === 'accessToken') this.addJwt('access token', field);
        else if (name === 'refreshToken') this.add('refresh token', field);
        else if (name === 'key' && field.startsWith('prk_')) {
          this.add('API key', field);
          // prk_<uuid>_<secret>: the secret may hold `_` itself
          this.add('API key secret', field.slice('prk_'.length + 36 + 1));
        } else if (name === 'X-Amz-Signature') this.add('POST policy signature', field);
        else if (name === 'url' || name === 'result_url') this.addUrl('presigned URL', field);
      } else this.harvest(field, depth + 1);
    }
  }

  /** [kind, value] of each secret. */
  entries(): [string, string][] {
    return [...this.found].map(([value, kind]) => [kind, value]);
  }

  counts(): Record<string, number> {
    const counts: Record<string, number> = {};
    for (const kind of this.found.values()) counts[kind] = (counts[kind] ?? 0) + 1;
    return counts;
  }
}

export interface RequestOptions {
  token?: string | undefined;
  body?: unknown;
  /** sent as it is (a string or bytes), with `contentType` */
  raw?: string | Uint8Array;
  contentType?: string;
  headers?: Record<string, string>;
}

/** One HTTP request; the answer whatever its status. Secrets in the answer are recorded. */
export async function request(secrets: Secrets, url: string, method: string, path: string, options: RequestOptions = {}): Promise<Answer> {
  const headers: Record<string, string> = { ...(options.headers ?? {}) };
  if (options.token) headers.authorization = `Bearer ${options.token}`;
  let body: string | Uint8Array | undefined;
  if (options.raw !== undefined) {
    body = options.raw;
    if (options.contentType) headers['content-type'] = options.contentType;
  } else if (options.body !== undefined) {
    body = JSON.stringify(options.body);
    headers['content-type'] = options.contentType ?? 'application/json';
  }
  const response = await fetch(`${url}${path}`, {
    method,
    headers,
    body: body as NonNullable<Parameters<typeof fetch>[1]>['body'],
    signal: AbortSignal.timeout(60_000),
  });
  const text = await response.text();
  const contentType = response.headers.get('content-type') ?? '';
  let json: unknown;
  if (/json/.test(contentType) && text) {
    try {
      json = JSON.parse(text);
    } catch {
      json = undefined;
    }
  }
  secrets.harvest(json);
  const type = (json as { type?: unknown } | undefined)?.type;
  const problem =
    contentType.startsWith('application/problem+json') && typeof type === 'string' && type.startsWith(PROBLEM_BASE)
      ? type.slice(PROBLEM_BASE.length)
      : undefined;
  return { status: response.status, contentType, text, json, ...(problem ? { problem } : {}) };
}

const b64url = (value: string | Buffer) => Buffer.from(value).toString('base64url');

/** A JWT with the header and claims given, signed HS256 with `secret` (or unsigned for alg none). */
export function forgeJwt(header: Record<string, unknown>, claims: Record<string, unknown>, secret: string): string {
  const head = `${b64url(JSON.stringify(header))}.${b64url(JSON.stringify(claims))}`;
  if (header.alg === 'none') return `${head}.`;
  const algorithm = header.alg === 'HS512' ? 'sha512' : 'sha256';
  return `${head}.${createHmac(algorithm, secret).update(head).digest('base64url')}`;
}

/** The claims of a real access token of `userId`, `exp` seconds from now. */
export const accessClaims = (userId: string, expInS = 600) => {
  const now = Math.floor(Date.now() / 1000);
  return { sub: userId, role: 'user', typ: 'access', iat: now, exp: now + expInS };
};

function crc32(bytes: Buffer): number {
  let crc = 0xffffffff;
  for (const byte of bytes) {
    crc ^= byte;
    for (let k = 0; k < 8; k++) crc = (crc >>> 1) ^ (0xedb88320 & -(crc & 1));
  }
  return (crc ^ 0xffffffff) >>> 0;
}

function pngChunk(type: string, data: Buffer): Buffer {
  const length = Buffer.alloc(4);
  length.writeUInt32BE(data.length);
  const body = Buffer.concat([Buffer.from(type, 'ascii'), data]);
  const crc = Buffer.alloc(4);
  crc.writeUInt32BE(crc32(body));
  return Buffer.concat([length, body, crc]);
}

/**
 * A well-formed PNG that claims `width` x `height` RGB pixels (a pixel bomb): its header is
 * real, its data only the first rows, so it costs nothing to make or to send; a checker that
 * decodes before it counts pixels would try to allocate width*height*3 bytes.
 */
export function pixelBombPng(width: number, height: number): Buffer {
  const ihdr = Buffer.alloc(13);
  ihdr.writeUInt32BE(width, 0);
  ihdr.writeUInt32BE(height, 4);
  ihdr.set([8, 2, 0, 0, 0], 8);
  const rows = Buffer.alloc(4 * (1 + width * 3));
  return Buffer.concat([
    Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]),
    pngChunk('IHDR', ihdr),
    pngChunk('IDAT', deflateSync(rows)),
    pngChunk('IEND', Buffer.alloc(0)),
  ]);
}

export const uniqueEmail = (label: string) => `${label}-${randomUUID()}@example.org`;
export const password = () => `pw-${randomUUID()}`;

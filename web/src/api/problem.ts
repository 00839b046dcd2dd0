/**
 * Every way a request can fail, as one error the screens can show: the api's problem+json
 * (RFC 9457, stable `type` slugs), an answer that is not one (a proxy's 502 page), object
 * storage's XML errors on a presigned POST, and a server that does not answer at all.
 */

const PROBLEM_BASE = 'https://proteus.dev/problems/';

export type ErrorKind =
  /** no answer: network down, server stopped, DNS */
  | 'unreachable'
  /** sign in again */
  | 'unauthorized'
  | 'forbidden'
  | 'not-found'
  /** the request was refused as it is: fix the input */
  | 'invalid'
  | 'conflict'
  | 'too-large'
  | 'not-an-image'
  | 'rate-limited'
  /** the server failed (5xx) */
  | 'server';

export interface FieldError {
  path: string;
  message: string;
}

export interface ProblemDetails {
  type?: string;
  title?: string;
  status?: number;
  detail?: string;
  errors?: FieldError[];
}

export class ApiError extends Error {
  override name = 'ApiError';

  constructor(
    readonly kind: ErrorKind,
    message: string,
    readonly status = 0,
    /** the problem type's slug, e.g. `image-too-large`; empty when the answer was no problem+json */
    readonly slug = '',
    readonly fields: FieldError[] = [],
    /** seconds, from Retry-After */
    readonly retryAfterS?: number,
  ) {
    super(message);
  }
}

const slugKinds: Record<string, ErrorKind> = {
  'invalid-credentials': 'unauthorized',
  'invalid-refresh-token': 'unauthorized',
  unauthorized: 'unauthorized',
  forbidden: 'forbidden',
  'not-found': 'not-found',
  'job-not-found': 'not-found',
  'image-not-found': 'not-found',
  'email-taken': 'conflict',
  'idempotency-key-reused': 'conflict',
  'image-too-large': 'too-large',
  'body-too-large': 'too-large',
  'not-an-image': 'not-an-image',
  'image-type-mismatch': 'not-an-image',
  'image-empty': 'not-an-image',
  'image-truncated': 'not-an-image',
  'image-too-many-pixels': 'too-large',
  'unsupported-media-type': 'not-an-image',
  'rate-limited': 'rate-limited',
};

function kindOfStatus(status: number): ErrorKind {
  if (status === 401) return 'unauthorized';
  if (status === 403) return 'forbidden';
  if (status === 404) return 'not-found';
  if (status === 409) return 'conflict';
  if (status === 413) return 'too-large';
  if (status === 415) return 'not-an-image';
  if (status === 429) return 'rate-limited';
  if (status >= 500) return 'server';
  return 'invalid';
}

/** What a person reads for an error the problem does not word well enough on its own. */
const plainWords: Partial<Record<ErrorKind, string>> = {
  unreachable: 'The server does not answer. Check your connection; we keep trying.',
  server: 'Something went wrong on our side. Try again in a moment.',
  'rate-limited': 'Too many attempts. Wait a little and try again.',
};

export function retryAfterOf(headers: Headers): number | undefined {
  const value = headers.get('retry-after');
  if (value === null) return undefined;
  const seconds = Number(value);
  if (Number.isFinite(seconds) && seconds >= 0) return seconds;
  const at = Date.parse(value);
  return Number.isNaN(at) ? undefined : Math.max(0, Math.round((at - Date.now()) / 1000));
}

/** The ApiError for a non-2xx answer, from its status, headers and body text. */
export function errorFromResponse(status: number, headers: Headers, body: string): ApiError {
  const retryAfterS = retryAfterOf(headers);
  let problem: ProblemDetails | undefined;
  if (/json/.test(headers.get('content-type') ?? '')) {
    try {
      const parsed = JSON.parse(body) as unknown;
      if (parsed && typeof parsed === 'object') problem = parsed as ProblemDetails;
    } catch {
      // a broken body: the status decides
    }
  }
  const slug = typeof problem?.type === 'string' && problem.type.startsWith(PROBLEM_BASE) ? problem.type.slice(PROBLEM_BASE.length) : '';
  const kind = slugKinds[slug] ?? kindOfStatus(status);
  const fields = Array.isArray(problem?.errors) ? problem.errors.filter((e) => typeof e?.path === 'string' && typeof e?.message === 'string') : [];
  const words =
    kind === 'server' || kind === 'rate-limited'
      ? plainWords[kind]
      : [problem?.title, problem?.detail].filter((s): s is string => typeof s === 'string' && s.length > 0).join(': ') || `The server answered ${status}.`;
  return new ApiError(kind, words as string, status, slug, fields, retryAfterS);
}

/** A fetch that threw: the server could not be reached (an abort is passed on as it is). */
export function errorFromNetwork(error: unknown): ApiError | unknown {
  if (error instanceof DOMException && error.name === 'AbortError') return error;
  return new ApiError('unreachable', plainWords.unreachable as string);
}

/**
 * Object storage's answer to a refused presigned POST is S3's XML error: EntityTooLarge when
 * the file is over the policy's content-length-range, AccessDenied for a broken policy.
 */
export function errorFromStorage(status: number, body: string, maxBytes: number): ApiError {
  const code = /<Code>([^<]+)<\/Code>/.exec(body)?.[1] ?? '';
  if (code === 'EntityTooLarge' || status === 413) return new ApiError('too-large', `The file is larger than ${formatBytes(maxBytes)}.`, status, code);
  if (code === 'EntityTooSmall') return new ApiError('not-an-image', 'The file is empty.', status, code);
  if (status === 0) return new ApiError('unreachable', 'The upload could not reach the storage server.', 0);
  if (code === 'AccessDenied' || code === 'SignatureDoesNotMatch' || status === 403) {
    return new ApiError('forbidden', 'The upload was refused (its permission expired). Try again.', status, code);
  }
  return new ApiError(status >= 500 ? 'server' : 'invalid', `The upload failed (${code || status}).`, status, code);
}

export function formatBytes(bytes: number): string {
  if (bytes >= 1024 * 1024) return `${Math.round((bytes / (1024 * 1024)) * 10) / 10} MB`;
  if (bytes >= 1024) return `${Math.round(bytes / 1024)} KB`;
  return `${bytes} bytes`;
}

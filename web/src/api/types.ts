/** What the api answers, as docs/API.md and /api/openapi.json describe it (the fields the web app reads). */

export interface User {
  id: string;
  email: string;
  role: 'user' | 'admin';
  displayName: string | null;
  createdAt: string;
}

export interface Tokens {
  accessToken: string;
  refreshToken: string;
  /** seconds the access token is valid */
  expiresIn: number;
}

export interface SignedIn extends Tokens {
  user: User;
}

export type UploadKind = 'garment' | 'person';
export const imageContentTypes = ['image/jpeg', 'image/png', 'image/webp'] as const;
export type ImageContentType = (typeof imageContentTypes)[number];

export interface PresignedUpload {
  url: string;
  fields: Record<string, string>;
  key: string;
  expiresAt: string;
  maxBytes: number;
}

export interface VerifiedImage {
  key: string;
  format: string;
  width: number;
  height: number;
  bytes: number;
}

export type JobStatus = 'queued' | 'running' | 'completed' | 'failed';
export type JobKind = 'segment' | 'tryon';

export interface SubmittedJob {
  job_id: string;
  status: 'queued';
  kind: JobKind;
  vton_id: string | null;
}

/** GET /api/status/:job_id and the items of GET /api/jobs */
export interface JobView {
  job_id: string;
  status: JobStatus;
  kind: JobKind;
  vton_id: string | null;
  result_url: string | null;
  error: string | null;
  engine: string | null;
  resolution: string | null;
  waiting_for: string | null;
  enqueued_at: string | null;
  finished_at: string | null;
  updated_at: string | null;
}

export interface JobPage {
  items: JobView[];
  nextCursor: string | null;
  hasMore: boolean;
}

/** A message on the /updates WebSocket. */
export interface JobUpdate {
  type: 'job' | 'progress';
  userId: string;
  job_id: string;
  status: JobStatus | 'running';
  result_url: string | null;
  vton_id?: string | null;
  kind?: JobKind;
  error?: string;
  step?: number;
  steps?: number;
  engine?: string;
  resolution?: string;
}

export type VtonStatus = 'draft' | 'segmenting' | 'ready' | 'queued' | 'running' | 'completed' | 'failed';

export interface Vton {
  id: string;
  garmentKey: string | null;
  clothCleanKey: string | null;
  personKey: string | null;
  resultKey: string | null;
  status: VtonStatus;
  createdAt: string;
  updatedAt: string;
}

export interface VtonPage {
  items: Vton[];
  nextCursor: string | null;
}

export interface HealthCheck {
  status: 'ok' | 'error';
  latencyMs: number;
  detail?: string;
  error?: string;
}

export interface HealthReport {
  status: 'ok' | 'error';
  part: string;
  checks: Record<string, HealthCheck>;
}

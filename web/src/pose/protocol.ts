/**
 * Messages between the page and the pose worker. Pose inference runs in a worker so that the
 * preview renders at the display's rate while MediaPipe takes its tens of milliseconds per
 * frame; the page sends a frame whenever the worker is free.
 */
import type { Landmark } from '../preview/mesh.ts';

export type ToPoseWorker = { type: 'init'; wasmBaseUrl: string; taskUrl: string } | { type: 'frame'; frame: ImageBitmap; timestampMs: number; id: number };

export type FromPoseWorker =
  | { type: 'ready' }
  /** `id`: the frame that failed; without one, the model itself could not load */
  | { type: 'error'; message: string; id?: number }
  | { type: 'pose'; id: number; timestampMs: number; landmarks: Landmark[] | null; inferenceMs: number };

/** MediaPipe's landmark as the api's contract takes it: x, y, z, visibility in [0, 1] (no `presence`). */
export function contractLandmark(l: { x: number; y: number; z?: number; visibility?: number }): Landmark {
  const out: Landmark = { x: l.x, y: l.y };
  if (typeof l.z === 'number' && Number.isFinite(l.z)) out.z = l.z;
  if (typeof l.visibility === 'number' && Number.isFinite(l.visibility)) out.visibility = Math.min(1, Math.max(0, l.visibility));
  return out;
}

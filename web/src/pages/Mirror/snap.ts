/**
 * Snap: the frame on screen (unmirrored, full camera resolution) and its own landmarks (a
 * fresh detection of that very frame, not the smoothed preview's), checked like the worker
 * will check them; then the photo is uploaded as a `person` image and `POST /api/snap` queues
 * the try-on with the cleaned garment.
 */
import type { ApiClient } from '../../api/client.ts';
import type { SubmittedJob } from '../../api/types.ts';
import { uploadImage } from '../../api/upload.ts';
import type { PoseClient } from '../../pose/pose-client.ts';
import { checkTorso } from '../../pose/torso.ts';
import type { Landmark } from '../../preview/mesh.ts';
import { rememberSnap } from '../../stores/snaps.ts';

export type SnapPhase =
  | { phase: 'idle' }
  | { phase: 'countdown'; seconds: number }
  | { phase: 'capturing' }
  | { phase: 'uploading'; fraction: number }
  | { phase: 'submitting' }
  | { phase: 'queued'; job: SubmittedJob; photoUrl: string }
  | { phase: 'failed'; error: Error };

export class SnapProblem extends Error {
  override name = 'SnapProblem';
}

export interface Captured {
  blob: Blob;
  bitmap: ImageBitmap;
  width: number;
  height: number;
}

export async function captureFrame(source: HTMLVideoElement | HTMLCanvasElement): Promise<Captured> {
  const width = source instanceof HTMLVideoElement ? source.videoWidth : source.width;
  const height = source instanceof HTMLVideoElement ? source.videoHeight : source.height;
  if (!width || !height) throw new SnapProblem('The camera has no picture yet.');
  const canvas = document.createElement('canvas');
  canvas.width = width;
  canvas.height = height;
  const context = canvas.getContext('2d');
  if (!context) throw new SnapProblem('This browser cannot capture the picture.');
  context.drawImage(source, 0, 0, width, height);
  const blob = await new Promise<Blob | null>((resolve) => canvas.toBlob(resolve, 'image/jpeg', 0.92));
  if (!blob) throw new SnapProblem('This browser cannot capture the picture.');
  return { blob, bitmap: await createImageBitmap(canvas), width, height };
}

export async function landmarksOf(pose: PoseClient, captured: Captured): Promise<Landmark[]> {
  const result = await pose.detect(captured.bitmap, performance.now());
  const check = checkTorso(result.landmarks ?? undefined, captured.width, captured.height);
  if (!check.ok || !result.landmarks) {
    throw new SnapProblem(
      `We could not see your shoulders and hips in that picture (${check.ok ? 'no pose' : check.reason}). Face the camera, step back a little, and try again.`,
    );
  }
  return result.landmarks;
}

export async function submitSnap(
  api: ApiClient,
  { captured, landmarks, garmentKey, onProgress }: { captured: Captured; landmarks: Landmark[]; garmentKey: string; onProgress: (fraction: number) => void },
): Promise<SubmittedJob> {
  const file = new File([captured.blob], `snap-${Date.now()}.jpg`, { type: 'image/jpeg' });
  const person = await uploadImage(api, file, 'person', { onProgress });
  const job = await api.request<SubmittedJob>('POST', '/api/snap', {
    body: { personKey: person.key, garmentKey, landmarks },
    headers: { 'idempotency-key': crypto.randomUUID() },
  });
  rememberSnap(job.job_id, { personKey: person.key, garmentKey, at: new Date().toISOString() });
  return job;
}

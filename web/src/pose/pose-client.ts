/** The page's side of the pose worker: one frame in flight at a time, answers matched by id. */
import { poseTaskUrl, wasmBaseUrl } from 'virtual:mirror-assets';
import type { Landmark } from '../preview/mesh.ts';
import type { FromPoseWorker, ToPoseWorker } from './protocol.ts';

export interface PoseResult {
  timestampMs: number;
  landmarks: Landmark[] | null;
  inferenceMs: number;
}

export interface PoseClient {
  readonly ready: Promise<void>;
  readonly busy: boolean;
  detect(frame: ImageBitmap, timestampMs: number): Promise<PoseResult>;
  close(): void;
}

export function createPoseClient(): PoseClient {
  // a classic worker: tasks-vision loads its wasm glue with importScripts
  const worker = new Worker(new URL('./pose.worker.ts', import.meta.url));
  const pending = new Map<number, { resolve: (r: PoseResult) => void; reject: (e: Error) => void }>();
  let nextId = 1;
  let settleReady: { resolve: () => void; reject: (e: Error) => void } | undefined;
  const ready = new Promise<void>((resolve, reject) => {
    settleReady = { resolve, reject };
  });

  const failAll = (error: Error) => {
    settleReady?.reject(error);
    for (const p of pending.values()) p.reject(error);
    pending.clear();
  };

  worker.onmessage = (event: MessageEvent<FromPoseWorker>) => {
    const m = event.data;
    if (m.type === 'ready') settleReady?.resolve();
    else if (m.type === 'error' && m.id !== undefined) {
      pending.get(m.id)?.reject(new Error(m.message));
      pending.delete(m.id);
    } else if (m.type === 'error') failAll(new Error(m.message));
    else {
      const p = pending.get(m.id);
      pending.delete(m.id);
      p?.resolve({ timestampMs: m.timestampMs, landmarks: m.landmarks, inferenceMs: m.inferenceMs });
    }
  };
  worker.onerror = (event) => failAll(new Error(event.message || 'the pose worker failed to load'));
  worker.postMessage({ type: 'init', wasmBaseUrl, taskUrl: poseTaskUrl } satisfies ToPoseWorker);

  return {
    ready,
    get busy() {
      return pending.size > 0;
    },
    async detect(frame, timestampMs) {
      try {
        await ready;
      } catch (error) {
        frame.close();
        throw error;
      }
      const id = nextId++;
      return new Promise<PoseResult>((resolve, reject) => {
        pending.set(id, { resolve, reject });
        worker.postMessage({ type: 'frame', frame, timestampMs, id } satisfies ToPoseWorker, [frame]);
      });
    },
    close() {
      failAll(new Error('closed'));
      worker.terminate();
    },
  };
}

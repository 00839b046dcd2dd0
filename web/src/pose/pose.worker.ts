/**
 * The pose worker: MediaPipe's PoseLandmarker in VIDEO mode on the CPU, loaded from our own
 * server (the wasm runtime and the `.task` bundle the build makes). A classic worker, since
 * tasks-vision loads its wasm glue with importScripts there.
 */
import { FilesetResolver, PoseLandmarker } from '@mediapipe/tasks-vision';
import { contractLandmark, type FromPoseWorker, type ToPoseWorker } from './protocol.ts';

const scope = self as unknown as { onmessage: ((e: MessageEvent<ToPoseWorker>) => void) | null; postMessage(m: FromPoseWorker): void };
let landmarker: PoseLandmarker | undefined;
let lastTimestamp = -1;

async function init(wasmBaseUrl: string, taskUrl: string) {
  const fileset = await FilesetResolver.forVisionTasks(new URL(wasmBaseUrl, self.location.href).href);
  landmarker = await PoseLandmarker.createFromOptions(fileset, {
    baseOptions: { modelAssetPath: new URL(taskUrl, self.location.href).href, delegate: 'CPU' },
    runningMode: 'VIDEO',
    numPoses: 1,
    minPoseDetectionConfidence: 0.5,
    minPosePresenceConfidence: 0.5,
    minTrackingConfidence: 0.5,
    outputSegmentationMasks: false,
  });
}

scope.onmessage = (event) => {
  const message = event.data;
  if (message.type === 'init') {
    init(message.wasmBaseUrl, message.taskUrl).then(
      () => scope.postMessage({ type: 'ready' }),
      (error: unknown) => scope.postMessage({ type: 'error', message: error instanceof Error ? error.message : String(error) }),
    );
    return;
  }
  const { frame, id } = message;
  try {
    if (!landmarker) throw new Error('the pose model is not loaded yet');
    // VIDEO mode needs strictly increasing timestamps
    const timestampMs = Math.max(message.timestampMs, lastTimestamp + 1);
    lastTimestamp = timestampMs;
    const started = performance.now();
    const result = landmarker.detectForVideo(frame, timestampMs);
    const inferenceMs = performance.now() - started;
    const pose = result.landmarks[0];
    scope.postMessage({ type: 'pose', id, timestampMs: message.timestampMs, landmarks: pose ? pose.map(contractLandmark) : null, inferenceMs });
  } catch (error) {
    scope.postMessage({ type: 'error', id, message: error instanceof Error ? error.message : String(error) });
  } finally {
    frame.close();
  }
};

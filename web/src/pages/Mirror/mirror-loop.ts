/**
 * The mirror's frame loop. Every display frame: the garment mesh follows the latest smoothed
 * pose and the scene renders (that pair is the "frame cost" the stats measure). Independently,
 * whenever the pose worker is free, the current camera frame goes to it; its answer, checked
 * (pose/torso.ts) and smoothed, becomes the pose the next frames draw. A pose lost for longer
 * than `lostAfterMs` hides the garment.
 */

import type { PoseClient } from '../../pose/pose-client.ts';
import { createLandmarkSmoother } from '../../pose/smoothing.ts';
import { checkTorso } from '../../pose/torso.ts';
import { createFrameStats, type FrameFigures } from '../../preview/frame-stats.ts';
import type { Landmark } from '../../preview/mesh.ts';
import type { MirrorScene } from '../../preview/scene.ts';

export type PoseState = { tracking: true } | { tracking: false; reason: string };

export interface MirrorLoop {
  stop(): void;
  figures(): FrameFigures;
  /** the raw landmarks of the most recent frame the worker saw, and its size */
  latest(): { landmarks: Landmark[] | null; width: number; height: number } | undefined;
  /** pauses sending frames (a snap has the worker), resolves when none is in flight */
  pause(): Promise<void>;
  resume(): void;
}

export function startMirrorLoop({
  source,
  scene,
  pose,
  onPose,
  onFigures,
  lostAfterMs = 250,
}: {
  source: HTMLVideoElement;
  scene: MirrorScene;
  pose: PoseClient;
  onPose: (state: PoseState) => void;
  onFigures?: (figures: FrameFigures) => void;
  lostAfterMs?: number;
}): MirrorLoop {
  const smoother = createLandmarkSmoother();
  const stats = createFrameStats();
  let shown: Landmark[] | undefined;
  let lastGood = -Infinity;
  let inFlight: Promise<void> | undefined;
  let paused = false;
  let stopped = false;
  let raf = 0;
  let lastSentTime = -1;
  let latest: { landmarks: Landmark[] | null; width: number; height: number } | undefined;
  let lastReport = 0;
  let lastState = '';

  const report = (state: PoseState) => {
    const key = state.tracking ? 'tracking' : state.reason;
    if (key === lastState) return;
    lastState = key;
    onPose(state);
  };

  function send(now: number) {
    if (inFlight || paused || source.readyState < 2 || source.currentTime === lastSentTime) return;
    lastSentTime = source.currentTime;
    const width = source.videoWidth;
    const height = source.videoHeight;
    inFlight = createImageBitmap(source)
      .then((frame) => pose.detect(frame, now))
      .then((result) => {
        stats.inference(result.inferenceMs);
        latest = { landmarks: result.landmarks, width, height };
        const check = checkTorso(result.landmarks ?? undefined, width, height);
        if (check.ok && result.landmarks) {
          shown = smoother.smooth(result.landmarks, result.timestampMs);
          lastGood = result.timestampMs;
          report({ tracking: true });
        } else if (result.timestampMs - lastGood > lostAfterMs) {
          shown = undefined;
          smoother.reset();
          report({ tracking: false, reason: check.ok ? 'no pose' : check.reason });
        }
      })
      .catch(() => {
        // a frame the worker could not take (closing, a decode hiccup): the next one will do
      })
      .finally(() => {
        inFlight = undefined;
      });
  }

  function tick(now: number) {
    if (stopped) return;
    raf = requestAnimationFrame(tick);
    if (source.readyState < 2 || !source.videoWidth) return;
    scene.setFrameSize(source.videoWidth, source.videoHeight);
    send(now);
    const started = performance.now();
    scene.setPose(shown);
    scene.render();
    stats.frame(performance.now() - started, now);
    if (onFigures && now - lastReport > 500) {
      lastReport = now;
      onFigures(stats.figures());
    }
  }
  raf = requestAnimationFrame(tick);

  return {
    stop() {
      stopped = true;
      cancelAnimationFrame(raf);
    },
    figures: () => stats.figures(),
    latest: () => latest,
    async pause() {
      paused = true;
      await inFlight;
    },
    resume() {
      paused = false;
    },
  };
}

/**
 * Smoothing of the pose landmarks against jitter, with the 1€ filter (Casiez, Roussel and Vogel,
 * CHI 2012): a low-pass filter whose cutoff rises with speed, so a still shopper's garment stops
 * trembling while a moving one's follows without visible lag. Timestamps are the frames' own
 * (ms), never the clock; a gap longer than `resetAfterMs` (the pose was lost) starts afresh
 * rather than gliding from where the body was.
 */
import type { Landmark } from '../preview/mesh.ts';

export interface OneEuroSettings {
  /** Hz: the cutoff at rest; lower is smoother */
  minCutoff: number;
  /** how fast the cutoff grows with speed (per unit/s); higher is less lag */
  beta: number;
  /** Hz: cutoff of the speed estimate */
  derivativeCutoff: number;
}

/** Tuned for normalized landmark coordinates at 15 to 60 frames per second. */
export const defaultSmoothing: OneEuroSettings = { minCutoff: 1.5, beta: 4, derivativeCutoff: 1 };

const alpha = (cutoffHz: number, dtS: number) => {
  const tau = 1 / (2 * Math.PI * cutoffHz);
  return 1 / (1 + tau / dtS);
};

export interface OneEuroFilter {
  filter(value: number, timestampMs: number): number;
  reset(): void;
}

export function createOneEuroFilter(settings: OneEuroSettings = defaultSmoothing): OneEuroFilter {
  let last: { value: number; derivative: number; t: number } | undefined;
  return {
    filter(value, timestampMs) {
      if (!last || timestampMs <= last.t) {
        // first sample, or a timestamp that does not move forward: take the value as it is
        if (!last) last = { value, derivative: 0, t: timestampMs };
        else last = { ...last, value };
        return value;
      }
      const dt = (timestampMs - last.t) / 1000;
      const derivative = (value - last.value) / dt;
      const d = last.derivative + alpha(settings.derivativeCutoff, dt) * (derivative - last.derivative);
      const cutoff = settings.minCutoff + settings.beta * Math.abs(d);
      const smoothed = last.value + alpha(cutoff, dt) * (value - last.value);
      last = { value: smoothed, derivative: d, t: timestampMs };
      return smoothed;
    },
    reset() {
      last = undefined;
    },
  };
}

export interface LandmarkSmoother {
  /** The smoothed copy of `landmarks` (x and y filtered, visibility and z passed through). */
  smooth(landmarks: readonly Landmark[], timestampMs: number): Landmark[];
  reset(): void;
}

export function createLandmarkSmoother(settings: OneEuroSettings = defaultSmoothing, resetAfterMs = 500): LandmarkSmoother {
  let filters: { x: OneEuroFilter; y: OneEuroFilter }[] = [];
  let lastT: number | undefined;
  const reset = () => {
    filters = [];
    lastT = undefined;
  };
  return {
    smooth(landmarks, timestampMs) {
      if (lastT !== undefined && timestampMs - lastT > resetAfterMs) reset();
      if (filters.length !== landmarks.length) {
        filters = landmarks.map(() => ({ x: createOneEuroFilter(settings), y: createOneEuroFilter(settings) }));
      }
      lastT = timestampMs;
      return landmarks.map((l, i) => {
        const f = filters[i] as { x: OneEuroFilter; y: OneEuroFilter };
        return { ...l, x: f.x.filter(l.x, timestampMs), y: f.y.filter(l.y, timestampMs) };
      });
    },
    reset,
  };
}

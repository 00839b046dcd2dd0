/**
 * Synthetic inputs for post-processing tests: logits whose label map is known, a seeded random
 * source, and the plain (shortcut-free) upsample-then-argmax the fast label map must equal.
 */
import type { Logits } from '../src/post/label-map.ts';

export const CLASSES = 18;

/** Mulberry32: the same numbers for the same seed. */
export function random(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Logits that are 10 for the label given by `labelAt(x, y)` and 0 for every other class. */
export function oneHotLogits(width: number, height: number, labelAt: (x: number, y: number) => number): Logits {
  const data = new Float32Array(CLASSES * width * height);
  for (let y = 0; y < height; y++) for (let x = 0; x < width; x++) data[labelAt(x, y) * width * height + y * width + x] = 10;
  return { data, classes: CLASSES, height, width };
}

export function randomLogits(width: number, height: number, seed: number, classes = CLASSES): Logits {
  const next = random(seed);
  const data = new Float32Array(classes * width * height);
  for (let i = 0; i < data.length; i++) data[i] = next() * 8 - 4;
  return { data, classes, height, width };
}

/** PyTorch's bilinear interpolate (align_corners=False) of every class at every pixel, then argmax. */
export function referenceLabelMap({ data, classes, width: w, height: h }: Logits, width: number, height: number): Uint8Array {
  const source = (o: number, outSize: number, inSize: number) => {
    const s = Math.max(0, (o + 0.5) * (inSize / outSize) - 0.5);
    const i0 = Math.min(Math.floor(s), inSize - 1);
    const i1 = Math.min(i0 + 1, inSize - 1);
    return { i0, i1, f: i0 === inSize - 1 ? 0 : s - i0 };
  };
  const out = new Uint8Array(width * height);
  const plane = w * h;
  for (let y = 0; y < height; y++) {
    const sy = source(y, height, h);
    for (let x = 0; x < width; x++) {
      const sx = source(x, width, w);
      let best = 0;
      let bestValue = Number.NEGATIVE_INFINITY;
      for (let c = 0; c < classes; c++) {
        const at = (yy: number, xx: number) => data[c * plane + yy * w + xx]!;
        const v =
          (1 - sx.f) * (1 - sy.f) * at(sy.i0, sx.i0) +
          sx.f * (1 - sy.f) * at(sy.i0, sx.i1) +
          (1 - sx.f) * sy.f * at(sy.i1, sx.i0) +
          sx.f * sy.f * at(sy.i1, sx.i1);
        if (v > bestValue) {
          bestValue = v;
          best = c;
        }
      }
      out[y * width + x] = best;
    }
  }
  return out;
}

/** A label map drawn from rectangles, later ones over earlier ones: [label, x, y, width, height]. */
export function drawLabels(width: number, height: number, rects: [number, number, number, number, number][]): Uint8Array {
  const labels = new Uint8Array(width * height);
  for (const [label, x0, y0, w, h] of rects) {
    for (let y = y0; y < y0 + h; y++) for (let x = x0; x < x0 + w; x++) labels[y * width + x] = label;
  }
  return labels;
}

/**
 * Logits to a full-resolution label map: bilinear upsampling (PyTorch's `interpolate(...,
 * mode='bilinear', align_corners=False)`, as transformers' post-processing does) followed by
 * argmax, without materialising the upsampled logits (18 channels at full resolution would
 * be the costliest pass of a request).
 *
 * Exact shortcut: a pixel's upsampled logits are a convex combination of its four source
 * neighbours'. When all four have the same argmax k, k stays the argmax of the combination
 * (ties included: argmax takes the first index, and strict and non-strict inequalities both
 * survive a convex combination). So only pixels between source cells that disagree, the
 * boundaries, are interpolated class by class.
 */

/** Logits as the model gives them: [classes, height, width] (one image of an NCHW batch). */
export interface Logits {
  data: Float32Array;
  classes: number;
  height: number;
  width: number;
}

/** Source coordinates of each output index along one axis (align_corners=False, clamped at 0). */
function axis(outSize: number, inSize: number): { i0: Int32Array; i1: Int32Array; f: Float64Array } {
  const i0 = new Int32Array(outSize);
  const i1 = new Int32Array(outSize);
  const f = new Float64Array(outSize);
  const scale = inSize / outSize;
  for (let o = 0; o < outSize; o++) {
    const s = Math.max(0, (o + 0.5) * scale - 0.5);
    const lo = Math.min(Math.floor(s), inSize - 1);
    i0[o] = lo;
    i1[o] = Math.min(lo + 1, inSize - 1);
    f[o] = lo === inSize - 1 ? 0 : s - lo;
  }
  return { i0, i1, f };
}

/** Argmax over classes at each source position (first index wins ties). */
export function argmaxLogits({ data, classes, height, width }: Logits): Uint8Array {
  const plane = height * width;
  const labels = new Uint8Array(plane);
  const best = Float32Array.from(data.subarray(0, plane));
  for (let c = 1; c < classes; c++) {
    const offset = c * plane;
    for (let p = 0; p < plane; p++) {
      const v = data[offset + p]!;
      if (v > best[p]!) {
        best[p] = v;
        labels[p] = c;
      }
    }
  }
  return labels;
}

/** The label of every pixel of a `width` x `height` image. */
export function labelMap(logits: Logits, width: number, height: number): Uint8Array {
  const { data, classes, width: w, height: h } = logits;
  if (data.length !== classes * w * h) throw new RangeError(`logits hold ${data.length} values, ${classes}x${h}x${w} expected`);
  if (classes > 256) throw new RangeError(`${classes} classes do not fit a byte label map`);
  const low = argmaxLogits(logits);
  const xs = axis(width, w);
  const ys = axis(height, h);
  const plane = w * h;
  const out = new Uint8Array(width * height);
  for (let y = 0; y < height; y++) {
    const r0 = ys.i0[y]! * w;
    const r1 = ys.i1[y]! * w;
    const fy = ys.f[y]!;
    const row = y * width;
    for (let x = 0; x < width; x++) {
      const x0 = xs.i0[x]!;
      const x1 = xs.i1[x]!;
      const a = low[r0 + x0]!;
      if (a === low[r0 + x1] && a === low[r1 + x0] && a === low[r1 + x1]) {
        out[row + x] = a;
        continue;
      }
      const fx = xs.f[x]!;
      const w00 = (1 - fx) * (1 - fy);
      const w01 = fx * (1 - fy);
      const w10 = (1 - fx) * fy;
      const w11 = fx * fy;
      let bestClass = 0;
      let bestValue = Number.NEGATIVE_INFINITY;
      for (let c = 0, o = 0; c < classes; c++, o += plane) {
        const v = w00 * data[o + r0 + x0]! + w01 * data[o + r0 + x1]! + w10 * data[o + r1 + x0]! + w11 * data[o + r1 + x1]!;
        if (v > bestValue) {
          bestValue = v;
          bestClass = c;
        }
      }
      out[row + x] = bestClass;
    }
  }
  return out;
}

/**
 * The garment mesh, shared with the GPU worker's warp engine: docs/WORKER.md ("The garment
 * mesh") defines it and gpu-worker/proteus_worker/engines/mesh.py evaluates it exactly, so the
 * live preview shows the garment where a warp result will put it. Pixels of the camera frame,
 * x right, y down; landmarks are MediaPipe's normalized ones times (width, height).
 */

export interface Point {
  x: number;
  y: number;
}

/** A MediaPipe pose landmark (normalized image coordinates). */
export interface Landmark {
  x: number;
  y: number;
  z?: number;
  visibility?: number;
}

export const LEFT_SHOULDER = 11;
export const RIGHT_SHOULDER = 12;
export const LEFT_HIP = 23;
export const RIGHT_HIP = 24;

/** each top corner lies this fraction of the shoulder width beyond its shoulder */
export const SHOULDER_OUT = 0.25;
/** each bottom corner lies this fraction of the hip width beyond its hip */
export const HIP_OUT = 0.35;
/** the top edge is raised this fraction of the shoulder-to-hip vector above the shoulders */
export const COLLAR_UP = 0.1;
/** the bottom edge is lowered this fraction of the shoulder-to-hip vector below the hips */
export const HEM_DOWN = 0.1;
/** segments per side of the plane (WORKER.md: `PlaneGeometry(1, 1, 16, 16)`) */
export const MESH_SEGMENTS = 16;

/** top-left, top-right, bottom-right, bottom-left, in pixels */
export type Quad = [Point, Point, Point, Point];

const px = (l: Landmark, width: number, height: number): Point => ({ x: l.x * width, y: l.y * height });

/**
 * Where the garment's corners go. The garment photo faces the camera, so its image-left side is
 * the wearer's right: the top-left corner goes beyond the right shoulder (landmark 12).
 */
export function garmentQuad(landmarks: readonly Landmark[], width: number, height: number): Quad {
  const get = (i: number) => {
    const l = landmarks[i];
    if (!l) throw new RangeError(`landmark ${i} is missing (got ${landmarks.length} landmarks)`);
    return px(l, width, height);
  };
  const rs = get(RIGHT_SHOULDER);
  const ls = get(LEFT_SHOULDER);
  const rh = get(RIGHT_HIP);
  const lh = get(LEFT_HIP);
  const s = { x: ls.x - rs.x, y: ls.y - rs.y };
  const h = { x: lh.x - rh.x, y: lh.y - rh.y };
  const d = { x: (rh.x + lh.x) / 2 - (rs.x + ls.x) / 2, y: (rh.y + lh.y) / 2 - (rs.y + ls.y) / 2 };
  return [
    { x: rs.x - SHOULDER_OUT * s.x - COLLAR_UP * d.x, y: rs.y - SHOULDER_OUT * s.y - COLLAR_UP * d.y },
    { x: ls.x + SHOULDER_OUT * s.x - COLLAR_UP * d.x, y: ls.y + SHOULDER_OUT * s.y - COLLAR_UP * d.y },
    { x: lh.x + HIP_OUT * h.x + HEM_DOWN * d.x, y: lh.y + HIP_OUT * h.y + HEM_DOWN * d.y },
    { x: rh.x - HIP_OUT * h.x + HEM_DOWN * d.x, y: rh.y - HIP_OUT * h.y + HEM_DOWN * d.y },
  ];
}

/** The bilinear patch: garment point (u, v) in [0, 1]^2 (u right, v down) to a frame pixel. */
export function bilinearPoint(quad: Quad, u: number, v: number): Point {
  const [a, b, c, d] = quad;
  const wa = (1 - u) * (1 - v);
  const wb = u * (1 - v);
  const wc = u * v;
  const wd = (1 - u) * v;
  return { x: wa * a.x + wb * b.x + wc * c.x + wd * d.x, y: wa * a.y + wb * b.y + wc * c.y + wd * d.y };
}

/**
 * Vertex positions (x, y, 0) for three.js's `PlaneGeometry(1, 1, segments, segments)`, in its
 * vertex order (rows top to bottom, columns left to right): the vertex at texture UV (u, v) goes
 * to P(u, 1 - v), texture v running up. Writes into `out` when given (no allocation per frame).
 */
export function meshPositions(
  quad: Quad,
  segments = MESH_SEGMENTS,
  out: Float32Array<ArrayBufferLike> = new Float32Array((segments + 1) * (segments + 1) * 3),
): Float32Array<ArrayBufferLike> {
  const n = segments + 1;
  if (out.length !== n * n * 3) throw new RangeError(`expected ${n * n * 3} position values, got ${out.length}`);
  const [a, b, c, d] = quad;
  let i = 0;
  for (let row = 0; row < n; row++) {
    const v = row / segments;
    // the patch's left and right edges at this v, then a straight line between them: P(u, v)
    const lx = a.x + (d.x - a.x) * v;
    const ly = a.y + (d.y - a.y) * v;
    const rx = b.x + (c.x - b.x) * v;
    const ry = b.y + (c.y - b.y) * v;
    for (let col = 0; col < n; col++) {
      const u = col / segments;
      out[i++] = lx + (rx - lx) * u;
      out[i++] = ly + (ry - ly) * u;
      out[i++] = 0;
    }
  }
  return out;
}

/**
 * Whether a pose shows a torso the garment can be put on: the preview hides the garment and
 * Snap waits when it does not. The geometric checks are the warp engine's
 * (gpu-worker/proteus_worker/engines/landmarks.py), so a snap the preview accepts is one the
 * worker accepts; the visibility floor is the preview's own (a torso MediaPipe only guesses).
 */
import { garmentQuad, type Landmark, LEFT_HIP, LEFT_SHOULDER, type Point, RIGHT_HIP, RIGHT_SHOULDER } from '../preview/mesh.ts';

export const POSE_LANDMARKS = 33;
/** a torso landmark may lie this far outside the frame (a fraction of its size), no farther */
export const MARGIN = 0.25;
/** the torso quad must cover at least this fraction of the frame */
export const MIN_TORSO_AREA = 0.005;
/**
 * below this visibility a torso landmark counts as not seen. Lower than MediaPipe's usual 0.5:
 * in a mirror framing the hips are often at the frame's bottom edge, where their visibility
 * sits around 0.5 while their position is still good.
 */
export const MIN_VISIBILITY = 0.3;

const TORSO: [string, number][] = [
  ['left shoulder', LEFT_SHOULDER],
  ['right shoulder', RIGHT_SHOULDER],
  ['left hip', LEFT_HIP],
  ['right hip', RIGHT_HIP],
];

export type TorsoCheck = { ok: true } | { ok: false; reason: string };

export function polygonArea(points: readonly Point[]): number {
  let total = 0;
  for (let i = 0; i < points.length; i++) {
    const a = points[i] as Point;
    const b = points[(i + 1) % points.length] as Point;
    total += a.x * b.y - b.x * a.y;
  }
  return Math.abs(total) / 2;
}

/** True when the polygon turns the same way at every corner (no crossing, no fold). */
export function isConvex(points: readonly Point[]): boolean {
  const signs = new Set<boolean>();
  const n = points.length;
  for (let i = 0; i < n; i++) {
    const a = points[i] as Point;
    const b = points[(i + 1) % n] as Point;
    const c = points[(i + 2) % n] as Point;
    const cross = (b.x - a.x) * (c.y - b.y) - (b.y - a.y) * (c.x - b.x);
    if (cross === 0) return false;
    signs.add(cross > 0);
  }
  return signs.size === 1;
}

export function checkTorso(landmarks: readonly Landmark[] | undefined, width: number, height: number): TorsoCheck {
  if (!landmarks) return { ok: false, reason: 'no pose' };
  if (landmarks.length !== POSE_LANDMARKS) return { ok: false, reason: `${landmarks.length} landmarks, ${POSE_LANDMARKS} expected` };
  for (const [name, index] of TORSO) {
    const l = landmarks[index] as Landmark;
    if (!Number.isFinite(l.x) || !Number.isFinite(l.y)) return { ok: false, reason: `${name} is not a finite point` };
    if (l.x < -MARGIN || l.x > 1 + MARGIN || l.y < -MARGIN || l.y > 1 + MARGIN) return { ok: false, reason: `${name} is out of the frame` };
    if (l.visibility !== undefined && l.visibility < MIN_VISIBILITY) return { ok: false, reason: `${name} is not visible` };
  }
  const at = (i: number): Point => ({ x: (landmarks[i] as Landmark).x * width, y: (landmarks[i] as Landmark).y * height });
  const quad = [at(RIGHT_SHOULDER), at(LEFT_SHOULDER), at(LEFT_HIP), at(RIGHT_HIP)];
  if (!isConvex(quad)) return { ok: false, reason: 'shoulders and hips do not form a torso' };
  if (polygonArea(quad) < MIN_TORSO_AREA * width * height) return { ok: false, reason: 'the torso is too small: step closer' };
  if (!isConvex(garmentQuad(landmarks, width, height))) return { ok: false, reason: 'the garment would fold over itself' };
  return { ok: true };
}

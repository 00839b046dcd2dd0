/** Pose landmarks for tests: 33 points, the torso placed where a test wants it. */
import type { Landmark } from '../src/preview/mesh.ts';

export function pose(torso: { ls: [number, number]; rs: [number, number]; lh: [number, number]; rh: [number, number] }, visibility = 0.9): Landmark[] {
  const points: Landmark[] = Array.from({ length: 33 }, () => ({ x: 0.5, y: 0.5, z: 0, visibility }));
  points[11] = { x: torso.ls[0], y: torso.ls[1], z: 0, visibility };
  points[12] = { x: torso.rs[0], y: torso.rs[1], z: 0, visibility };
  points[23] = { x: torso.lh[0], y: torso.lh[1], z: 0, visibility };
  points[24] = { x: torso.rh[0], y: torso.rh[1], z: 0, visibility };
  return points;
}

/** A shopper facing the camera: their right shoulder (12) on the image's left. */
export const facing = () => pose({ rs: [0.3, 0.3], ls: [0.7, 0.3], rh: [0.35, 0.75], lh: [0.65, 0.75] });

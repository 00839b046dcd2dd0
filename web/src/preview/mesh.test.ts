import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { PlaneGeometry } from 'three';
import { describe, expect, it } from 'vitest';
import { facing, pose } from '../../test/landmarks.ts';
import { bilinearPoint, garmentQuad, MESH_SEGMENTS, meshPositions, type Quad } from './mesh.ts';

const repoRoot = join(import.meta.dirname, '..', '..', '..');

describe('garmentQuad (docs/WORKER.md, "The garment mesh")', () => {
  it('places the corners beyond shoulders and hips, raised and lowered along the torso', () => {
    // a 1000 x 1000 frame: right shoulder (300, 300), left (700, 300), hips (350, 750) and (650, 750)
    const quad = garmentQuad(facing(), 1000, 1000);
    // s = (400, 0), h = (300, 0), d = (0, 450)
    expect(quad[0].x).toBeCloseTo(300 - 100, 9);
    expect(quad[0].y).toBeCloseTo(300 - 45, 9);
    expect(quad[1].x).toBeCloseTo(700 + 100, 9);
    expect(quad[1].y).toBeCloseTo(255, 9);
    expect(quad[2].x).toBeCloseTo(650 + 105, 9);
    expect(quad[2].y).toBeCloseTo(750 + 45, 9);
    expect(quad[3].x).toBeCloseTo(350 - 105, 9);
    expect(quad[3].y).toBeCloseTo(795, 9);
  });

  it('scales landmarks by the frame width and height separately', () => {
    const quad = garmentQuad(facing(), 640, 480);
    expect(quad[0].x).toBeCloseTo(0.2 * 640, 9);
    expect(quad[0].y).toBeCloseTo(0.255 * 480, 9);
  });

  it('names a missing landmark', () => {
    expect(() => garmentQuad(facing().slice(0, 20), 100, 100)).toThrow(/landmark 24 is missing \(got 20 landmarks\)/);
  });

  it('is the same quad and patch as the GPU worker computes (gpu-worker/proteus_worker/engines/mesh.py)', () => {
    const python = join(repoRoot, 'gpu-worker', '.venv', 'bin', 'python');
    expect(existsSync(python), `the worker's virtualenv (${python}) is needed to compare: npm test installs it`).toBe(true);
    const landmarks = pose({ rs: [0.31, 0.27], ls: [0.69, 0.33], rh: [0.36, 0.81], lh: [0.62, 0.77] });
    const [width, height] = [768, 1024];
    const script = [
      'import json, sys',
      'import numpy as np',
      'from proteus_worker.engines.landmarks import parse_landmarks, torso',
      'from proteus_worker.engines.mesh import garment_quad, bilinear_point',
      'args = json.loads(sys.argv[1])',
      'quad = garment_quad(torso(parse_landmarks(args["landmarks"]), args["width"], args["height"]))',
      'u = np.array([0.0, 0.25, 0.5, 0.9, 1.0]); v = np.array([0.0, 0.6, 0.5, 0.1, 1.0])',
      'x, y = bilinear_point(quad, u, v)',
      'print(json.dumps({"quad": quad.tolist(), "x": x.tolist(), "y": y.tolist()}))',
    ].join('\n');
    const out = execFileSync(python, ['-c', script, JSON.stringify({ landmarks, width, height })], { cwd: join(repoRoot, 'gpu-worker'), encoding: 'utf8' });
    const worker = JSON.parse(out) as { quad: [number, number][]; x: number[]; y: number[] };
    const quad = garmentQuad(landmarks, width, height);
    quad.forEach((corner, i) => {
      expect(corner.x).toBeCloseTo((worker.quad[i] as [number, number])[0], 9);
      expect(corner.y).toBeCloseTo((worker.quad[i] as [number, number])[1], 9);
    });
    const uv: [number, number][] = [
      [0, 0],
      [0.25, 0.6],
      [0.5, 0.5],
      [0.9, 0.1],
      [1, 1],
    ];
    uv.forEach(([u, v], i) => {
      const p = bilinearPoint(quad, u, v);
      expect(p.x).toBeCloseTo(worker.x[i] as number, 9);
      expect(p.y).toBeCloseTo(worker.y[i] as number, 9);
    });
  });
});

describe('meshPositions', () => {
  const quad: Quad = [
    { x: 10, y: 20 },
    { x: 110, y: 30 },
    { x: 130, y: 220 },
    { x: 5, y: 200 },
  ];

  it("moves three.js PlaneGeometry's vertex at texture UV (u, v) to P(u, 1 - v)", () => {
    const geometry = new PlaneGeometry(1, 1, MESH_SEGMENTS, MESH_SEGMENTS);
    const uvs = geometry.getAttribute('uv');
    const positions = meshPositions(quad);
    expect(positions.length).toBe(geometry.getAttribute('position').array.length);
    for (let i = 0; i < uvs.count; i++) {
      const p = bilinearPoint(quad, uvs.getX(i), 1 - uvs.getY(i));
      expect(positions[i * 3]).toBeCloseTo(p.x, 4);
      expect(positions[i * 3 + 1]).toBeCloseTo(p.y, 4);
      expect(positions[i * 3 + 2]).toBe(0);
    }
    geometry.dispose();
  });

  it('puts the corners of the plane on the corners of the quad', () => {
    const n = MESH_SEGMENTS + 1;
    const positions = meshPositions(quad);
    const at = (row: number, col: number) => ({ x: positions[(row * n + col) * 3], y: positions[(row * n + col) * 3 + 1] });
    expect(at(0, 0)).toEqual({ x: 10, y: 20 });
    expect(at(0, n - 1)).toEqual({ x: 110, y: 30 });
    expect(at(n - 1, n - 1)).toEqual({ x: 130, y: 220 });
    expect(at(n - 1, 0)).toEqual({ x: 5, y: 200 });
  });

  it('writes into the array it is given, and refuses one of the wrong size', () => {
    const out = new Float32Array(17 * 17 * 3);
    expect(meshPositions(quad, 16, out)).toBe(out);
    expect(() => meshPositions(quad, 16, new Float32Array(10))).toThrow(/expected 867 position values, got 10/);
  });
});

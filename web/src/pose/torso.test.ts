import { describe, expect, it } from 'vitest';
import { facing, pose } from '../../test/landmarks.ts';
import { checkTorso, isConvex, MIN_VISIBILITY, polygonArea } from './torso.ts';

describe('checkTorso (the warp engine’s checks, gpu-worker/proteus_worker/engines/landmarks.py)', () => {
  it('accepts a shopper facing the camera', () => {
    expect(checkTorso(facing(), 640, 480)).toEqual({ ok: true });
  });

  it.each([
    ['no pose at all', undefined, 'no pose'],
    ['fewer than 33 landmarks', facing().slice(0, 25), '25 landmarks, 33 expected'],
    [
      'a torso point that is not a number',
      (() => pose({ rs: [Number.NaN, 0.3], ls: [0.7, 0.3], rh: [0.35, 0.75], lh: [0.65, 0.75] }))(),
      'right shoulder is not a finite point',
    ],
    ['a hip far below the frame', pose({ rs: [0.3, 0.3], ls: [0.7, 0.3], rh: [0.35, 1.3], lh: [0.65, 0.75] }), 'right hip is out of the frame'],
    ['a shoulder left of the frame', pose({ rs: [-0.3, 0.3], ls: [0.7, 0.3], rh: [0.35, 0.75], lh: [0.65, 0.75] }), 'right shoulder is out of the frame'],
    [
      'crossed shoulders (a quad that folds)',
      pose({ rs: [0.7, 0.3], ls: [0.3, 0.3], rh: [0.35, 0.75], lh: [0.65, 0.75] }),
      'shoulders and hips do not form a torso',
    ],
    ['a torso too small to dress', pose({ rs: [0.5, 0.5], ls: [0.52, 0.5], rh: [0.5, 0.52], lh: [0.52, 0.52] }), 'the torso is too small: step closer'],
    ['points all on one line', pose({ rs: [0.3, 0.3], ls: [0.5, 0.3], rh: [0.4, 0.3], lh: [0.6, 0.3] }), 'shoulders and hips do not form a torso'],
  ])('refuses %s', (_, landmarks, reason) => {
    expect(checkTorso(landmarks, 640, 480)).toEqual({ ok: false, reason });
  });

  it('counts a torso landmark below the visibility floor as not seen, and one at it as seen', () => {
    const hidden = facing();
    hidden[23] = { ...(hidden[23] as { x: number; y: number }), visibility: MIN_VISIBILITY - 0.01 };
    expect(checkTorso(hidden, 640, 480)).toEqual({ ok: false, reason: 'left hip is not visible' });
    hidden[23] = { ...(hidden[23] as { x: number; y: number }), visibility: MIN_VISIBILITY };
    expect(checkTorso(hidden, 640, 480)).toEqual({ ok: true });
  });

  it('accepts torso points just inside the 0.25 margin off the frame', () => {
    expect(checkTorso(pose({ rs: [0.3, 0.3], ls: [0.7, 0.3], rh: [0.35, 1.25], lh: [0.65, 1.2] }), 640, 480)).toEqual({ ok: true });
  });
});

describe('polygon helpers', () => {
  it('measures area either way round', () => {
    const square = [
      { x: 0, y: 0 },
      { x: 2, y: 0 },
      { x: 2, y: 2 },
      { x: 0, y: 2 },
    ];
    expect(polygonArea(square)).toBe(4);
    expect(polygonArea([...square].reverse())).toBe(4);
    expect(isConvex(square)).toBe(true);
    expect(isConvex([square[0], square[2], square[1], square[3]] as typeof square)).toBe(false);
  });
});

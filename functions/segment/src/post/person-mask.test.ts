import { describe, expect, it } from 'vitest';
import { drawLabels } from '../../test/synthetic.ts';
import { CLASS } from '../labels.ts';
import { SegmentRejected } from '../rejected.ts';
import { defaultPersonMaskSettings, handPixels, personMask } from './person-mask.ts';

const W = 200;
const H = 300;

/**
 * A standing person, 200x300: hair and a 40 px high face, a torso in upper clothes (x 70..129,
 * y 60..159) over pants (y 160..259), two arms 15 px wide hanging from the shoulders down to
 * y 259 (touching the torso along y 60..159 only).
 */
function person({ face = true } = {}): Uint8Array {
  return drawLabels(W, H, [
    [CLASS.Hair, 85, 5, 30, 15],
    ...(face ? [[CLASS.Face, 85, 20, 30, 40] as [number, number, number, number, number]] : []),
    [CLASS['Upper-clothes'], 70, 60, 60, 100],
    [CLASS.Pants, 70, 160, 60, 100],
    [CLASS['Left-arm'], 130, 60, 15, 200],
    [CLASS['Right-arm'], 55, 60, 15, 200],
  ]);
}

const at = (mask: Uint8Array, x: number, y: number) => mask[y * W + x];

describe('handPixels', () => {
  it('takes one face height from the far end of each arm, walked from the garment', () => {
    const hands = handPixels(person(), W, H, defaultPersonMaskSettings);
    // each arm is walked 100 steps from the torso (chessboard distance); the face is 40 high
    expect([at(hands, 137, 219), at(hands, 137, 220), at(hands, 137, 259), at(hands, 62, 240)]).toEqual([0, 1, 1, 1]);
    expect([at(hands, 137, 100), at(hands, 137, 218), at(hands, 62, 180)]).toEqual([0, 0, 0]);
    expect(hands.reduce((n, v) => n + v, 0)).toBe(2 * 15 * 40);
  });

  it('takes a quarter of the walk without a face', () => {
    const hands = handPixels(person({ face: false }), W, H, defaultPersonMaskSettings);
    expect([at(hands, 137, 234), at(hands, 137, 235)]).toEqual([0, 1]);
  });

  it('finds no hand on an arm that does not touch the garment', () => {
    const labels = drawLabels(W, H, [[CLASS['Left-arm'], 10, 10, 10, 100]]);
    expect(handPixels(labels, W, H, defaultPersonMaskSettings).every((v) => v === 0)).toBe(true);
  });
});

describe('personMask', () => {
  const mask = personMask(person(), W, H);

  it('covers the upper clothes and the arms, and a dilation band of the background around them', () => {
    // dilation radius: 1.5% of 300 = 5 px (rounded)
    expect([at(mask, 100, 100), at(mask, 137, 100), at(mask, 62, 180), at(mask, 149, 100), at(mask, 50, 100)]).toEqual([255, 255, 255, 255, 255]);
    expect([at(mask, 150, 100), at(mask, 49, 100), at(mask, 100, 2)]).toEqual([0, 0, 0]);
  });

  it('leaves the face, the hair, the lower body and the hands as photographed', () => {
    expect([at(mask, 100, 58), at(mask, 100, 40), at(mask, 100, 10)]).toEqual([0, 0, 0]);
    expect([at(mask, 100, 161), at(mask, 100, 200)]).toEqual([0, 0]);
    expect([at(mask, 137, 230), at(mask, 62, 259)]).toEqual([0, 0]);
    // the background between the hands and the pants is inside the dilation band
    expect(at(mask, 147, 240)).toBe(255);
  });

  it('holds only 0 and 255, one byte a pixel of the photo', () => {
    expect(mask.length).toBe(W * H);
    expect(mask.every((v) => v === 0 || v === 255)).toBe(true);
  });

  it('fails with no-person when there are no upper clothes or arms', () => {
    const labels = drawLabels(W, H, [
      [CLASS.Face, 85, 20, 30, 40],
      [CLASS.Pants, 70, 160, 60, 100],
    ]);
    expect(() => personMask(labels, W, H)).toThrow(SegmentRejected);
    expect(() => personMask(labels, W, H)).toThrow('no-person: found 0 pixels of upper clothes or arms in 200x300, at least 120 needed');
  });
});

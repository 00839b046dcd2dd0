import { describe, expect, it } from 'vitest';
import { drawLabels } from '../../test/synthetic.ts';
import { CLASS } from '../labels.ts';
import { boundingBox, classMask, dilate, expandBox, fillHoles, removeSpecks } from './mask.ts';

const W = 40;
const H = 30;
const count = (mask: Uint8Array) => mask.reduce((n, v) => n + (v ? 1 : 0), 0);
const at = (mask: Uint8Array, x: number, y: number) => mask[y * W + x];

describe('classMask', () => {
  it('keeps exactly the chosen classes and counts them', () => {
    const labels = drawLabels(W, H, [
      [CLASS['Upper-clothes'], 0, 0, 10, 10],
      [CLASS.Pants, 10, 0, 5, 4],
      [CLASS.Face, 20, 0, 3, 3],
    ]);
    expect(classMask(labels, [CLASS['Upper-clothes']]).count).toBe(100);
    const { mask, count: n } = classMask(labels, [CLASS['Upper-clothes'], CLASS.Pants]);
    expect(n).toBe(120);
    expect([at(mask, 9, 9), at(mask, 14, 3), at(mask, 14, 4), at(mask, 21, 1)]).toEqual([1, 1, 0, 0]);
  });
});

describe('removeSpecks', () => {
  it('drops pieces smaller than the fraction of the largest and keeps the rest', () => {
    const { mask } = classMask(
      drawLabels(W, H, [
        [4, 2, 2, 10, 10], // 100: the largest
        [4, 20, 2, 6, 5], // 30: kept at 0.2
        [4, 30, 20, 2, 2], // 4: a speck
        [4, 35, 25, 1, 1], // 1: a speck
      ]),
      [4],
    );
    expect(removeSpecks(mask, W, H, 0.2)).toBe(130);
    expect(count(mask)).toBe(130);
    expect([at(mask, 5, 5), at(mask, 22, 3), at(mask, 30, 20), at(mask, 35, 25)]).toEqual([1, 1, 0, 0]);
  });

  it('joins diagonal neighbours into one piece (8-connectivity)', () => {
    const mask = new Uint8Array(W * H);
    for (let i = 0; i < 10; i++) mask[i * W + i] = 1;
    expect(removeSpecks(mask, W, H, 0.5)).toBe(10);
  });
});

describe('fillHoles', () => {
  // a 20x20 ring of garment, 2 wide, around a 16x16 inside at (10..25, 5..20)
  const ring = (inside: [number, number, number, number, number][]) => {
    const labels = drawLabels(W, H, [[4, 8, 3, 20, 20], [0, 10, 5, 16, 16], ...inside]);
    const { mask } = classMask(labels, [4]);
    return { labels, mask, box: boundingBox(mask, W, H)! };
  };

  it('fills an enclosed hole up to the size limit', () => {
    const { labels, mask, box } = ring([
      [4, 10, 5, 16, 16],
      [0, 15, 10, 3, 3],
    ]);
    expect(fillHoles(mask, labels, W, box, 9, [])).toBe(9);
    expect(count(mask)).toBe(400);
  });

  it('leaves a hole larger than the limit', () => {
    const { labels, mask, box } = ring([]);
    expect(fillHoles(mask, labels, W, box, 255, [])).toBe(0);
    expect(at(mask, 15, 10)).toBe(0);
    expect(fillHoles(mask, labels, W, box, 256, [])).toBe(256);
  });

  it('never fills body pixels: a hand over the shirt stays out, the rest of that hole is filled', () => {
    const { labels, mask, box } = ring([
      [4, 10, 5, 16, 16],
      [0, 14, 9, 6, 4],
      [CLASS['Left-arm'], 14, 9, 3, 4],
    ]);
    expect(fillHoles(mask, labels, W, box, 100, [CLASS['Left-arm']])).toBe(12);
    expect([at(mask, 14, 9), at(mask, 16, 12), at(mask, 17, 9), at(mask, 19, 12)]).toEqual([0, 0, 1, 1]);
  });

  it('does not fill background that reaches the edge of the box (a notch, not a hole)', () => {
    const labels = drawLabels(W, H, [
      [4, 8, 3, 20, 20],
      [0, 15, 3, 4, 10],
    ]);
    const { mask } = classMask(labels, [4]);
    expect(fillHoles(mask, labels, W, boundingBox(mask, W, H)!, 1000, [])).toBe(0);
  });

  it('closes a hole whose wall is only diagonal (background connects through 4 neighbours)', () => {
    const mask = new Uint8Array(W * H);
    // a diamond wall around (10, 10)
    for (const [x, y] of [
      [10, 8],
      [11, 9],
      [12, 10],
      [11, 11],
      [10, 12],
      [9, 11],
      [8, 10],
      [9, 9],
    ]) {
      mask[y! * W + x!] = 1;
    }
    const filled = fillHoles(mask, new Uint8Array(W * H), W, boundingBox(mask, W, H)!, 100, []);
    expect(filled).toBe(5);
    expect(at(mask, 10, 10)).toBe(1);
  });
});

describe('boundingBox and expandBox', () => {
  it('finds the box of every set pixel, or none', () => {
    const mask = new Uint8Array(W * H);
    expect(boundingBox(mask, W, H)).toBeUndefined();
    mask[5 * W + 7] = 1;
    mask[20 * W + 3] = 1;
    mask[9 * W + 31] = 1;
    expect(boundingBox(mask, W, H)).toEqual({ x: 3, y: 5, width: 29, height: 16 });
  });

  it('grows a box by the margin and keeps it inside the image', () => {
    expect(expandBox({ x: 3, y: 5, width: 29, height: 16 }, 4, W, H)).toEqual({ x: 0, y: 1, width: 36, height: 24 });
    expect(expandBox({ x: 10, y: 10, width: 5, height: 5 }, 2, W, H)).toEqual({ x: 8, y: 8, width: 9, height: 9 });
  });
});

describe('dilate', () => {
  it('grows one pixel into a (2r+1) square, clipped at the edges', () => {
    const mask = new Uint8Array(W * H);
    mask[10 * W + 20] = 1;
    mask[0 * W + 0] = 1;
    const grown = dilate(mask, W, H, 2);
    expect(boundingBox(grown.subarray(5 * W), W, H - 5)).toEqual({ x: 18, y: 3, width: 5, height: 5 });
    expect(count(grown)).toBe(25 + 9);
    expect(at(grown, 2, 2)).toBe(1);
    expect(at(grown, 3, 0)).toBe(0);
  });

  it('is the identity at radius 0 and fills everything with a radius past the image', () => {
    const mask = new Uint8Array(W * H);
    mask[3 * W + 4] = 1;
    expect(dilate(mask, W, H, 0)).toEqual(mask);
    expect(count(dilate(mask, W, H, 100))).toBe(W * H);
  });
});

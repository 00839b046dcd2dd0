import { describe, expect, it } from 'vitest';
import { oneHotLogits, randomLogits, referenceLabelMap } from '../../test/synthetic.ts';
import { argmaxLogits, labelMap } from './label-map.ts';

describe('labelMap', () => {
  it('upsamples stripes of one-hot logits to the same stripes at 4x (boundaries exact at an integer scale)', () => {
    // 8x6 source cells: class 4 in columns 2-5, class 11 in column 7
    const logits = oneHotLogits(8, 6, (x) => (x >= 2 && x <= 5 ? 4 : x === 7 ? 11 : 0));
    const labels = labelMap(logits, 32, 24);
    const expected = (x: number) => (x >= 8 && x < 24 ? 4 : x >= 28 ? 11 : 0);
    for (let y = 0; y < 24; y++) for (let x = 0; x < 32; x++) expect(labels[y * 32 + x], `(${x}, ${y})`).toBe(expected(x));
  });

  it('rounds the corners of a block, as bilinear interpolation does', () => {
    // class 4 in source cells (2..5, 1..3): at 4x its box is x 8..23, y 4..15
    const logits = oneHotLogits(8, 6, (x, y) => (x >= 2 && x <= 5 && y >= 1 && y <= 3 ? 4 : 0));
    const labels = labelMap(logits, 32, 24);
    const at = (x: number, y: number) => labels[y * 32 + x];
    // the corner pixel: 0.625 x 0.625 of class 4 against the rest
    expect(at(8, 4)).toBe(0);
    expect([at(9, 4), at(8, 5), at(9, 5), at(12, 4), at(8, 10), at(23, 15)]).toEqual([4, 4, 4, 4, 4, 0]);
    expect([at(7, 10), at(12, 3), at(24, 10), at(12, 16)]).toEqual([0, 0, 0, 0]);
  });

  it.each([
    ['up, non-integer scale', 16, 12, 53, 41],
    ['up, one axis only', 16, 12, 16, 47],
    ['down', 16, 12, 7, 5],
    ['1x1 source', 1, 1, 9, 4],
  ])('equals plain bilinear interpolation then argmax on random logits (%s)', (_what, w, h, width, height) => {
    const logits = randomLogits(w, h, w * 1000 + width);
    expect(labelMap(logits, width, height)).toEqual(referenceLabelMap(logits, width, height));
  });

  it('picks the first class on a tie, like argmax', () => {
    const logits = { data: new Float32Array(3 * 2 * 2).fill(1), classes: 3, height: 2, width: 2 };
    expect([...argmaxLogits(logits)]).toEqual([0, 0, 0, 0]);
    expect([...labelMap(logits, 5, 5)].every((l) => l === 0)).toBe(true);
  });

  it('refuses logits whose length does not match their shape', () => {
    expect(() => labelMap({ data: new Float32Array(10), classes: 18, height: 2, width: 2 }, 4, 4)).toThrow('logits hold 10 values, 18x2x2 expected');
  });
});

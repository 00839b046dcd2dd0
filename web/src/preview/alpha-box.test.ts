import { describe, expect, it } from 'vitest';
import { ALPHA_FLOOR, alphaBox } from './alpha-box.ts';

function rgba(width: number, height: number, opaque: [number, number, number][]): Uint8ClampedArray {
  const data = new Uint8ClampedArray(width * height * 4);
  for (const [x, y, a] of opaque) data[(y * width + x) * 4 + 3] = a;
  return data;
}

describe('alphaBox (the garment’s source rectangle)', () => {
  it('is the bounding box of the pixels with alpha above 8', () => {
    const data = rgba(10, 8, [
      [2, 3, 255],
      [7, 1, 9],
      [4, 6, 200],
    ]);
    expect(alphaBox(data, 10, 8)).toEqual({ x: 2, y: 1, width: 6, height: 6 });
  });

  it('leaves out pixels at the floor (a faint halo is not garment)', () => {
    const data = rgba(10, 8, [
      [5, 5, 255],
      [0, 0, ALPHA_FLOOR],
    ]);
    expect(alphaBox(data, 10, 8)).toEqual({ x: 5, y: 5, width: 1, height: 1 });
  });

  it('finds nothing in a fully transparent cut-out: no garment', () => {
    expect(alphaBox(rgba(4, 4, [[1, 1, ALPHA_FLOOR]]), 4, 4)).toBeUndefined();
  });

  it('refuses pixel data of the wrong size', () => {
    expect(() => alphaBox(new Uint8ClampedArray(10), 4, 4)).toThrow(/expected 64 bytes for 4x4 RGBA, got 10/);
  });
});

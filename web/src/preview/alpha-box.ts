/**
 * The garment's source rectangle (docs/WORKER.md): the bounding box of its pixels with alpha
 * above 8 of 255, the same floor as the warp engine's, so preview and result crop alike.
 * A garment without such a pixel has nothing to show: the wardrobe says "no garment found".
 */

export const ALPHA_FLOOR = 8;

export interface Box {
  x: number;
  y: number;
  width: number;
  height: number;
}

/** `rgba` is ImageData's layout: 4 bytes a pixel, rows top to bottom. */
export function alphaBox(rgba: Uint8ClampedArray | Uint8Array, width: number, height: number, floor = ALPHA_FLOOR): Box | undefined {
  if (rgba.length !== width * height * 4) throw new RangeError(`expected ${width * height * 4} bytes for ${width}x${height} RGBA, got ${rgba.length}`);
  let minX = width;
  let minY = height;
  let maxX = -1;
  let maxY = -1;
  for (let y = 0; y < height; y++) {
    const row = y * width * 4;
    let first = -1;
    let last = -1;
    for (let x = 0; x < width; x++) {
      if ((rgba[row + x * 4 + 3] as number) > floor) {
        if (first < 0) first = x;
        last = x;
      }
    }
    if (first < 0) continue;
    if (first < minX) minX = first;
    if (last > maxX) maxX = last;
    if (y < minY) minY = y;
    maxY = y;
  }
  if (maxX < 0) return undefined;
  return { x: minX, y: minY, width: maxX - minX + 1, height: maxY - minY + 1 };
}

import sharp from 'sharp';
import { describe, expect, it } from 'vitest';
import { oneHotLogits } from '../../test/synthetic.ts';
import { CLASS } from '../labels.ts';
import { SegmentRejected } from '../rejected.ts';
import { cropBox, cutOutGarment, defaultGarmentSettings, featherSigma, garmentMask } from './garment.ts';
import { labelMap } from './label-map.ts';

const S = defaultGarmentSettings;
const UPPER = CLASS['Upper-clothes'];

/**
 * A 64x64 logit grid upsampled 4x to a 256x256 photo: a shirt in cells (20..43, 16..47), so at
 * full resolution x 80..175, y 64..191 with rounded corners; inside it a 2x2-cell patch of
 * background (a small hole) and a 2x2-cell hand; a 1-cell speck of shirt far away.
 */
function shirtLabels(): Uint8Array {
  const logits = oneHotLogits(64, 64, (x, y) => {
    if (x === 5 && y === 5) return UPPER; // speck
    if (x >= 20 && x <= 43 && y >= 16 && y <= 47) {
      if (x >= 26 && x <= 27 && y >= 24 && y <= 25) return CLASS.Background; // hole
      if (x >= 34 && x <= 35 && y >= 30 && y <= 31) return CLASS['Left-arm']; // a hand over the shirt
      return UPPER;
    }
    return y >= 50 ? CLASS.Pants : CLASS.Background;
  });
  return labelMap(logits, 256, 256);
}

/** A photo whose every pixel says where it is. */
function photo(width: number, height: number): Uint8Array {
  const rgb = new Uint8Array(width * height * 3);
  for (let y = 0; y < height; y++) for (let x = 0; x < width; x++) rgb.set([x % 256, y % 256, (x + y) % 256], (y * width + x) * 3);
  return rgb;
}

async function decodePng(png: Buffer) {
  const meta = await sharp(png).metadata();
  const { data, info } = await sharp(png).raw().toBuffer({ resolveWithObject: true });
  return { meta, data, info };
}

describe('garmentMask', () => {
  it('keeps the shirt: speck removed, small hole filled, the hand left out, bounding box exact', () => {
    const labels = shirtLabels();
    const { mask, box, pixels } = garmentMask(labels, 256, 256, [UPPER], S);
    expect(box).toEqual({ x: 80, y: 64, width: 96, height: 128 });
    const at = (x: number, y: number) => mask[y * 256 + x];
    expect(at(21, 21)).toBe(0); // the speck
    expect(at(106, 98)).toBe(1); // the hole, filled
    expect(at(138, 122)).toBe(0); // the hand
    expect(at(120, 120)).toBe(1);
    expect(pixels).toBe(mask.reduce((n, v) => n + v, 0));
  });

  it('fails with no-garment naming the classes when too little of them is there', () => {
    const labels = shirtLabels();
    const refused = (() => {
      try {
        garmentMask(labels, 256, 256, [CLASS.Dress, CLASS.Scarf], S);
      } catch (error) {
        return error;
      }
    })();
    expect(refused).toBeInstanceOf(SegmentRejected);
    expect((refused as SegmentRejected).reason).toBe('no-garment');
    expect((refused as SegmentRejected).message).toBe('no-garment: found 0 pixels of Dress, Scarf in 256x256, at least 132 (0.2%) needed');
  });

  it('counts only what survives the clean-up against the minimum (specks alone are no garment)', () => {
    const labels = labelMap(
      oneHotLogits(64, 64, (x, y) => (x === 5 && y === 5 ? UPPER : 0)),
      256,
      256,
    );
    expect(() => garmentMask(labels, 256, 256, [UPPER], { ...S, minGarmentFraction: 0.001 })).toThrow(/^no-garment: found 12 pixels/);
  });

  it('keeps the union of several classes', () => {
    const { box } = garmentMask(shirtLabels(), 256, 256, [UPPER, CLASS.Pants], S);
    expect(box).toEqual({ x: 0, y: 64, width: 256, height: 192 });
  });
});

describe('cutOutGarment', () => {
  it('answers an upright RGBA PNG of the crop, no metadata, alpha 0 outside the shirt and 255 inside it', async () => {
    const labels = shirtLabels();
    const rgb = photo(256, 256);
    const cutout = await cutOutGarment({ data: rgb, width: 256, height: 256 }, { data: labels, width: 256, height: 256 }, [UPPER]);
    // sigma 1 px at this size: the margin is the larger of 3 sigma and 3% of 128
    expect(featherSigma(256, 256, S)).toBe(1);
    expect(cutout.crop).toEqual({ x: 76, y: 60, width: 104, height: 136 });
    expect(cutout.crop).toEqual(cropBox(cutout.box, 256, 256, S));
    const { meta, data, info } = await decodePng(cutout.png);
    expect(meta).toMatchObject({ format: 'png', width: 104, height: 136, channels: 4, hasAlpha: true });
    expect(meta.exif).toBeUndefined();
    expect(meta.icc).toBeUndefined();
    expect(meta.orientation).toBeUndefined();
    expect(info.channels).toBe(4);

    const { mask } = garmentMask(labels, 256, 256, [UPPER], S);
    let inside = 0;
    const wrong: string[] = [];
    for (let y = 0; y < info.height; y++) {
      for (let x = 0; x < info.width; x++) {
        const [sx, sy] = [x + 76, y + 60];
        const o = (y * info.width + x) * 4;
        const alpha = data[o + 3]!;
        if (!mask[sy * 256 + sx]) {
          // background, the hand, the speck: fully transparent and colourless
          if (data[o] || data[o + 1] || data[o + 2] || alpha) wrong.push(`(${sx}, ${sy}) shows outside the shirt`);
          continue;
        }
        // colour straight from the photo wherever anything shows
        if (alpha > 0 && (data[o] !== sx % 256 || data[o + 1] !== sy % 256 || data[o + 2] !== (sx + sy) % 256)) wrong.push(`(${sx}, ${sy}) colour`);
        // two pixels from every edge: opaque
        let nearEdge = false;
        for (let dy = -2; dy <= 2 && !nearEdge; dy++) for (let dx = -2; dx <= 2; dx++) if (!mask[(sy + dy) * 256 + sx + dx]) nearEdge = true;
        if (!nearEdge) {
          if (alpha !== 255) wrong.push(`(${sx}, ${sy}) alpha ${alpha} well inside`);
          inside++;
        }
      }
    }
    expect(wrong.slice(0, 5)).toEqual([]);
    expect(inside).toBeGreaterThan(10_000);
  });

  it('feathers the edge over a few pixels on a large photo: 0 at the edge, rising, 255 a few sigma in', async () => {
    // 2048x2048: sigma = 0.0015 x 2048 = 3.07 px; a square shirt in the middle
    const size = 2048;
    const labels = labelMap(
      oneHotLogits(64, 64, (x, y) => (x >= 16 && x < 48 && y >= 16 && y < 48 ? UPPER : 0)),
      size,
      size,
    );
    const cutout = await cutOutGarment({ data: photo(size, size), width: size, height: size }, { data: labels, width: size, height: size }, [UPPER]);
    const { data, info } = await decodePng(cutout.png);
    // a row through the middle, from the left edge of the shirt inwards
    const row = Math.floor(info.height / 2);
    const left = cutout.box.x - cutout.crop.x;
    const alphaAt = (x: number) => data[(row * info.width + x) * 4 + 3]!;
    const ramp = Array.from({ length: 14 }, (_, i) => alphaAt(left - 1 + i));
    expect(ramp[0]).toBe(0);
    expect(ramp[1]).toBeLessThan(64);
    for (let i = 1; i < ramp.length; i++) expect(ramp[i]!).toBeGreaterThanOrEqual(ramp[i - 1]!);
    expect(ramp.slice(1, 6).some((a) => a > 0 && a < 255)).toBe(true);
    expect(ramp[13]).toBe(255);
  });

  it('keeps a hard edge where the garment is cut by the frame of the photo', async () => {
    // a shirt from row 32 (cell 8) down to the bottom edge, across the middle
    const labels = labelMap(
      oneHotLogits(64, 64, (x, y) => (x >= 16 && x < 48 && y >= 8 ? UPPER : 0)),
      256,
      256,
    );
    const cutout = await cutOutGarment({ data: photo(256, 256), width: 256, height: 256 }, { data: labels, width: 256, height: 256 }, [UPPER]);
    expect(cutout.crop.y + cutout.crop.height).toBe(256);
    const { data, info } = await decodePng(cutout.png);
    const bottom = info.height - 1;
    const middle = Math.floor(info.width / 2);
    for (const x of [middle - 20, middle, middle + 20]) expect(data[(bottom * info.width + x) * 4 + 3]).toBe(255);
  });

  it('works on a label map smaller than the photo and scales only the alpha up to it', async () => {
    // a 3000x2000 photo labelled at 1024x683 (its working resolution): the shirt is cells 20..43 x 16..47 of 64x64
    const [W, H, w, h] = [3000, 2000, 1024, 683];
    const logits = oneHotLogits(64, 64, (x, y) => (x >= 20 && x <= 43 && y >= 16 && y <= 47 ? UPPER : 0));
    const cutout = await cutOutGarment({ data: photo(W, H), width: W, height: H }, { data: labelMap(logits, w, h), width: w, height: h }, [UPPER]);
    // the shirt spans x 20/64..44/64 and y 16/64..48/64 of the photo, to a label pixel (3 px here)
    const near = (value: number, expected: number) => expect(Math.abs(value - expected)).toBeLessThanOrEqual(4);
    near(cutout.box.x, (20 / 64) * W);
    near(cutout.box.x + cutout.box.width, (44 / 64) * W);
    near(cutout.box.y, (16 / 64) * H);
    near(cutout.box.y + cutout.box.height, (48 / 64) * H);
    const { data, info } = await decodePng(cutout.png);
    expect([info.width, info.height]).toEqual([cutout.crop.width, cutout.crop.height]);
    const at = (x: number, y: number) => (y - cutout.crop.y) * info.width + (x - cutout.crop.x);
    // the centre: opaque, the photo's own pixel at full resolution
    const [cx, cy] = [Math.round((32 / 64) * W), Math.round((32 / 64) * H)];
    expect([...data.subarray(at(cx, cy) * 4, at(cx, cy) * 4 + 4)]).toEqual([cx % 256, cy % 256, (cx + cy) % 256, 255]);
    // the crop's corners are outside the shirt: transparent
    expect(data[3]).toBe(0);
    expect(data[data.length - 1]).toBe(0);
  });

  it('scales a crop larger than maxOutputSide down to it, still naming the crop in photo pixels', async () => {
    const [W, H] = [1200, 800];
    const logits = oneHotLogits(64, 64, (x, y) => (x >= 8 && x < 56 && y >= 8 && y < 56 ? UPPER : 0));
    const labels = labelMap(logits, W, H);
    const full = await cutOutGarment({ data: photo(W, H), width: W, height: H }, { data: labels, width: W, height: H }, [UPPER]);
    const capped = await cutOutGarment({ data: photo(W, H), width: W, height: H }, { data: labels, width: W, height: H }, [UPPER], {
      ...S,
      maxOutputSide: 300,
    });
    expect(capped.crop).toEqual(full.crop);
    const meta = await sharp(capped.png).metadata();
    expect(Math.max(meta.width, meta.height)).toBe(300);
    expect(meta.width / meta.height).toBeCloseTo(full.crop.width / full.crop.height, 1);
    const { data, info } = await decodePng(capped.png);
    const centre = (Math.floor(info.height / 2) * info.width + Math.floor(info.width / 2)) * 4;
    expect(data[centre + 3]).toBe(255);
    expect(data[3]).toBe(0);
  });
});

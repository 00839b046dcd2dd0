/**
 * The whole segmentation on a real photo (the public-domain astronaut portrait) through the
 * committed tiny model. Its weights are random, so what it calls a garment is arbitrary; what
 * is checked is that the PNG is exactly what the model's logits say: alpha only where the labels
 * (computed here the slow, plain way) are the chosen class, opaque well inside it, the photo's
 * own colours, the crop around it; and a clean refusal for a class the logits do not give.
 */
import { readFileSync } from 'node:fs';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { referenceLabelMap } from '../test/synthetic.ts';
import { decodeImage } from './decode.ts';
import { CLASS } from './labels.ts';
import { TINY_MODEL } from './model/location.ts';
import { loadSegmenter, type Segmenter } from './model/segmenter.ts';
import { cropBox, defaultGarmentSettings, garmentMask } from './post/garment.ts';
import { personMask } from './post/person-mask.ts';
import { SegmentRejected } from './rejected.ts';
import { createSegmentation, type Segmentation } from './segmentation.ts';

const limits = { maxBytes: 15 * 1024 * 1024, maxPixels: 40_000_000 };
let segmenter: Segmenter;
let segmentation: Segmentation;
let astronaut: Buffer;
let labels: Uint8Array;
let rgb: Buffer;

beforeAll(async () => {
  astronaut = readFileSync(inject('astronaut'));
  segmenter = await loadSegmenter({ modelId: TINY_MODEL.id, modelDir: TINY_MODEL.dir, dtype: 'fp32', threads: 1 });
  segmentation = createSegmentation(segmenter, { limits, classes: [CLASS['Upper-clothes']], concurrency: 1, maxWaiting: 4 });
  const image = await decodeImage(astronaut, limits);
  expect([image.width, image.height]).toEqual([512, 512]);
  rgb = image.data;
  labels = referenceLabelMap(await segmenter.logits(image), 512, 512);
}, 60_000);
afterAll(() => segmenter?.dispose());

const count = (label: number) => labels.reduce((n, l) => n + (l === label ? 1 : 0), 0);

describe('segmentation of the astronaut photo', () => {
  it('cuts out exactly what the logits call upper clothes', async () => {
    const upper = CLASS['Upper-clothes'];
    // the seeded tiny model does label part of this photo as upper clothes
    expect(count(upper)).toBeGreaterThan(0.01 * 512 * 512);
    const expected = garmentMask(labels, 512, 512, [upper], defaultGarmentSettings);
    const crop = cropBox(expected.box, 512, 512, defaultGarmentSettings);

    const result = await segmentation.segment(astronaut, { purpose: 'garment' });
    expect(result.crop).toEqual(crop);
    const meta = await sharp(result.png).metadata();
    expect(meta).toMatchObject({ format: 'png', width: crop.width, height: crop.height, channels: 4, hasAlpha: true });
    expect(meta.exif).toBeUndefined();
    const { data } = await sharp(result.png).raw().toBuffer({ resolveWithObject: true });
    let opaque = 0;
    const wrong: string[] = [];
    for (let y = 0; y < crop.height; y++) {
      for (let x = 0; x < crop.width; x++) {
        const p = (crop.y + y) * 512 + crop.x + x;
        const o = (y * crop.width + x) * 4;
        const alpha = data[o + 3]!;
        if (!expected.mask[p]) {
          if (alpha !== 0) wrong.push(`(${x}, ${y}) alpha ${alpha} outside the garment`);
          continue;
        }
        if (alpha > 0 && (data[o] !== rgb[p * 3] || data[o + 1] !== rgb[p * 3 + 1] || data[o + 2] !== rgb[p * 3 + 2]))
          wrong.push(`(${x}, ${y}) not the photo's colour`);
        if (alpha === 255) opaque++;
      }
    }
    expect(wrong.slice(0, 5)).toEqual([]);
    expect(opaque).toBeGreaterThan(0);
    expect(result.ms.inference).toBeGreaterThan(0);
  });

  it('fails with no-garment, never an empty PNG, for a class the logits do not give', async () => {
    expect(count(CLASS.Scarf)).toBe(0);
    const error = await segmentation.segment(astronaut, { purpose: 'garment', classes: [CLASS.Scarf] }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(SegmentRejected);
    expect((error as SegmentRejected).message).toBe('no-garment: found 0 pixels of Scarf in 512x512, at least 525 (0.2%) needed');
  });

  it('answers the person mask of the photo as a one-channel PNG of its full size', async () => {
    const result = await segmentation.segment(astronaut, { purpose: 'person-mask' });
    expect(await sharp(result.png).metadata()).toMatchObject({ format: 'png', width: 512, height: 512, channels: 1, space: 'b-w' });
    const data = await sharp(result.png).extractChannel(0).raw().toBuffer();
    expect(Buffer.from(data).equals(Buffer.from(personMask(labels, 512, 512)))).toBe(true);
  });

  it('labels a large photo at the working resolution and answers the mask at the photo size', async () => {
    const large = await sharp(astronaut).resize(1600, 1200, { fit: 'fill' }).png().toBuffer();
    const small = createSegmentation(segmenter, { limits, classes: [CLASS['Upper-clothes']], concurrency: 1, maxWaiting: 1, workSide: 400 });
    const mask = await small.segment(large, { purpose: 'person-mask' });
    expect(await sharp(mask.png).metadata()).toMatchObject({ width: 1600, height: 1200, channels: 1 });
    const values = new Set(await sharp(mask.png).extractChannel(0).raw().toBuffer());
    expect([...values].every((v) => v === 0 || v === 255)).toBe(true);
    const garment = await small.segment(large, { purpose: 'garment' });
    expect(garment.crop!.x + garment.crop!.width).toBeLessThanOrEqual(1600);
    expect(await sharp(garment.png).metadata()).toMatchObject({ width: garment.crop!.width, height: garment.crop!.height, channels: 4 });
  });

  it('refuses bad bytes before the model runs', async () => {
    await expect(segmentation.segment(Buffer.from('not an image'), { purpose: 'garment' })).rejects.toThrow('not-an-image');
    await expect(segmentation.segment(astronaut.subarray(0, 5000), { purpose: 'garment' })).rejects.toThrow(/^image-truncated/);
  });
});

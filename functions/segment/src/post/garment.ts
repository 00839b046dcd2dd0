/**
 * The garment cut-out: from a label map (the photo's size, or smaller for a large photo) to a
 * transparent PNG of the chosen classes alone. Mask, specks removed, holes filled (never with
 * body pixels), bounding box, then only the crop around it is touched again: the feathered alpha
 * (a Gaussian blur of the mask, kept inside it so no background halo shows), scaled to the
 * photo's pixels, and the RGBA composition, where fully transparent pixels carry no colour (no
 * trace of the background or the person in the file).
 */
import sharp from 'sharp';
import { BODY_CLASSES, labelName } from '../labels.ts';
import { SegmentRejected } from '../rejected.ts';
import { type Box, boundingBox, classMask, expandBox, fillHoles, removeSpecks } from './mask.ts';

export interface GarmentSettings {
  /** pieces smaller than this fraction of the largest piece are dropped */
  speckFraction: number;
  /** enclosed holes up to this fraction of the garment's pixels are filled */
  maxHoleFraction: number;
  /** fewer garment pixels than this fraction of the image: no garment */
  minGarmentFraction: number;
  /** crop margin around the garment, as a fraction of its longer side */
  marginFraction: number;
  /** Gaussian sigma of the alpha edge, as a fraction of the label map's longer side (clamped to [1, 6] px) */
  featherFraction: number;
  /** the PNG's longer side at most: a larger crop is scaled down (a try-on works at 1024 px; a browser texture at 4096) */
  maxOutputSide: number;
}

export const defaultGarmentSettings: GarmentSettings = {
  speckFraction: 0.02,
  maxHoleFraction: 0.05,
  minGarmentFraction: 0.002,
  marginFraction: 0.03,
  featherFraction: 0.0015,
  maxOutputSide: 2048,
};

export interface GarmentMask {
  /** 1 = garment, at the label map's size */
  mask: Uint8Array;
  /** garment pixels after the clean-up */
  pixels: number;
  /** the garment's bounding box */
  box: Box;
}

/** The cleaned mask of `classes`; throws `no-garment` when too little of them is left. */
export function garmentMask(labels: Uint8Array, width: number, height: number, classes: readonly number[], settings: GarmentSettings): GarmentMask {
  const { mask, count } = classMask(labels, classes);
  const names = classes.map(labelName).join(', ');
  const total = width * height;
  const minimum = Math.max(1, Math.ceil(settings.minGarmentFraction * total));
  const tooFew = (pixels: number) =>
    new SegmentRejected(
      'no-garment',
      `found ${pixels} pixels of ${names} in ${width}x${height}, at least ${minimum} (${settings.minGarmentFraction * 100}%) needed`,
    );
  if (count < minimum) throw tooFew(count);
  let pixels = removeSpecks(mask, width, height, settings.speckFraction);
  const box = boundingBox(mask, width, height);
  if (!box || pixels < minimum) throw tooFew(pixels);
  pixels += fillHoles(mask, labels, width, box, Math.floor(settings.maxHoleFraction * pixels), BODY_CLASSES);
  return { mask, pixels, box };
}

/** The alpha edge's Gaussian sigma for an image of this size. */
export const featherSigma = (width: number, height: number, settings: GarmentSettings) =>
  Math.min(6, Math.max(1, settings.featherFraction * Math.max(width, height)));

/** The crop: the garment's box plus the margin, and always room for the feather. */
export function cropBox(box: Box, width: number, height: number, settings: GarmentSettings): Box {
  const sigma = featherSigma(width, height, settings);
  const margin = Math.max(Math.ceil(3 * sigma), Math.round(settings.marginFraction * Math.max(box.width, box.height)));
  return expandBox(box, margin, width, height);
}

/**
 * Alpha of the crop: 255 inside the garment farther than about 2 sigma from its edge, falling to
 * 0 at the edge, 0 outside (the blur only ever fades the garment in, never the background out).
 * The blur reads a border of 3 sigma around the crop, the photo's edge repeated where the crop
 * touches it: a garment cut by the frame keeps a hard edge there instead of fading into it.
 */
export async function featheredAlpha(mask: Uint8Array, width: number, height: number, crop: Box, sigma: number): Promise<Uint8Array> {
  const pad = Math.ceil(3 * sigma);
  const pw = crop.width + 2 * pad;
  const ph = crop.height + 2 * pad;
  const padded = new Uint8Array(pw * ph);
  for (let y = 0; y < ph; y++) {
    const sy = Math.min(height - 1, Math.max(0, crop.y - pad + y));
    for (let x = 0; x < pw; x++) {
      const sx = Math.min(width - 1, Math.max(0, crop.x - pad + x));
      padded[y * pw + x] = mask[sy * width + sx] ? 255 : 0;
    }
  }
  const blurred = await sharp(padded, { raw: { width: pw, height: ph, channels: 1 } })
    // float: the integer mask's rounding leaves a solid area at 251 instead of 255
    .blur({ sigma, precision: 'float' })
    .extractChannel(0)
    .raw()
    .toBuffer();
  const alpha = new Uint8Array(crop.width * crop.height);
  for (let y = 0; y < crop.height; y++) {
    for (let x = 0, p = (y + pad) * pw + pad; x < crop.width; x++, p++) {
      if (padded[p]) alpha[y * crop.width + x] = Math.max(0, Math.min(255, 2 * blurred[p]! - 255));
    }
  }
  return alpha;
}

/** RGBA pixels of the crop: the photo's colour where alpha > 0, transparent black elsewhere. */
export function composeRgba(rgb: Uint8Array, width: number, crop: Box, alpha: Uint8Array): Buffer {
  const out = Buffer.alloc(crop.width * crop.height * 4);
  for (let y = 0; y < crop.height; y++) {
    let src = ((crop.y + y) * width + crop.x) * 3;
    let a = y * crop.width;
    let dst = a * 4;
    for (let x = 0; x < crop.width; x++, src += 3, a++, dst += 4) {
      const value = alpha[a]!;
      if (value === 0) continue;
      out[dst] = rgb[src]!;
      out[dst + 1] = rgb[src + 1]!;
      out[dst + 2] = rgb[src + 2]!;
      out[dst + 3] = value;
    }
  }
  return out;
}

export interface GarmentCutout {
  png: Buffer;
  /** where the PNG was cut from, in the upright photo */
  crop: Box;
  /** the garment's own box in the upright photo */
  box: Box;
  /** garment pixels, counted at the label map's resolution */
  pixels: number;
}

/** A label map, possibly smaller than the photo it describes (the working resolution). */
export interface LabelImage {
  data: Uint8Array;
  width: number;
  height: number;
}

/** `box` at `scale` (photo size / label map size), rounded outwards, inside the photo. */
export function scaleBox(box: Box, sx: number, sy: number, width: number, height: number): Box {
  const x = Math.max(0, Math.floor(box.x * sx));
  const y = Math.max(0, Math.floor(box.y * sy));
  return { x, y, width: Math.min(width, Math.ceil((box.x + box.width) * sx)) - x, height: Math.min(height, Math.ceil((box.y + box.height) * sy)) - y };
}

/**
 * The whole cut-out. `photo` is the upright photo, 3 bytes a pixel; `labels` its label map, at
 * the photo's size or smaller: the mask work happens there, and only the crop's alpha is scaled
 * (bilinear, so its edge stays smooth) to meet the photo's own pixels, or the PNG's size when
 * the crop is larger than `maxOutputSide`.
 */
export async function cutOutGarment(
  photo: { data: Uint8Array; width: number; height: number },
  labels: LabelImage,
  classes: readonly number[],
  settings: GarmentSettings = defaultGarmentSettings,
): Promise<GarmentCutout> {
  const { mask, pixels, box: workBox } = garmentMask(labels.data, labels.width, labels.height, classes, settings);
  const workCrop = cropBox(workBox, labels.width, labels.height, settings);
  const workAlpha = await featheredAlpha(mask, labels.width, labels.height, workCrop, featherSigma(labels.width, labels.height, settings));
  const sx = photo.width / labels.width;
  const sy = photo.height / labels.height;
  const crop = scaleBox(workCrop, sx, sy, photo.width, photo.height);
  const box = scaleBox(workBox, sx, sy, photo.width, photo.height);
  const fit = Math.min(1, settings.maxOutputSide / Math.max(crop.width, crop.height));
  const out = { width: Math.max(1, Math.round(crop.width * fit)), height: Math.max(1, Math.round(crop.height * fit)) };

  const alpha =
    out.width === workCrop.width && out.height === workCrop.height
      ? workAlpha
      : await sharp(workAlpha, { raw: { width: workCrop.width, height: workCrop.height, channels: 1 } })
          .resize(out.width, out.height, { fit: 'fill', kernel: 'linear' })
          .extractChannel(0)
          .raw()
          .toBuffer();
  let rgba: Buffer;
  if (fit === 1) {
    rgba = composeRgba(photo.data, photo.width, crop, alpha);
  } else {
    const scaled = await sharp(photo.data, { raw: { width: photo.width, height: photo.height, channels: 3 } })
      .extract({ left: crop.x, top: crop.y, width: crop.width, height: crop.height })
      .resize(out.width, out.height, { fit: 'fill' })
      .raw()
      .toBuffer();
    rgba = composeRgba(scaled, out.width, { x: 0, y: 0, ...out }, alpha);
  }
  // sharp writes no EXIF, ICC or XMP unless asked; the pixels are already upright
  const png = await sharp(rgba, { raw: { ...out, channels: 4 } })
    .png()
    .toBuffer();
  return { png, crop, box, pixels };
}

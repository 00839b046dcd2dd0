/**
 * One segmentation, transport-free: image bytes and a purpose in, a PNG out, or a
 * `SegmentRejected` naming why not. Steps, each over the full resolution at most once:
 *  1. decode (upright RGB, limits checked)   2. logits from the model at its input size
 *  3. label map at the working resolution    4. garment cut-out, or the person mask
 * The working resolution is the photo's, or less for a large photo (longer side `workSide`): the
 * logits are a 128x128 grid, so a finer label map adds no information, only work; the mask is
 * cleaned there and only its result, the crop's alpha or the person mask, is scaled to the photo.
 * Both HTTP and the CloudEvent handler call this; the gate keeps the CPU to one at a time.
 */
import sharp from 'sharp';
import type { DecodeLimits } from './decode.ts';
import { decodeImage } from './decode.ts';
import { createGate, type Gate } from './gate.ts';
import type { SegmentMetrics } from './metrics.ts';
import type { Segmenter } from './model/segmenter.ts';
import { cutOutGarment, defaultGarmentSettings, type GarmentSettings } from './post/garment.ts';
import { labelMap } from './post/label-map.ts';
import type { Box } from './post/mask.ts';
import { defaultPersonMaskSettings, type PersonMaskSettings, personMask } from './post/person-mask.ts';

export type Purpose = 'garment' | 'person-mask';

export const DEFAULT_WORK_SIDE = 1024;

export interface SegmentationSettings {
  limits: DecodeLimits;
  /** the garment classes kept when a request names none */
  classes: readonly number[];
  concurrency: number;
  maxWaiting: number;
  /** longer side of the label map at most (default 1024): larger photos are labelled smaller */
  workSide?: number;
  garment?: GarmentSettings;
  person?: PersonMaskSettings;
}

export interface SegmentResult {
  png: Buffer;
  purpose: Purpose;
  /** size of the upright photo */
  width: number;
  height: number;
  /** garment: the part of the photo the PNG shows */
  crop?: Box;
  ms: { decode: number; inference: number; post: number };
}

export interface Segmentation {
  segment(bytes: Uint8Array, request: { purpose: Purpose; classes?: readonly number[] | undefined }): Promise<SegmentResult>;
  segmenter: Segmenter;
  gate: Gate;
  settings: SegmentationSettings;
}

export function createSegmentation(segmenter: Segmenter, settings: SegmentationSettings, metrics?: SegmentMetrics): Segmentation {
  const gate = createGate(settings.concurrency, settings.maxWaiting);
  const garmentSettings = settings.garment ?? defaultGarmentSettings;
  const personSettings = settings.person ?? defaultPersonMaskSettings;
  const workSide = settings.workSide ?? DEFAULT_WORK_SIDE;

  async function run(bytes: Uint8Array, purpose: Purpose, classes: readonly number[]): Promise<SegmentResult> {
    const t0 = performance.now();
    // 1. decode
    const image = await decodeImage(bytes, settings.limits);
    const t1 = performance.now();
    // 2. the model
    const logits = await segmenter.logits(image);
    const t2 = performance.now();
    metrics?.inference.observe((t2 - t1) / 1000);
    // 3. labels at the working resolution
    const scale = Math.min(1, workSide / Math.max(image.width, image.height));
    const work = { width: Math.max(1, Math.round(image.width * scale)), height: Math.max(1, Math.round(image.height * scale)) };
    const labels = { data: labelMap(logits, work.width, work.height), ...work };
    // 4. what was asked for
    let png: Buffer;
    let crop: Box | undefined;
    if (purpose === 'garment') {
      const cutout = await cutOutGarment(image, labels, classes, garmentSettings);
      png = cutout.png;
      crop = cutout.crop;
    } else {
      let mask = sharp(personMask(labels.data, work.width, work.height, personSettings), { raw: { ...work, channels: 1 } });
      if (scale < 1) mask = mask.resize(image.width, image.height, { fit: 'fill', kernel: 'linear' }).threshold(128);
      // a two-valued mask compresses well even at the fastest level
      png = await mask.toColourspace('b-w').png({ compressionLevel: 1 }).toBuffer();
    }
    const t3 = performance.now();
    return {
      png,
      purpose,
      width: image.width,
      height: image.height,
      ...(crop ? { crop } : {}),
      ms: { decode: t1 - t0, inference: t2 - t1, post: t3 - t2 },
    };
  }

  return {
    segmenter,
    gate,
    settings,
    segment: (bytes, { purpose, classes }) => gate.run(() => run(bytes, purpose, classes ?? settings.classes)),
  };
}

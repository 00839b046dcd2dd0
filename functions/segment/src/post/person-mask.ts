/**
 * The inpainting mask an upper-body try-on needs from a person photo (CatVTON's "upper" mask):
 * the upper clothes and the arms, dilated so a garment of another cut fits, then the head,
 * the lower body and the hands taken out again so they stay as photographed. 255 = repaint.
 *
 * The model has no hand class: a hand is the far end of an arm. Each arm is walked from where it
 * leaves the garment (a breadth-first search over arm pixels, 8 neighbours); the pixels within
 * one hand length of its farthest point are the hand. A hand is about as long as the face is
 * high, so the face's height is that length; without a face, a quarter of the arm's walk.
 */
import { ARM_CLASSES, CLASS, PROTECTED_CLASSES, UPPER_BODY_CLASSES } from '../labels.ts';
import { SegmentRejected } from '../rejected.ts';
import { boundingBox, classMask, dilate } from './mask.ts';

export interface PersonMaskSettings {
  /** dilation radius as a fraction of the photo's longer side */
  dilateFraction: number;
  /** fewer upper-body and arm pixels than this fraction of the photo: no person */
  minFraction: number;
  /** hand length as a fraction of an arm's walk when no face is found */
  handFractionWithoutFace: number;
}

export const defaultPersonMaskSettings: PersonMaskSettings = {
  dilateFraction: 0.015,
  minFraction: 0.002,
  handFractionWithoutFace: 0.25,
};

/** 1 where a hand is: the far end of each arm, walked from the garment. */
export function handPixels(labels: Uint8Array, width: number, height: number, settings: PersonMaskSettings): Uint8Array {
  const hands = new Uint8Array(labels.length);
  const face = boundingBox(classMask(labels, [CLASS.Face]).mask, width, height);
  const torso = new Uint8Array(256);
  for (const c of UPPER_BODY_CLASSES) torso[c] = 1;
  torso[CLASS.Dress] = 1;
  const seen = new Uint8Array(labels.length);
  for (const arm of ARM_CLASSES) {
    // breadth-first from arm pixels touching the garment; `order` is the visit order, layer by layer
    let order = new Int32Array(1024);
    let size = 0;
    const push = (p: number) => {
      if (size === order.length) {
        const bigger = new Int32Array(order.length * 2);
        bigger.set(order);
        order = bigger;
      }
      order[size++] = p;
      seen[p] = 1;
    };
    for (let p = 0; p < labels.length; p++) {
      if (labels[p] !== arm) continue;
      const x = p % width;
      const y = (p - x) / width;
      if (
        (x > 0 && torso[labels[p - 1]!]) ||
        (x < width - 1 && torso[labels[p + 1]!]) ||
        (y > 0 && torso[labels[p - width]!]) ||
        (y < height - 1 && torso[labels[p + width]!])
      ) {
        push(p);
      }
    }
    if (size === 0) continue;
    const layerStart = [0];
    for (let head = 0, layerEnd = size; head < size; ) {
      const p = order[head++]!;
      const x = p % width;
      const y = (p - x) / width;
      for (let dy = -1; dy <= 1; dy++) {
        const ny = y + dy;
        if (ny < 0 || ny >= height) continue;
        for (let dx = -1; dx <= 1; dx++) {
          const nx = x + dx;
          if (nx < 0 || nx >= width) continue;
          const q = ny * width + nx;
          if (labels[q] === arm && !seen[q]) push(q);
        }
      }
      if (head === layerEnd && head < size) {
        layerStart.push(head);
        layerEnd = size;
      }
    }
    const walk = layerStart.length - 1;
    const handLength = face ? face.height : Math.round(settings.handFractionWithoutFace * walk);
    // the last `handLength` layers (never the seeds: an arm that is all hand still touches the garment)
    const firstHandLayer = Math.max(1, walk - handLength + 1);
    for (let i = layerStart[Math.min(firstHandLayer, walk)]!; i < size; i++) hands[order[i]!] = 1;
  }
  return hands;
}

/** The mask, 0 or 255 a pixel, full resolution; throws `no-person` without upper clothes or arms. */
export function personMask(labels: Uint8Array, width: number, height: number, settings: PersonMaskSettings = defaultPersonMaskSettings): Uint8Array {
  const { mask: region, count } = classMask(labels, [...UPPER_BODY_CLASSES, ...ARM_CLASSES]);
  const minimum = Math.max(1, Math.ceil(settings.minFraction * width * height));
  if (count < minimum) {
    throw new SegmentRejected('no-person', `found ${count} pixels of upper clothes or arms in ${width}x${height}, at least ${minimum} needed`);
  }
  const radius = Math.round(settings.dilateFraction * Math.max(width, height));
  const grown = dilate(region, width, height, radius);
  const hands = handPixels(labels, width, height, settings);
  const kept = new Uint8Array(256);
  for (const c of PROTECTED_CLASSES) kept[c] = 1;
  const out = new Uint8Array(labels.length);
  for (let i = 0; i < out.length; i++) out[i] = grown[i] && !kept[labels[i]!] && !hands[i] ? 255 : 0;
  return out;
}

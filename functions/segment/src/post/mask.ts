/**
 * Binary mask clean-up on typed arrays (1 = keep, 0 = not): the chosen classes, specks removed,
 * holes filled, bounding box, dilation. Connected components are flood fills over the mask
 * itself (marking visited pixels in place) so no full-resolution label image is allocated:
 * foreground connects through 8 neighbours, background through 4 (the usual dual pairing, so a
 * diagonal line of garment pixels closes a hole).
 */

export interface Box {
  x: number;
  y: number;
  width: number;
  height: number;
}

/** 1 where the label is one of `classes`; also returns how many. */
export function classMask(labels: Uint8Array, classes: readonly number[]): { mask: Uint8Array; count: number } {
  const wanted = new Uint8Array(256);
  for (const c of classes) wanted[c] = 1;
  const mask = new Uint8Array(labels.length);
  let count = 0;
  for (let i = 0; i < labels.length; i++) {
    const m = wanted[labels[i]!]!;
    mask[i] = m;
    count += m;
  }
  return { mask, count };
}

/** A growable stack of pixel indices. */
class PixelStack {
  private data = new Int32Array(4096);
  size = 0;
  push(i: number): void {
    if (this.size === this.data.length) {
      const bigger = new Int32Array(this.data.length * 2);
      bigger.set(this.data);
      this.data = bigger;
    }
    this.data[this.size++] = i;
  }
  pop(): number {
    return this.data[--this.size]!;
  }
}

/**
 * Flood from `start` over pixels whose value is `from` inside `box`, setting them to `to`;
 * returns the count. `eight`: 8-connectivity, else 4.
 */
function flood(mask: Uint8Array, width: number, box: Box, start: number, from: number, to: number, eight: boolean, stack: PixelStack): number {
  const x0 = box.x;
  const y0 = box.y;
  const x1 = box.x + box.width - 1;
  const y1 = box.y + box.height - 1;
  let count = 0;
  const visit = (q: number) => {
    if (mask[q] === from) {
      mask[q] = to;
      stack.push(q);
    }
  };
  mask[start] = to;
  stack.push(start);
  while (stack.size > 0) {
    const p = stack.pop();
    count++;
    const y = (p / width) | 0;
    const x = p - y * width;
    const left = x > x0;
    const right = x < x1;
    if (left) visit(p - 1);
    if (right) visit(p + 1);
    if (y > y0) {
      const q = p - width;
      visit(q);
      if (eight && left) visit(q - 1);
      if (eight && right) visit(q + 1);
    }
    if (y < y1) {
      const q = p + width;
      visit(q);
      if (eight && left) visit(q - 1);
      if (eight && right) visit(q + 1);
    }
  }
  return count;
}

const whole = (width: number, height: number): Box => ({ x: 0, y: 0, width, height });

/**
 * Removes every 8-connected piece smaller than `fraction` of the largest (misclassified specks);
 * returns the pixel count left.
 */
export function removeSpecks(mask: Uint8Array, width: number, height: number, fraction: number): number {
  const box = whole(width, height);
  const stack = new PixelStack();
  const pieces: { start: number; size: number }[] = [];
  for (let i = 0; i < mask.length; i++) {
    if (mask[i] === 1) pieces.push({ start: i, size: flood(mask, width, box, i, 1, 2, true, stack) });
  }
  const largest = pieces.reduce((m, p) => Math.max(m, p.size), 0);
  let kept = 0;
  for (const piece of pieces) {
    if (piece.size < fraction * largest) flood(mask, width, box, piece.start, 2, 0, true, stack);
    else kept += piece.size;
  }
  for (let i = 0; i < mask.length; i++) if (mask[i] === 2) mask[i] = 1;
  return kept;
}

/**
 * Fills enclosed holes (background not connected to the outside of `box`) of at most
 * `maxHole` pixels, except pixels whose label is in `keepOut` (a hand over a shirt stays out).
 * Only `box` is visited: everything outside the mask's bounding box is outside anyway.
 * Returns the number of pixels filled.
 */
export function fillHoles(mask: Uint8Array, labels: Uint8Array, width: number, box: Box, maxHole: number, keepOut: readonly number[]): number {
  const stack = new PixelStack();
  const x1 = box.x + box.width - 1;
  const y1 = box.y + box.height - 1;
  // 3 = background reachable from the box's edge
  for (let x = box.x; x <= x1; x++) {
    for (const y of [box.y, y1]) {
      const p = y * width + x;
      if (mask[p] === 0) flood(mask, width, box, p, 0, 3, false, stack);
    }
  }
  for (let y = box.y; y <= y1; y++) {
    for (const x of [box.x, x1]) {
      const p = y * width + x;
      if (mask[p] === 0) flood(mask, width, box, p, 0, 3, false, stack);
    }
  }
  const excluded = new Uint8Array(256);
  for (const c of keepOut) excluded[c] = 1;
  // what is still 0 is enclosed: 4 marks a hole being measured, then it is filled or given up (3)
  let filled = 0;
  for (let y = box.y; y <= y1; y++) {
    for (let x = box.x; x <= x1; x++) {
      const p = y * width + x;
      if (mask[p] !== 0) continue;
      const size = flood(mask, width, box, p, 0, 4, false, stack);
      if (size <= maxHole) {
        flood(mask, width, box, p, 4, 5, false, stack);
      } else {
        flood(mask, width, box, p, 4, 3, false, stack);
      }
    }
  }
  for (let y = box.y; y <= y1; y++) {
    for (let p = y * width + box.x, end = y * width + x1; p <= end; p++) {
      const v = mask[p]!;
      if (v === 3) mask[p] = 0;
      else if (v === 5) {
        const fill = excluded[labels[p]!] ? 0 : 1;
        mask[p] = fill;
        filled += fill;
      }
    }
  }
  return filled;
}

/** The smallest box holding every nonzero pixel; undefined when there is none. */
export function boundingBox(mask: Uint8Array, width: number, height: number): Box | undefined {
  let minX = width;
  let minY = height;
  let maxX = -1;
  let maxY = -1;
  for (let y = 0; y < height; y++) {
    const row = y * width;
    let first = -1;
    let last = -1;
    for (let x = 0; x < width; x++) {
      if (mask[row + x]) {
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
  return maxX < 0 ? undefined : { x: minX, y: minY, width: maxX - minX + 1, height: maxY - minY + 1 };
}

/** `box` grown by `margin` pixels on each side, kept inside the image. */
export function expandBox(box: Box, margin: number, width: number, height: number): Box {
  const x = Math.max(0, box.x - margin);
  const y = Math.max(0, box.y - margin);
  return { x, y, width: Math.min(width, box.x + box.width + margin) - x, height: Math.min(height, box.y + box.height + margin) - y };
}

/** Square dilation by `radius` (a (2r+1)² structuring element): two running-count passes. */
export function dilate(mask: Uint8Array, width: number, height: number, radius: number): Uint8Array {
  if (radius <= 0) return mask.slice();
  const rows = new Uint8Array(mask.length);
  for (let y = 0; y < height; y++) {
    const row = y * width;
    let inWindow = 0;
    for (let x = 0; x < Math.min(radius, width); x++) inWindow += mask[row + x] ? 1 : 0;
    for (let x = 0; x < width; x++) {
      const enter = x + radius;
      if (enter < width && mask[row + enter]) inWindow++;
      const leave = x - radius - 1;
      if (leave >= 0 && mask[row + leave]) inWindow--;
      rows[row + x] = inWindow > 0 ? 1 : 0;
    }
  }
  const out = new Uint8Array(mask.length);
  for (let x = 0; x < width; x++) {
    let inWindow = 0;
    for (let y = 0; y < Math.min(radius, height); y++) inWindow += rows[y * width + x]!;
    for (let y = 0; y < height; y++) {
      const enter = y + radius;
      if (enter < height) inWindow += rows[enter * width + x]!;
      const leave = y - radius - 1;
      if (leave >= 0) inWindow -= rows[leave * width + x]!;
      out[y * width + x] = inWindow > 0 ? 1 : 0;
    }
  }
  return out;
}

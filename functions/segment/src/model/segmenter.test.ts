import { cpSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { AutoImageProcessor, RawImage } from '@huggingface/transformers';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LABELS } from '../labels.ts';
import { TINY_MODEL } from './location.ts';
import { loadSegmenter, ModelMissing, normaliser, type Segmenter } from './segmenter.ts';

const grey = (value: number, size = 512) => new Uint8Array(size * size * 3).fill(value);
const gradient = (width: number, height: number) => {
  const data = Buffer.alloc(width * height * 3);
  for (let i = 0; i < data.length; i++) data[i] = (i * 31) % 251;
  return { data, width, height };
};

describe('loadSegmenter on the committed tiny model (the real loading and inference path)', () => {
  let fp32: Segmenter;
  let q8: Segmenter;
  beforeAll(async () => {
    fp32 = await loadSegmenter({ modelId: TINY_MODEL.id, modelDir: TINY_MODEL.dir, dtype: 'fp32', threads: 1 });
    q8 = await loadSegmenter({ modelId: TINY_MODEL.id, modelDir: TINY_MODEL.dir, dtype: 'q8', threads: 1 });
  }, 60_000);
  afterAll(async () => {
    await fp32?.dispose();
    await q8?.dispose();
  });

  it('reads the labels and the input size from the hub layout, and times its load and warm-up', () => {
    expect(fp32.labels).toEqual([...LABELS]);
    expect([fp32.inputWidth, fp32.inputHeight]).toEqual([512, 512]);
    expect(fp32).toMatchObject({ modelId: TINY_MODEL.id, dtype: 'fp32', fallback: false });
    expect(fp32.loadSeconds).toBeGreaterThan(0);
  });

  it('gives logits of 18 classes at a quarter of the input size, the same for the same pixels', async () => {
    const a = await fp32.logitsOfInput(grey(90));
    expect([a.classes, a.height, a.width]).toEqual([18, 128, 128]);
    expect(a.data.length).toBe(18 * 128 * 128);
    expect(a.data.every(Number.isFinite)).toBe(true);
    expect((await fp32.logitsOfInput(grey(90))).data).toEqual(a.data);
    expect((await fp32.logitsOfInput(grey(200))).data).not.toEqual(a.data);
  });

  it('resizes a photo of any size to the input', async () => {
    const logits = await fp32.logits(gradient(300, 700));
    expect([logits.classes, logits.height, logits.width]).toEqual([18, 128, 128]);
  });

  it('loads the quantized weights for q8 (another file, other numbers, same shape)', async () => {
    const a = await fp32.logitsOfInput(grey(90));
    const b = await q8.logitsOfInput(grey(90));
    expect(q8.dtype).toBe('q8');
    expect([b.classes, b.height, b.width]).toEqual([18, 128, 128]);
    expect(b.data).not.toEqual(a.data);
  });

  it('normalises the pixels exactly as the image processor of the model does', async () => {
    const processor = await AutoImageProcessor.from_pretrained(TINY_MODEL.id, { local_files_only: true });
    // (transformers.js reads the tiny model's folder, set by the load above) sharp has resized already:
    // the processor's own resize is not part of the comparison
    (processor as unknown as { do_resize: boolean }).do_resize = false;
    const rgb = new Uint8Array(gradient(512, 512).data);
    const expected = (await processor(new RawImage(new Uint8ClampedArray(rgb), 512, 512, 3))).pixel_values;
    const ours = normaliser(processor as unknown as Parameters<typeof normaliser>[0])(rgb);
    expect(expected.dims).toEqual([1, 3, 512, 512]);
    let worst = 0;
    for (let i = 0; i < ours.length; i++) worst = Math.max(worst, Math.abs(ours[i]! - (expected.data as Float32Array)[i]!));
    expect(worst).toBeLessThan(1e-5);
  });

  it('refuses pixels that are not the input size', async () => {
    await expect(fp32.logitsOfInput(grey(90, 64))).rejects.toThrow('expected 512x512 RGB pixels, got 12288 bytes');
  });
});

describe('a missing model', () => {
  const empty = mkdtempSync(join(tmpdir(), 'proteus-models-'));
  afterAll(() => rmSync(empty, { recursive: true, force: true }));

  it('fails saying where it looked and how to provide the model', async () => {
    const error = await loadSegmenter({ modelId: 'Xenova/segformer_b2_clothes', modelDir: empty, dtype: 'q8' }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ModelMissing);
    const message = (error as ModelMissing).message;
    expect(message).toContain(`the SegFormer model Xenova/segformer_b2_clothes (q8) is not in ${empty}`);
    expect(message).toContain(join(empty, 'Xenova/segformer_b2_clothes', 'onnx', 'model_quantized.onnx'));
    expect(message).toContain(join(empty, 'Xenova/segformer_b2_clothes', 'config.json'));
    expect(message).toContain('hf download Xenova/segformer_b2_clothes');
    expect(message).toContain('SEGMENT_MODEL_DIR');
    expect((error as ModelMissing).missing).toHaveLength(3);
  });

  it('names only the weights file when the rest is there', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'proteus-models-'));
    try {
      cpSync(join(TINY_MODEL.dir, TINY_MODEL.id), join(dir, 'm/x'), { recursive: true, filter: (src) => !src.endsWith('model.onnx') });
      const error = (await loadSegmenter({ modelId: 'm/x', modelDir: dir, dtype: 'fp32' }).catch((e: unknown) => e)) as ModelMissing;
      expect(error.missing).toEqual([join(dir, 'm/x/onnx/model.onnx')]);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('falls back to the tiny random model when asked to (dev), and says so', async () => {
    const told: ModelMissing[] = [];
    const segmenter = await loadSegmenter({
      modelId: 'Xenova/segformer_b2_clothes',
      modelDir: empty,
      dtype: 'fp32',
      tinyFallback: true,
      onFallback: (e) => told.push(e),
    });
    try {
      expect(segmenter).toMatchObject({ modelId: TINY_MODEL.id, fallback: true });
      expect(told).toHaveLength(1);
      expect(told[0]).toBeInstanceOf(ModelMissing);
    } finally {
      await segmenter.dispose();
    }
  });

  it('fails, without hanging, on weights that are not an ONNX model', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'proteus-models-'));
    try {
      cpSync(join(TINY_MODEL.dir, TINY_MODEL.id), join(dir, 'm/x'), { recursive: true });
      writeFileSync(join(dir, 'm/x/onnx/model.onnx'), 'not a model');
      await expect(loadSegmenter({ modelId: 'm/x', modelDir: dir, dtype: 'fp32' })).rejects.toThrow();
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

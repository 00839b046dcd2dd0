import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { posePackageDir } from './pose-task.ts';
import { buildImageMetadata, describeModel, METADATA_NAME, ModelFormatError, readImageNormalization, withMetadata } from './tflite-metadata.ts';

const landmarkModel = new Uint8Array(readFileSync(join(posePackageDir(), 'pose_landmark_lite.tflite')));
const meta = (mean: number, std: number) =>
  buildImageMetadata({ name: 'm', description: 'd', version: '1', author: 'a', license: 'l', mean, std, inputName: 'input_1', outputNames: ['o1', 'o2'] });

describe('adding TFLite metadata to a model', () => {
  it('keeps the model (inputs, outputs, every buffer) and adds TFLITE_METADATA with the normalization', () => {
    const before = describeModel(landmarkModel);
    const after = withMetadata(landmarkModel, meta(0, 255));
    const described = describeModel(after);
    expect(described.inputs).toEqual(before.inputs);
    expect(described.outputs).toEqual(before.outputs);
    expect(described.buffers).toBe(before.buffers + 1);
    expect(described.metadata).toEqual([...before.metadata, METADATA_NAME]);
    expect(readImageNormalization(after)).toEqual({ mean: [0], std: [255], colorSpace: 1, inputName: 'input_1' });
  });

  it('keeps the original bytes whole, at a 64-byte aligned offset, after a small prefix', () => {
    const after = withMetadata(landmarkModel, meta(0, 255));
    const offset = after.length - landmarkModel.length;
    expect(offset % 64).toBe(0);
    expect(offset).toBeLessThan(4096);
    expect(Buffer.from(after.subarray(offset)).equals(Buffer.from(landmarkModel))).toBe(true);
    expect(new TextDecoder().decode(after.subarray(4, 8))).toBe('TFL3');
  });

  it('replaces earlier metadata instead of adding a second entry', () => {
    const once = withMetadata(landmarkModel, meta(0, 255));
    const twice = withMetadata(once, meta(127.5, 127.5));
    expect(describeModel(twice).metadata.filter((m) => m === METADATA_NAME)).toHaveLength(1);
    expect(readImageNormalization(twice)?.mean).toEqual([127.5]);
  });

  it('reads no normalization from a model without metadata', () => {
    expect(readImageNormalization(landmarkModel)).toBeUndefined();
  });

  it.each([
    ['a few bytes', new Uint8Array(10), /not a TFLite model: 10 bytes/],
    ['a PNG', new Uint8Array([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 0, 0, 0, 0, 0, 0, 0, 0]), /identifier .*expected "TFL3"/],
    [
      'a root past the end',
      (() => {
        const b = new Uint8Array(32);
        new DataView(b.buffer).setUint32(0, 1000, true);
        b.set(new TextEncoder().encode('TFL3'), 4);
        return b;
      })(),
      /root table at 1000 of 32 bytes/,
    ],
  ])('refuses %s', (_, bytes, message) => {
    expect(() => withMetadata(bytes, meta(0, 1))).toThrow(ModelFormatError);
    expect(() => withMetadata(bytes, meta(0, 1))).toThrow(message);
  });
});

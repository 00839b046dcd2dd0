import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { buildPoseTask, detectorWithMetadata, extractPackedFile, landmarksWithMetadata, posePackageDir } from './pose-task.ts';
import { describeModel, readImageNormalization } from './tflite-metadata.ts';

const dir = posePackageDir();
const DETECTOR = '/third_party/mediapipe/modules/pose_detection/pose_detection.tflite';

/** The entries of a stored zip, read from its central directory. */
function entries(zip: Uint8Array): Map<string, Uint8Array> {
  const view = new DataView(zip.buffer, zip.byteOffset, zip.byteLength);
  const end = zip.length - 22;
  const count = view.getUint16(end + 10, true);
  let at = view.getUint32(end + 16, true);
  const out = new Map<string, Uint8Array>();
  for (let i = 0; i < count; i++) {
    const size = view.getUint32(at + 24, true);
    const nameLength = view.getUint16(at + 28, true);
    const local = view.getUint32(at + 42, true);
    const name = new TextDecoder().decode(zip.subarray(at + 46, at + 46 + nameLength));
    const start = local + 30 + view.getUint16(local + 26, true) + view.getUint16(local + 28, true);
    out.set(name, zip.subarray(start, start + size));
    at += 46 + nameLength;
  }
  return out;
}

describe('the PoseLandmarker .task bundle', () => {
  it('holds the detector and the landmark model under the names the Tasks runtime looks for, each with its normalization', () => {
    const files = entries(buildPoseTask('lite'));
    expect([...files.keys()]).toEqual(['pose_detector.tflite', 'pose_landmarks_detector.tflite']);
    const detector = files.get('pose_detector.tflite') as Uint8Array;
    const landmarks = files.get('pose_landmarks_detector.tflite') as Uint8Array;
    // the detector: 224 x 224 in [-1, 1]; the landmarks: 256 x 256 in [0, 1]
    expect(readImageNormalization(detector)).toMatchObject({ mean: [127.5], std: [127.5], colorSpace: 1 });
    expect(readImageNormalization(landmarks)).toMatchObject({ mean: [0], std: [255], colorSpace: 1 });
    expect(describeModel(detector).inputs[0]?.shape).toEqual([1, 224, 224, 3]);
    expect(describeModel(landmarks).outputs.map((o) => o.shape)).toEqual([
      [1, 195],
      [1, 1],
      [1, 256, 256, 1],
      [1, 64, 64, 39],
      [1, 117],
    ]);
  });

  it('takes the detector out of the package’s packed data at the offsets its loader lists', () => {
    const loader = readFileSync(join(dir, 'pose_solution_packed_assets_loader.js'), 'utf8');
    const packed = new Uint8Array(readFileSync(join(dir, 'pose_solution_packed_assets.data')));
    const model = extractPackedFile(loader, packed, DETECTOR);
    expect(new TextDecoder().decode(model.subarray(4, 8))).toBe('TFL3');
  });

  it.each([
    ['a loader without a file list', 'console.log(1)', new Uint8Array(4), /no loadPackage/],
    [
      'a data file of another size',
      'loadPackage({"files": [{"filename": "/a", "start": 0, "end": 4}], "remote_package_size": 8})',
      new Uint8Array(4),
      /has 4 bytes; its loader expects 8/,
    ],
    [
      'a list without the detector',
      'loadPackage({"files": [{"filename": "/a", "start": 0, "end": 4}], "remote_package_size": 4})',
      new Uint8Array(4),
      /is not in the packed data \(it holds \/a\)/,
    ],
  ])('refuses %s', (_, loader, packed, message) => {
    expect(() => extractPackedFile(loader, packed, DETECTOR)).toThrow(message);
  });

  it('refuses a model of the wrong shape for either slot, naming what it got', () => {
    const landmarks = new Uint8Array(readFileSync(join(dir, 'pose_landmark_lite.tflite')));
    expect(() => detectorWithMetadata(landmarks)).toThrow(/pose detector input: expected a float32 1x224x224x3 tensor, got float32 1x256x256x3/);
    const loader = readFileSync(join(dir, 'pose_solution_packed_assets_loader.js'), 'utf8');
    const detector = extractPackedFile(loader, new Uint8Array(readFileSync(join(dir, 'pose_solution_packed_assets.data'))), DETECTOR);
    expect(() => landmarksWithMetadata(detector)).toThrow(/pose landmarks input: expected a float32 1x256x256x3 tensor/);
  });
});

/**
 * Builds MediaPipe's PoseLandmarker `.task` bundle from the TFLite files that the npm package
 * `@mediapipe/pose` carries, so no model is ever fetched from a third party: the pose detector
 * (inside the package's Emscripten data file, at the offsets its loader lists) and the
 * landmark model, each with the TFLite metadata the Tasks runtime needs, zipped uncompressed
 * as `pose_detector.tflite` and `pose_landmarks_detector.tflite`.
 */
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { buildImageMetadata, describeModel, ModelFormatError, readImageNormalization, type TensorInfo, withMetadata } from './tflite-metadata.ts';
import { storedZip } from './zip.ts';

export type PoseVariant = 'lite' | 'full' | 'heavy';

const DETECTOR_PATH = '/third_party/mediapipe/modules/pose_detection/pose_detection.tflite';
const LICENSE = 'Apache License 2.0 (the @mediapipe/pose npm package)';

export function posePackageDir(): string {
  const require = createRequire(import.meta.url);
  return dirname(require.resolve('@mediapipe/pose/package.json'));
}

/** The pose detector out of the package's packed data file, located by the loader script's file list. */
export function extractPackedFile(loaderScript: string, packed: Uint8Array, path: string): Uint8Array {
  const match = /loadPackage\((\{[\s\S]*?"remote_package_size":\s*\d+\s*\})\)/.exec(loaderScript);
  if (!match?.[1]) throw new ModelFormatError('the packed-assets loader has no loadPackage({files: ...}) list');
  const list = JSON.parse(match[1]) as { files: { filename: string; start: number; end: number }[]; remote_package_size: number };
  if (list.remote_package_size !== packed.length) {
    throw new ModelFormatError(`the packed data file has ${packed.length} bytes; its loader expects ${list.remote_package_size}`);
  }
  const file = list.files.find((f) => f.filename === path);
  if (!file) throw new ModelFormatError(`${path} is not in the packed data (it holds ${list.files.map((f) => f.filename).join(', ')})`);
  return packed.subarray(file.start, file.end);
}

function expectShape(what: string, tensor: TensorInfo | undefined, shape: number[]) {
  if (tensor?.type !== 'float32' || tensor.shape.join('x') !== shape.join('x')) {
    throw new ModelFormatError(`${what}: expected a float32 ${shape.join('x')} tensor, got ${tensor ? `${tensor.type} ${tensor.shape.join('x')}` : 'none'}`);
  }
}

/** The detector with its metadata: input 224x224 RGB in [-1, 1]; outputs 2254 boxes and scores (the Tasks graph's fixed SSD setup). */
export function detectorWithMetadata(model: Uint8Array): Uint8Array {
  const info = describeModel(model);
  expectShape('pose detector input', info.inputs[0], [1, 224, 224, 3]);
  expectShape('pose detector boxes', info.outputs[0], [1, 2254, 12]);
  expectShape('pose detector scores', info.outputs[1], [1, 2254, 1]);
  return withMetadata(
    model,
    buildImageMetadata({
      name: 'pose_detector',
      description: 'BlazePose detector (from @mediapipe/pose)',
      version: '1',
      author: 'Google (MediaPipe)',
      license: LICENSE,
      mean: 127.5,
      std: 127.5,
      inputName: info.inputs[0]?.name ?? 'input',
      outputNames: info.outputs.map((o) => o.name),
    }),
  );
}

/** The landmark model with its metadata: input 256x256 RGB in [0, 1]; outputs in the order the Tasks graph splits them. */
export function landmarksWithMetadata(model: Uint8Array): Uint8Array {
  const info = describeModel(model);
  expectShape('pose landmarks input', info.inputs[0], [1, 256, 256, 3]);
  expectShape('pose landmarks (33 x 5 + 6 auxiliary)', info.outputs[0], [1, 195]);
  expectShape('pose presence flag', info.outputs[1], [1, 1]);
  expectShape('world landmarks', info.outputs[4], [1, 117]);
  return withMetadata(
    model,
    buildImageMetadata({
      name: 'pose_landmarks_detector',
      description: 'BlazePose GHUM 3D landmarks (from @mediapipe/pose)',
      version: '1',
      author: 'Google (MediaPipe)',
      license: LICENSE,
      mean: 0,
      std: 255,
      inputName: info.inputs[0]?.name ?? 'input',
      outputNames: info.outputs.map((o) => o.name),
    }),
  );
}

/** The `.task` bundle for one landmark model variant, read from the installed `@mediapipe/pose`. */
export function buildPoseTask(variant: PoseVariant = 'lite', packageDir = posePackageDir()): Uint8Array {
  const loader = readFileSync(join(packageDir, 'pose_solution_packed_assets_loader.js'), 'utf8');
  const packed = new Uint8Array(readFileSync(join(packageDir, 'pose_solution_packed_assets.data')));
  const detector = detectorWithMetadata(extractPackedFile(loader, packed, DETECTOR_PATH));
  const landmarks = landmarksWithMetadata(new Uint8Array(readFileSync(join(packageDir, `pose_landmark_${variant}.tflite`))));
  for (const [name, model] of [
    ['pose_detector', detector],
    ['pose_landmarks_detector', landmarks],
  ] as const) {
    if (!readImageNormalization(model)) throw new ModelFormatError(`${name}: metadata did not read back`);
  }
  return storedZip([
    { name: 'pose_detector.tflite', data: detector },
    { name: 'pose_landmarks_detector.tflite', data: landmarks },
  ]);
}

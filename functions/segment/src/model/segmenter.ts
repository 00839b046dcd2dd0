/**
 * The SegFormer model, through transformers.js on onnxruntime-node, strictly offline: the hub
 * layout `<dir>/<model id>/{config.json, preprocessor_config.json, onnx/model.onnx,
 * onnx/model_quantized.onnx}` is read from a local folder and nothing is ever downloaded.
 * Loaded once per process, warmed up with one inference so the first request does not pay for
 * ONNX Runtime's lazy initialisation. A missing model fails with where it looked and how to
 * provide it; a dev stack may fall back to the committed tiny random model, loudly.
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { AutoImageProcessor, env, SegformerForSemanticSegmentation, Tensor } from '@huggingface/transformers';
import sharp from 'sharp';
import type { RgbImage } from '../decode.ts';
import type { Logits } from '../post/label-map.ts';
import { TINY_MODEL } from './location.ts';

export type ModelDtype = 'fp32' | 'q8';
const weightsFile: Record<ModelDtype, string> = { fp32: 'model.onnx', q8: 'model_quantized.onnx' };

export interface SegmenterOptions {
  modelId: string;
  modelDir: string;
  dtype: ModelDtype;
  /** ONNX Runtime intra-op threads; unset = its default (every core) */
  threads?: number | undefined;
  /** when the model is missing, load the tiny random one instead of failing (dev only) */
  tinyFallback?: boolean;
  onFallback?: (missing: ModelMissing) => void;
}

export interface Segmenter {
  modelId: string;
  modelDir: string;
  dtype: ModelDtype;
  /** true when this is the tiny random fallback: outputs are meaningless */
  fallback: boolean;
  labels: string[];
  /** the model's input, from preprocessor_config.json */
  inputWidth: number;
  inputHeight: number;
  /** seconds from the start of loading to the end of the warm-up */
  loadSeconds: number;
  /** Logits of one image: resized to the model's input, normalised, one forward pass. */
  logits(image: RgbImage): Promise<Logits>;
  /** Logits of pixels already at the model's input size (the benchmark's entry). */
  logitsOfInput(rgb: Uint8Array): Promise<Logits>;
  dispose(): Promise<void>;
}

export class ModelMissing extends Error {
  constructor(
    readonly modelId: string,
    readonly modelDir: string,
    readonly missing: string[],
    readonly dtype: ModelDtype,
  ) {
    const folder = join(modelDir, modelId);
    super(
      `the SegFormer model ${modelId} (${dtype}) is not in ${modelDir}: looked for ${missing.join(', ')}. ` +
        `Provide it: download the ONNX export into that folder, e.g. \`hf download ${modelId} config.json preprocessor_config.json ` +
        `onnx/${weightsFile[dtype]} --local-dir ${folder}\` (pip install huggingface_hub), or export weights you already have with ` +
        `\`bash functions/segment/tools/segment-py.sh functions/segment/tools/export_segformer.py --from-pretrained <folder> --fold-decode-head --out ${modelDir} --model-id ${modelId}\` ` +
        '(functions/segment/README.md); ' +
        'or point SEGMENT_MODEL_DIR and SEGMENT_MODEL_ID at where it is. In dev only, SEGMENT_TINY_FALLBACK=true runs a tiny random model instead (its output is meaningless).',
    );
    this.name = 'ModelMissing';
  }
}

/** The files a model needs, and which of them are missing. */
export function missingFiles(modelDir: string, modelId: string, dtype: ModelDtype): string[] {
  const folder = join(modelDir, modelId);
  return ['config.json', 'preprocessor_config.json', join('onnx', weightsFile[dtype])].map((f) => join(folder, f)).filter((f) => !existsSync(f));
}

/** The fields of preprocessor_config.json the model's input depends on (as transformers.js reads them). */
interface PreprocessorConfig {
  size?: { width?: number; height?: number };
  /** PIL's resampling filter: 0 nearest, 1 Lanczos, 2 bilinear, 3 bicubic */
  resample?: number;
  do_rescale?: boolean;
  rescale_factor?: number;
  do_normalize?: boolean;
  image_mean?: number[] | number;
  image_std?: number[] | number;
}

/**
 * RGB bytes (HWC) to the model's input (CHW floats): ((v * rescale) - mean) / std, as the
 * image processor computes it, in one pass. The processor itself would resize again (an affine
 * bilinear pass, no antialiasing) and take several passes; sharp has already resized.
 */
export function normaliser(config: PreprocessorConfig): (rgb: Uint8Array) => Float32Array {
  const rescale = config.do_rescale === false ? 1 : (config.rescale_factor ?? 1 / 255);
  const perChannel = (v: number[] | number | undefined, fallback: number) => (Array.isArray(v) ? v : [v ?? fallback, v ?? fallback, v ?? fallback]);
  const normalize = config.do_normalize !== false;
  const mean = normalize ? perChannel(config.image_mean, 0.5) : [0, 0, 0];
  const std = normalize ? perChannel(config.image_std, 0.5) : [1, 1, 1];
  const [m0 = 0, m1 = 0, m2 = 0] = mean;
  const [s0 = 1, s1 = 1, s2 = 1] = std;
  return (rgb) => {
    const n = rgb.length / 3;
    const out = new Float32Array(rgb.length);
    for (let p = 0, q = 0; p < n; p++, q += 3) {
      out[p] = (rgb[q]! * rescale - m0) / s0;
      out[n + p] = (rgb[q + 1]! * rescale - m1) / s1;
      out[2 * n + p] = (rgb[q + 2]! * rescale - m2) / s2;
    }
    return out;
  };
}

// transformers.js reads its settings from one global `env`: loads are serialised so each reads its own folder
let loading: Promise<unknown> = Promise.resolve();

export async function loadSegmenter(options: SegmenterOptions): Promise<Segmenter> {
  let source = { modelId: options.modelId, modelDir: options.modelDir, fallback: false };
  const missing = missingFiles(options.modelDir, options.modelId, options.dtype);
  if (missing.length > 0) {
    const error = new ModelMissing(options.modelId, options.modelDir, missing, options.dtype);
    if (!options.tinyFallback) throw error;
    options.onFallback?.(error);
    source = { modelId: TINY_MODEL.id, modelDir: TINY_MODEL.dir, fallback: true };
  }
  const load = loading.then(() => load_({ ...options, ...source }));
  loading = load.catch(() => undefined);
  return load;
}

async function load_(options: SegmenterOptions & { fallback: boolean }): Promise<Segmenter> {
  const started = performance.now();
  env.allowRemoteModels = false;
  env.allowLocalModels = true;
  env.useFSCache = false;
  env.localModelPath = options.modelDir.endsWith('/') ? options.modelDir : `${options.modelDir}/`;
  const session_options = options.threads ? { intraOpNumThreads: options.threads, interOpNumThreads: 1 } : {};
  const [model, processor] = await Promise.all([
    SegformerForSemanticSegmentation.from_pretrained(options.modelId, { dtype: options.dtype, device: 'cpu', local_files_only: true, session_options }),
    AutoImageProcessor.from_pretrained(options.modelId, { local_files_only: true }),
  ]);
  const config = processor as unknown as PreprocessorConfig;
  const inputWidth = config.size?.width ?? 512;
  const inputHeight = config.size?.height ?? 512;
  const normalise = normaliser(config);
  const labels = Object.entries((model.config as unknown as { id2label?: Record<string, string> }).id2label ?? {})
    .sort(([a], [b]) => Number(a) - Number(b))
    .map(([, name]) => name);

  async function logitsOfInput(rgb: Uint8Array): Promise<Logits> {
    if (rgb.length !== inputWidth * inputHeight * 3) throw new RangeError(`expected ${inputWidth}x${inputHeight} RGB pixels, got ${rgb.length} bytes`);
    const pixel_values = new Tensor('float32', normalise(rgb), [1, 3, inputHeight, inputWidth]);
    const { logits } = (await model({ pixel_values })) as { logits: { data: Float32Array; dims: number[] } };
    const [, classes = 0, height = 0, width = 0] = logits.dims;
    return { data: logits.data, classes, height, width };
  }

  // sharp's resize filters like PIL's (the model was trained on PIL resizes): the kernel widens when it shrinks
  const kernel = ({ 0: 'nearest', 1: 'lanczos3', 2: 'linear', 3: 'cubic' } as const)[config.resample ?? 2] ?? 'linear';

  async function logits(image: RgbImage): Promise<Logits> {
    // stretched to the input, as the hub processor does
    const input = await sharp(image.data, { raw: { width: image.width, height: image.height, channels: 3 } })
      .resize(inputWidth, inputHeight, { fit: 'fill', kernel })
      .raw()
      .toBuffer();
    return logitsOfInput(input);
  }

  // warm-up: ONNX Runtime allocates and plans on the first run
  await logitsOfInput(new Uint8Array(inputWidth * inputHeight * 3).fill(128));
  return {
    modelId: options.modelId,
    modelDir: options.modelDir,
    dtype: options.dtype,
    fallback: options.fallback,
    labels,
    inputWidth,
    inputHeight,
    loadSeconds: (performance.now() - started) / 1000,
    logits,
    logitsOfInput,
    dispose: async () => {
      await model.dispose();
    },
  };
}

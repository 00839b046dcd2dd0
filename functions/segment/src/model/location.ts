/**
 * Where models are: the hub id the function loads by default, the folder it looks in, and the
 * committed tiny random model. Kept apart from the loader so reading the configuration does not
 * load ONNX Runtime.
 */
import { resolve } from 'node:path';

/** The ONNX export of mattmdjaga/segformer_b2_clothes on the hub. */
export const DEFAULT_MODEL_ID = 'Xenova/segformer_b2_clothes';
/** `<package>/model/hub` (ignored by git): where an operator puts the downloaded model. */
export const DEFAULT_MODEL_DIR = resolve(import.meta.dirname, '..', '..', 'model', 'hub');
/** The committed tiny SegFormer with random weights (tools/export_segformer.py --size tiny): tests and the dev fallback. */
export const TINY_MODEL = { id: 'proteus/segformer-b2-clothes-tiny', dir: resolve(import.meta.dirname, '..', '..', 'model', 'tiny') } as const;

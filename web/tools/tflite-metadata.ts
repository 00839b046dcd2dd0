/**
 * TFLite metadata for the pose models. MediaPipe's Tasks runtime reads the input normalization
 * of a float image model from its TFLite metadata (a `ModelMetadata` flatbuffer, identifier
 * "M001", in a model buffer named by the `TFLITE_METADATA` entry of `Model.metadata`); the
 * legacy models `@mediapipe/pose` ships carry none, and the `tflite-support` writer is a Python
 * package we cannot count on. So the build writes the metadata itself (`flatbuffers`' builder,
 * field numbers from tflite-support's metadata_schema.fbs) and adds it to the model.
 *
 * Adding it without a full TFLite serializer: FlatBuffers offsets only point forward, and are
 * relative, so the original model is kept byte for byte as a block at the end of the new file
 * and a new root table is written in front of it. Its fields point into the block (operator
 * codes, subgraphs, ...) except `buffers` and `metadata`, which are new vectors listing the old
 * entries (in the block, forward) plus the metadata buffer and its entry (written before the
 * block). The prefix is padded to 64 bytes so every alignment inside the block still holds.
 */
import * as flatbuffers from 'flatbuffers';
import { FlatBuffer } from './flatbuffer.ts';

export const METADATA_NAME = 'TFLITE_METADATA';
const METADATA_IDENTIFIER = 'M001';
const MODEL_IDENTIFIER = 'TFL3';

// tflite schema.fbs: table Model
const MODEL = { version: 0, operatorCodes: 1, subgraphs: 2, description: 3, buffers: 4, metadataBuffer: 5, metadata: 6, signatureDefs: 7 } as const;
const MODEL_FIELDS = 8;
// table SubGraph / Tensor / Metadata / Buffer
const SUBGRAPH = { tensors: 0, inputs: 1, outputs: 2 } as const;
const TENSOR = { shape: 0, type: 1, name: 3 } as const;
const METADATA = { name: 0, buffer: 1 } as const;
const BUFFER = { data: 0 } as const;
// metadata_schema.fbs
const MODEL_METADATA = { name: 0, description: 1, version: 2, subgraphMetadata: 3, author: 4, license: 5, minParserVersion: 7 } as const;
const SUBGRAPH_METADATA = { name: 0, inputTensorMetadata: 2, outputTensorMetadata: 3 } as const;
const TENSOR_METADATA = { name: 0, description: 1, content: 3, processUnits: 4, stats: 5 } as const;
const CONTENT = { propertiesType: 0, properties: 1 } as const;
const CONTENT_PROPERTIES_IMAGE = 2;
const IMAGE_PROPERTIES = { colorSpace: 0 } as const;
const COLOR_SPACE_RGB = 1;
const PROCESS_UNIT = { optionsType: 0, options: 1 } as const;
const PROCESS_UNIT_NORMALIZATION = 1;
const NORMALIZATION = { mean: 0, std: 1 } as const;
const STATS = { max: 0, min: 1 } as const;

/** TensorType of schema.fbs, the ones these models use. */
const TENSOR_TYPES: Record<number, string> = { 0: 'float32', 2: 'int32', 3: 'uint8', 9: 'int8' };

export interface TensorInfo {
  name: string;
  shape: number[];
  type: string;
}

export interface ModelInfo {
  inputs: TensorInfo[];
  outputs: TensorInfo[];
  /** names of the Model.metadata entries */
  metadata: string[];
  buffers: number;
}

export class ModelFormatError extends Error {
  override name = 'ModelFormatError';
}

function modelOf(bytes: Uint8Array): { fb: FlatBuffer; root: number } {
  if (bytes.byteLength < 16) throw new ModelFormatError(`not a TFLite model: ${bytes.byteLength} bytes`);
  const fb = new FlatBuffer(bytes);
  if (fb.identifier() !== MODEL_IDENTIFIER) throw new ModelFormatError(`not a TFLite model: identifier ${JSON.stringify(fb.identifier())}, expected "TFL3"`);
  const root = fb.root();
  if (root < 8 || root >= bytes.byteLength) throw new ModelFormatError(`not a TFLite model: root table at ${root} of ${bytes.byteLength} bytes`);
  return { fb, root };
}

/** The main subgraph's inputs and outputs and the model's metadata entries. */
export function describeModel(bytes: Uint8Array): ModelInfo {
  const { fb, root } = modelOf(bytes);
  const subgraphs = fb.ref(root, MODEL.subgraphs);
  if (subgraphs === undefined || fb.vectorLength(subgraphs) !== 1) throw new ModelFormatError('expected exactly one subgraph');
  const subgraph = fb.tables(subgraphs)[0] as number;
  const tensors = fb.tables(fb.ref(subgraph, SUBGRAPH.tensors) as number);
  const tensor = (index: number): TensorInfo => {
    const t = tensors[index];
    if (t === undefined) throw new ModelFormatError(`tensor index ${index} out of range`);
    const shape = fb.ref(t, TENSOR.shape);
    const name = fb.ref(t, TENSOR.name);
    return {
      name: name === undefined ? '' : fb.string(name),
      shape: shape === undefined ? [] : fb.int32s(shape),
      type: TENSOR_TYPES[fb.int8(t, TENSOR.type)] ?? 'other',
    };
  };
  const indices = (field: number) => {
    const v = fb.ref(subgraph, field);
    return v === undefined ? [] : fb.int32s(v);
  };
  const metadata = fb.ref(root, MODEL.metadata);
  const buffers = fb.ref(root, MODEL.buffers);
  return {
    inputs: indices(SUBGRAPH.inputs).map(tensor),
    outputs: indices(SUBGRAPH.outputs).map(tensor),
    metadata: metadata === undefined ? [] : fb.tables(metadata).map((m) => fb.string(fb.ref(m, METADATA.name) as number)),
    buffers: buffers === undefined ? 0 : fb.vectorLength(buffers),
  };
}

export interface ImageInputMetadata {
  name: string;
  description: string;
  version: string;
  author: string;
  license: string;
  /** input normalization: (pixel - mean) / std, pixels in [0, 255] */
  mean: number;
  std: number;
  inputName: string;
  outputNames: string[];
}

/** The ModelMetadata flatbuffer of a float RGB image model: ImageProperties and NormalizationOptions on its one input. */
export function buildImageMetadata(meta: ImageInputMetadata): Uint8Array {
  const b = new flatbuffers.Builder(1024);
  const floats = (values: number[]) => {
    b.startVector(4, values.length, 4);
    for (const v of [...values].reverse()) b.addFloat32(v);
    return b.endVector();
  };
  const offsets = (values: number[]) => {
    b.startVector(4, values.length, 4);
    for (const v of [...values].reverse()) b.addOffset(v);
    return b.endVector();
  };

  // input: RGB image, normalized
  b.startObject(1);
  b.addFieldInt8(IMAGE_PROPERTIES.colorSpace, COLOR_SPACE_RGB, 0);
  const imageProperties = b.endObject();
  b.startObject(3);
  b.addFieldInt8(CONTENT.propertiesType, CONTENT_PROPERTIES_IMAGE, 0);
  b.addFieldOffset(CONTENT.properties, imageProperties, 0);
  const content = b.endObject();
  const mean = floats([meta.mean]);
  const std = floats([meta.std]);
  b.startObject(2);
  b.addFieldOffset(NORMALIZATION.mean, mean, 0);
  b.addFieldOffset(NORMALIZATION.std, std, 0);
  const normalization = b.endObject();
  b.startObject(2);
  b.addFieldInt8(PROCESS_UNIT.optionsType, PROCESS_UNIT_NORMALIZATION, 0);
  b.addFieldOffset(PROCESS_UNIT.options, normalization, 0);
  const processUnit = b.endObject();
  const processUnits = offsets([processUnit]);
  const statsMax = floats([(255 - meta.mean) / meta.std]);
  const statsMin = floats([(0 - meta.mean) / meta.std]);
  b.startObject(2);
  b.addFieldOffset(STATS.max, statsMax, 0);
  b.addFieldOffset(STATS.min, statsMin, 0);
  const stats = b.endObject();
  const inputName = b.createString(meta.inputName);
  const inputDescription = b.createString(`RGB image, pixels normalized as (value - ${meta.mean}) / ${meta.std}`);
  b.startObject(7);
  b.addFieldOffset(TENSOR_METADATA.name, inputName, 0);
  b.addFieldOffset(TENSOR_METADATA.description, inputDescription, 0);
  b.addFieldOffset(TENSOR_METADATA.content, content, 0);
  b.addFieldOffset(TENSOR_METADATA.processUnits, processUnits, 0);
  b.addFieldOffset(TENSOR_METADATA.stats, stats, 0);
  const input = b.endObject();

  // outputs: named only (the Tasks graphs read them by position)
  const outputs = meta.outputNames.map((name) => {
    const n = b.createString(name);
    b.startObject(7);
    b.addFieldOffset(TENSOR_METADATA.name, n, 0);
    return b.endObject();
  });
  const inputVector = offsets([input]);
  const outputVector = offsets(outputs);
  const subgraphName = b.createString(meta.name);
  b.startObject(10);
  b.addFieldOffset(SUBGRAPH_METADATA.name, subgraphName, 0);
  b.addFieldOffset(SUBGRAPH_METADATA.inputTensorMetadata, inputVector, 0);
  b.addFieldOffset(SUBGRAPH_METADATA.outputTensorMetadata, outputVector, 0);
  const subgraph = b.endObject();
  const subgraphs = offsets([subgraph]);

  const name = b.createString(meta.name);
  const description = b.createString(meta.description);
  const version = b.createString(meta.version);
  const author = b.createString(meta.author);
  const license = b.createString(meta.license);
  const minParser = b.createString('1.0.0');
  b.startObject(8);
  b.addFieldOffset(MODEL_METADATA.name, name, 0);
  b.addFieldOffset(MODEL_METADATA.description, description, 0);
  b.addFieldOffset(MODEL_METADATA.version, version, 0);
  b.addFieldOffset(MODEL_METADATA.subgraphMetadata, subgraphs, 0);
  b.addFieldOffset(MODEL_METADATA.author, author, 0);
  b.addFieldOffset(MODEL_METADATA.license, license, 0);
  b.addFieldOffset(MODEL_METADATA.minParserVersion, minParser, 0);
  const root = b.endObject();
  b.finish(root, METADATA_IDENTIFIER);
  return b.asUint8Array().slice();
}

/** A forward-only little-endian writer for the new prefix. */
class Writer {
  private buf = new Uint8Array(256);
  private view = new DataView(this.buf.buffer);
  length = 0;

  private ensure(extra: number) {
    if (this.length + extra <= this.buf.length) return;
    const next = new Uint8Array(Math.max(this.buf.length * 2, this.length + extra));
    next.set(this.buf);
    this.buf = next;
    this.view = new DataView(next.buffer);
  }
  align(n: number) {
    while (this.length % n) this.u8(0);
  }
  u8(v: number) {
    this.ensure(1);
    this.view.setUint8(this.length++, v);
  }
  u16(v: number) {
    this.ensure(2);
    this.view.setUint16(this.length, v, true);
    this.length += 2;
  }
  u32(v: number) {
    this.ensure(4);
    this.view.setUint32(this.length, v >>> 0, true);
    this.length += 4;
  }
  i32(v: number) {
    this.ensure(4);
    this.view.setInt32(this.length, v, true);
    this.length += 4;
  }
  bytes(b: Uint8Array) {
    this.ensure(b.length);
    this.buf.set(b, this.length);
    this.length += b.length;
  }
  /** Writes a placeholder uint32 and returns a setter for it. */
  slot(): (value: number) => void {
    const at = this.length;
    this.u32(0);
    return (value) => this.view.setUint32(at, value >>> 0, true);
  }
  /** Sets an offset slot at `at` to point at absolute position `target`. */
  point(set: (value: number) => void, at: number, target: number) {
    if (target <= at) throw new Error(`flatbuffer offsets point forward: ${target} <= ${at}`);
    set(target - at);
  }
  result(): Uint8Array {
    return this.buf.slice(0, this.length);
  }
}

/**
 * The model with `metadata` as its TFLITE_METADATA (a previous one is replaced). Everything else
 * is the original model, byte for byte, after a new prefix.
 */
export function withMetadata(model: Uint8Array, metadata: Uint8Array): Uint8Array {
  const { fb, root } = modelOf(model);
  const oldBuffersVector = fb.ref(root, MODEL.buffers);
  const oldBuffers = oldBuffersVector === undefined ? [] : fb.tables(oldBuffersVector);
  const oldMetadataVector = fb.ref(root, MODEL.metadata);
  const oldMetadata = (oldMetadataVector === undefined ? [] : fb.tables(oldMetadataVector)).filter(
    (m) => fb.string(fb.ref(m, METADATA.name) as number) !== METADATA_NAME,
  );
  // a model without buffers still needs the empty sentinel buffer 0 (schema.fbs)
  const sentinel = oldBuffers.length === 0;

  const w = new Writer();
  const setRoot = w.slot();
  w.bytes(new TextEncoder().encode(MODEL_IDENTIFIER));

  // vtable of the new root: every Model field the old root had, plus buffers and metadata
  const present = Array.from({ length: MODEL_FIELDS }, (_, i) => i === MODEL.buffers || i === MODEL.metadata || fb.field(root, i) !== undefined);
  const vtable = w.length;
  w.u16(4 + 2 * MODEL_FIELDS);
  w.u16(4 + 4 * MODEL_FIELDS);
  for (let i = 0; i < MODEL_FIELDS; i++) w.u16(present[i] ? 4 + 4 * i : 0);
  w.align(4);
  const table = w.length;
  setRoot(table);
  w.i32(table - vtable);
  const fieldSlots: ((value: number) => void)[] = [];
  for (let i = 0; i < MODEL_FIELDS; i++) fieldSlots.push(w.slot());
  const fieldAt = (i: number) => table + 4 + 4 * i;

  // the new buffers and metadata vectors; their entries are filled once positions are known
  w.align(4);
  const buffersVector = w.length;
  const bufferCount = oldBuffers.length + (sentinel ? 1 : 0) + 1;
  w.u32(bufferCount);
  const bufferSlots = Array.from({ length: bufferCount }, () => w.slot());
  const metadataVector = w.length;
  w.u32(oldMetadata.length + 1);
  const metadataSlots = Array.from({ length: oldMetadata.length + 1 }, () => w.slot());

  // the Metadata table {name: "TFLITE_METADATA", buffer: <its index>}
  const metadataIndex = bufferCount - 1;
  const entryVtable = w.length;
  w.u16(8);
  w.u16(12);
  w.u16(4);
  w.u16(8);
  const entry = w.length;
  w.i32(entry - entryVtable);
  const setEntryName = w.slot();
  w.u32(metadataIndex);
  const nameAt = w.length;
  const name = new TextEncoder().encode(METADATA_NAME);
  w.u32(name.length);
  w.bytes(name);
  w.u8(0);
  w.align(4);
  w.point(setEntryName, entry + 4, nameAt);

  // an empty Buffer table (the sentinel), when the model had none
  let sentinelTable = -1;
  if (sentinel) {
    const vt = w.length;
    w.u16(4);
    w.u16(4);
    sentinelTable = w.length;
    w.i32(sentinelTable - vt);
  }
  // the Buffer table {data: metadata}; data 16-aligned as schema.fbs asks (force_align: 16)
  const bufferVtable = w.length;
  w.u16(6);
  w.u16(8);
  w.u16(4);
  w.align(4);
  const bufferTable = w.length;
  w.i32(bufferTable - bufferVtable);
  const setData = w.slot();
  while ((w.length + 4) % 16) w.u8(0);
  const dataAt = w.length;
  w.u32(metadata.length);
  w.bytes(metadata);
  w.point(setData, bufferTable + 4, dataAt);

  // the old model follows the prefix, at an offset that keeps its alignment
  w.align(64);
  const shift = w.length;
  const old = (position: number) => shift + position;

  for (let i = 0; i < MODEL_FIELDS; i++) {
    const set = fieldSlots[i] as (value: number) => void;
    if (i === MODEL.buffers) w.point(set, fieldAt(i), buffersVector);
    else if (i === MODEL.metadata) w.point(set, fieldAt(i), metadataVector);
    else if (i === MODEL.version) set(fb.uint32(root, MODEL.version));
    else if (present[i]) w.point(set, fieldAt(i), old(fb.deref(fb.field(root, i) as number)));
  }
  const bufferTargets = [...(sentinel ? [sentinelTable] : oldBuffers.map(old)), bufferTable];
  bufferTargets.forEach((target, i) => {
    w.point(bufferSlots[i] as (value: number) => void, buffersVector + 4 + 4 * i, target);
  });
  const metadataTargets = [...oldMetadata.map(old), entry];
  metadataTargets.forEach((target, i) => {
    w.point(metadataSlots[i] as (value: number) => void, metadataVector + 4 + 4 * i, target);
  });

  const prefix = w.result();
  const out = new Uint8Array(prefix.length + model.length);
  out.set(prefix);
  out.set(model, prefix.length);
  return out;
}

export interface ReadNormalization {
  mean: number[];
  std: number[];
  colorSpace: number;
  inputName: string;
}

/** The TFLITE_METADATA of a model, read back: the input's normalization and color space (for checks and tests). */
export function readImageNormalization(model: Uint8Array): ReadNormalization | undefined {
  const { fb, root } = modelOf(model);
  const metadataVector = fb.ref(root, MODEL.metadata);
  if (metadataVector === undefined) return undefined;
  const entry = fb.tables(metadataVector).find((m) => fb.string(fb.ref(m, METADATA.name) as number) === METADATA_NAME);
  if (entry === undefined) return undefined;
  const buffer = fb.tables(fb.ref(root, MODEL.buffers) as number)[fb.uint32(entry, METADATA.buffer)];
  if (buffer === undefined) throw new ModelFormatError('TFLITE_METADATA names a buffer that does not exist');
  const data = fb.bytesOf(fb.ref(buffer, BUFFER.data) as number);
  const meta = new FlatBuffer(data);
  if (meta.identifier() !== METADATA_IDENTIFIER) throw new ModelFormatError(`metadata identifier ${JSON.stringify(meta.identifier())}, expected "M001"`);
  const subgraph = meta.tables(meta.ref(meta.root(), MODEL_METADATA.subgraphMetadata) as number)[0] as number;
  const input = meta.tables(meta.ref(subgraph, SUBGRAPH_METADATA.inputTensorMetadata) as number)[0] as number;
  const unit = meta.tables(meta.ref(input, TENSOR_METADATA.processUnits) as number)[0] as number;
  if (meta.int8(unit, PROCESS_UNIT.optionsType) !== PROCESS_UNIT_NORMALIZATION)
    throw new ModelFormatError('the first process unit is not NormalizationOptions');
  const normalization = meta.ref(unit, PROCESS_UNIT.options) as number;
  const content = meta.ref(input, TENSOR_METADATA.content) as number;
  const properties = meta.ref(content, CONTENT.properties) as number;
  return {
    mean: meta.float32s(meta.ref(normalization, NORMALIZATION.mean) as number),
    std: meta.float32s(meta.ref(normalization, NORMALIZATION.std) as number),
    colorSpace: meta.int8(properties, IMAGE_PROPERTIES.colorSpace),
    inputName: meta.string(meta.ref(input, TENSOR_METADATA.name) as number),
  };
}

/**
 * Just enough of a FlatBuffers reader to find tables, vectors and strings in a TFLite model
 * by field index (schema.fbs), without generated code: the build reads a few fields of the
 * pose models and re-roots them with metadata added (tflite-metadata.ts).
 */

export class FlatBuffer {
  readonly view: DataView;

  constructor(readonly bytes: Uint8Array) {
    this.view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  }

  /** The root table's position. */
  root(): number {
    return this.view.getUint32(0, true);
  }

  identifier(): string {
    return String.fromCharCode(...this.bytes.subarray(4, 8));
  }

  /** Where field `index` of the table at `table` sits, or undefined when the vtable leaves it out. */
  field(table: number, index: number): number | undefined {
    const vtable = table - this.view.getInt32(table, true);
    const vtableSize = this.view.getUint16(vtable, true);
    const slot = 4 + 2 * index;
    if (slot >= vtableSize) return undefined;
    const at = this.view.getUint16(vtable + slot, true);
    return at === 0 ? undefined : table + at;
  }

  /** The position an offset field (table, vector or string) points to. */
  deref(at: number): number {
    return at + this.view.getUint32(at, true);
  }

  /** The target of offset field `index`, or undefined when absent. */
  ref(table: number, index: number): number | undefined {
    const at = this.field(table, index);
    return at === undefined ? undefined : this.deref(at);
  }

  uint32(table: number, index: number, fallback = 0): number {
    const at = this.field(table, index);
    return at === undefined ? fallback : this.view.getUint32(at, true);
  }

  int8(table: number, index: number, fallback = 0): number {
    const at = this.field(table, index);
    return at === undefined ? fallback : this.view.getInt8(at);
  }

  vectorLength(vector: number): number {
    return this.view.getUint32(vector, true);
  }

  /** The tables (or strings) a vector of offsets points to. */
  tables(vector: number): number[] {
    return Array.from({ length: this.vectorLength(vector) }, (_, i) => this.deref(vector + 4 + 4 * i));
  }

  int32s(vector: number): number[] {
    return Array.from({ length: this.vectorLength(vector) }, (_, i) => this.view.getInt32(vector + 4 + 4 * i, true));
  }

  float32s(vector: number): number[] {
    return Array.from({ length: this.vectorLength(vector) }, (_, i) => this.view.getFloat32(vector + 4 + 4 * i, true));
  }

  bytesOf(vector: number): Uint8Array {
    return this.bytes.subarray(vector + 4, vector + 4 + this.vectorLength(vector));
  }

  string(at: number): string {
    return new TextDecoder().decode(this.bytesOf(at));
  }
}

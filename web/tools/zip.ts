/**
 * A stored (uncompressed) zip, as MediaPipe's `.task` bundles are: the runtime reads each
 * model in place from the archive. Each file's data starts on a 64-byte boundary (padding in
 * the local header's extra field, as zipalign does) so a model keeps the alignment of its
 * weights wherever it is read from.
 */
import { crc32 } from 'node:zlib';

export interface ZipEntry {
  name: string;
  data: Uint8Array;
}

const ALIGN = 64;
// 1980-01-01 00:00 in DOS time: the archive's bytes do not depend on when it was built
const DOS_TIME = 0;
const DOS_DATE = (0 << 9) | (1 << 5) | 1;

export function storedZip(entries: ZipEntry[]): Uint8Array {
  const names = new Set<string>();
  const parts: Uint8Array[] = [];
  const central: Uint8Array[] = [];
  let offset = 0;
  for (const entry of entries) {
    if (names.has(entry.name)) throw new Error(`duplicate zip entry ${JSON.stringify(entry.name)}`);
    names.add(entry.name);
    if (entry.data.length >= 0xffffffff) throw new Error(`${entry.name}: ${entry.data.length} bytes needs zip64, which this writer does not do`);
    const name = new TextEncoder().encode(entry.name);
    const crc = crc32(entry.data);
    const headerEnd = offset + 30 + name.length;
    const padding = (ALIGN - (headerEnd % ALIGN)) % ALIGN;
    const local = new Uint8Array(30 + name.length + padding);
    const l = new DataView(local.buffer);
    l.setUint32(0, 0x04034b50, true);
    l.setUint16(4, 10, true); // version needed: 1.0 (stored)
    l.setUint16(6, 0, true);
    l.setUint16(8, 0, true); // method: stored
    l.setUint16(10, DOS_TIME, true);
    l.setUint16(12, DOS_DATE, true);
    l.setUint32(14, crc, true);
    l.setUint32(18, entry.data.length, true);
    l.setUint32(22, entry.data.length, true);
    l.setUint16(26, name.length, true);
    l.setUint16(28, padding, true);
    local.set(name, 30);
    // the padding is zeros: an extra field block readers skip as a whole
    const cd = new Uint8Array(46 + name.length);
    const c = new DataView(cd.buffer);
    c.setUint32(0, 0x02014b50, true);
    c.setUint16(4, 20, true);
    c.setUint16(6, 10, true);
    c.setUint16(8, 0, true);
    c.setUint16(10, 0, true);
    c.setUint16(12, DOS_TIME, true);
    c.setUint16(14, DOS_DATE, true);
    c.setUint32(16, crc, true);
    c.setUint32(20, entry.data.length, true);
    c.setUint32(24, entry.data.length, true);
    c.setUint16(28, name.length, true);
    c.setUint32(42, offset, true);
    cd.set(name, 46);
    parts.push(local, entry.data);
    central.push(cd);
    offset += local.length + entry.data.length;
  }
  const centralSize = central.reduce((n, p) => n + p.length, 0);
  const end = new Uint8Array(22);
  const e = new DataView(end.buffer);
  e.setUint32(0, 0x06054b50, true);
  e.setUint16(8, entries.length, true);
  e.setUint16(10, entries.length, true);
  e.setUint32(12, centralSize, true);
  e.setUint32(16, offset, true);
  const all = [...parts, ...central, end];
  const out = new Uint8Array(all.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of all) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

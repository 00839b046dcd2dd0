import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { storedZip } from './zip.ts';

describe('storedZip', () => {
  it('writes an uncompressed zip another reader (Python’s zipfile) reads back, each file 64-byte aligned', () => {
    const a = new Uint8Array(1000).map((_, i) => i % 251);
    const b = new TextEncoder().encode('second file');
    const zip = storedZip([
      { name: 'pose_detector.tflite', data: a },
      { name: 'pose_landmarks_detector.tflite', data: b },
    ]);
    const dir = mkdtempSync(join(tmpdir(), 'proteus-zip-'));
    try {
      writeFileSync(join(dir, 'x.task'), zip);
      const script = [
        'import json, sys, zipfile',
        'z = zipfile.ZipFile(sys.argv[1])',
        'assert z.testzip() is None',
        'out = []',
        'for i in z.infolist():',
        '    data = z.read(i.filename)',
        '    with open(sys.argv[1], "rb") as f:',
        '        f.seek(i.header_offset + 26); n, m = int.from_bytes(f.read(2), "little"), int.from_bytes(f.read(2), "little")',
        '    out.append({"name": i.filename, "method": i.compress_type, "size": len(data), "start": i.header_offset + 30 + n + m, "sum": sum(data)})',
        'print(json.dumps(out))',
      ].join('\n');
      const entries = JSON.parse(execFileSync('python3', ['-c', script, join(dir, 'x.task')], { encoding: 'utf8' })) as {
        name: string;
        method: number;
        size: number;
        start: number;
        sum: number;
      }[];
      expect(entries.map((e) => [e.name, e.method, e.size])).toEqual([
        ['pose_detector.tflite', 0, 1000],
        ['pose_landmarks_detector.tflite', 0, b.length],
      ]);
      expect(entries.map((e) => e.start % 64)).toEqual([0, 0]);
      expect(entries[0]?.sum).toBe(a.reduce((s, v) => s + v, 0));
      // the data sits in the archive byte for byte where the header says
      expect(Buffer.from(zip.subarray(entries[1]?.start, (entries[1]?.start ?? 0) + b.length)).toString()).toBe('second file');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('does not depend on when it is built', () => {
    const entries = [{ name: 'a', data: new Uint8Array([1, 2, 3]) }];
    expect(Buffer.from(storedZip(entries)).equals(Buffer.from(storedZip(entries)))).toBe(true);
  });

  it('refuses two entries with one name', () => {
    expect(() =>
      storedZip([
        { name: 'a', data: new Uint8Array(1) },
        { name: 'a', data: new Uint8Array(1) },
      ]),
    ).toThrow(/duplicate zip entry "a"/);
  });
});

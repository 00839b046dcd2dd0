/**
 * Test photos. The public-domain astronaut portrait (NASA, Eileen Collins) that scikit-image
 * ships, taken from Debian's python3-skimage package the way CI can: already installed, or
 * `apt-get download` (no dependencies, nothing installed) and `dpkg-deb -x`, cached in
 * functions/segment/.cache. Without apt lists (a fresh machine) it runs `apt-get update` first
 * when it may (root), else says what to run.
 */
import { execFileSync } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readdirSync, renameSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const INSTALLED = '/usr/lib/python3/dist-packages/skimage/data/astronaut.png';
const IN_PACKAGE = 'usr/lib/python3/dist-packages/skimage/data/astronaut.png';
export const CACHE_DIR = join(import.meta.dirname, '..', '.cache');

function aptDownload(into: string): void {
  const download = () => execFileSync('apt-get', ['download', '-qq', 'python3-skimage'], { cwd: into, stdio: ['ignore', 'ignore', 'pipe'] });
  try {
    download();
  } catch (first) {
    if (process.getuid?.() !== 0) {
      throw new Error(
        `could not fetch python3-skimage for the astronaut test photo (${(first as Error).message}); run \`apt-get update\` as root, or \`apt-get install python3-skimage\``,
      );
    }
    execFileSync('apt-get', ['update', '-qq'], { stdio: ['ignore', 'ignore', 'pipe'] });
    download();
  }
}

/** The path of astronaut.png (512x512 RGB), fetched once. */
export function astronautPath(): string {
  const cached = join(CACHE_DIR, 'astronaut.png');
  if (existsSync(cached)) return cached;
  mkdirSync(CACHE_DIR, { recursive: true });
  const partial = `${cached}.${process.pid}.partial`;
  if (existsSync(INSTALLED)) {
    copyFileSync(INSTALLED, partial);
  } else {
    const scratch = mkdtempSync(join(tmpdir(), 'proteus-skimage-'));
    try {
      aptDownload(scratch);
      const deb = readdirSync(scratch).find((f) => f.endsWith('.deb'));
      if (!deb) throw new Error('apt-get download python3-skimage wrote no .deb');
      execFileSync('dpkg-deb', ['-x', join(scratch, deb), join(scratch, 'x')]);
      copyFileSync(join(scratch, 'x', IN_PACKAGE), partial);
    } finally {
      rmSync(scratch, { recursive: true, force: true });
    }
  }
  renameSync(partial, cached);
  return cached;
}

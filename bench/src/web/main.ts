/**
 * The web mirror's figures (issue #8), in one run against the dev stack, in headless Chromium
 * (Debian's, software WebGL: no GPU) with the fake camera playing the astronaut portrait:
 *  - preview frame cost p95: warp update plus render on the main thread, per display frame,
 *    with the garment on, next to the same stage with the garment hidden (the video alone:
 *    the baseline, measured in the same run);
 *  - pose inference per frame (MediaPipe PoseLandmarker, lite model, CPU, in its worker);
 *  - the initial JavaScript the first page load fetches, gzipped (goal <= 250 KB; wasm and
 *    models excluded), and what the mirror screen adds when first opened;
 *  - the mesh update alone in Node (17 x 17 vertices), next to copying as many floats.
 *   npm run web -w @proteus/bench [-- SECONDS]   (default 10 s per phase)
 */
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { astronautPath } from '@proteus/segment/test-photos';
import { garmentQuad, launchChromium, MESH_SEGMENTS, meshPositions, repoRoot, startDevStack, y4mFromImage } from '@proteus/web/testing';

const SECONDS = Number(process.argv[2] ?? 10);
const GOAL_KB = 250;
const dist = join(repoRoot, 'web', 'dist');

const kb = (bytes: number) => `${(bytes / 1024).toFixed(1)} KB`;
const gz = (file: string) => gzipSync(readFileSync(join(dist, file)), { level: 9 }).length;

/** The scripts and styles index.html loads before anything else runs. */
function initialAssets(): { js: string[]; css: string[] } {
  const html = readFileSync(join(dist, 'index.html'), 'utf8');
  const js = [...html.matchAll(/<script[^>]+src="\/([^"]+\.js)"/g), ...html.matchAll(/<link[^>]+rel="modulepreload"[^>]+href="\/([^"]+\.js)"/g)].map(
    (m) => m[1] as string,
  );
  const css = [...html.matchAll(/<link[^>]+rel="stylesheet"[^>]+href="\/([^"]+\.css)"/g)].map((m) => m[1] as string);
  return { js: [...new Set(js)], css };
}

function meshInNode(): { meshUs: number; copyUs: number } {
  const landmarks = Array.from({ length: 33 }, (_, i) => ({ x: 0.3 + (i % 5) * 0.1, y: 0.3 + (i % 3) * 0.2 }));
  const out = new Float32Array((MESH_SEGMENTS + 1) ** 2 * 3);
  const source = new Float32Array(out.length).fill(1);
  const n = 200_000;
  const time = (fn: (i: number) => void) => {
    for (let i = 0; i < 10_000; i++) fn(i);
    const t0 = performance.now();
    for (let i = 0; i < n; i++) fn(i);
    return ((performance.now() - t0) * 1000) / n;
  };
  const meshUs = time((i) => {
    (landmarks[11] as { x: number }).x = 0.6 + (i % 7) * 1e-4;
    meshPositions(garmentQuad(landmarks, 1280, 720), MESH_SEGMENTS, out);
  });
  const copyUs = time(() => out.set(source));
  return { meshUs, copyUs };
}

async function main() {
  const work = mkdtempSync(join(tmpdir(), 'proteus-bench-web-'));
  const clip = join(work, 'astronaut.y4m');
  await y4mFromImage(astronautPath(), clip);
  process.stdout.write('web bench: starting the dev stack (builds the web app)…\n');
  const stack = await startDevStack();
  const browser = await launchChromium(clip);
  try {
    const version = browser.version();
    const context = await browser.newContext({ viewport: { width: 1280, height: 900 } });
    await context.grantPermissions(['camera'], { origin: stack.url });
    const page = await context.newPage();
    await page.goto(`${stack.url}/signup`);
    await page.getByLabel('E-mail').fill(`bench-${Date.now()}@example.org`);
    await page.getByLabel('Password').fill('correct horse battery staple');
    await page.getByRole('button', { name: 'Create account' }).click();
    await page.waitForURL(/\/wardrobe$/);
    await page.getByTestId('garment-input').setInputFiles(astronautPath());
    await page.waitForSelector('[data-testid="garment"][data-state="ready"]', { timeout: 180_000 });
    await page.goto(`${stack.url}/mirror`);
    await page.waitForSelector('[data-testid="stage"][data-garment="shown"]', { timeout: 180_000 });

    const stage = page.getByTestId('stage');
    const read = async () => {
      const d = await stage.evaluate((e) => ({ ...(e as unknown as { dataset: Record<string, string> }).dataset }));
      return {
        p95: Number(d.frameP95),
        p50: Number(d.frameP50),
        fps: Number(d.fps),
        inferenceP50: Number(d.inferenceMs),
        inferenceP95: Number(d.inferenceP95),
        frames: Number(d.frames),
      };
    };
    // the stats window holds the last 240 frames; wait a whole phase so it holds this phase only
    await page.waitForTimeout(SECONDS * 1000);
    const withGarment = await read();
    await page.keyboard.press('g');
    await page.waitForSelector('[data-testid="stage"][data-garment="hidden"]');
    await page.waitForTimeout(SECONDS * 1000);
    const videoOnly = await read();
    await page.keyboard.press('g');

    const { js, css } = initialAssets();
    const initialJs = js.reduce((n, f) => n + gz(f), 0);
    const cssBytes = css.reduce((n, f) => n + gz(f), 0);
    const lazy = (prefix: string) =>
      readdirSync(join(dist, 'assets'))
        .filter((f) => f.startsWith(prefix) && f.endsWith('.js'))
        .reduce((n, f) => n + gz(join('assets', f)), 0);
    const mirrorJs = lazy('MirrorPage-');
    const workerJs = lazy('pose.worker-');
    const { meshUs, copyUs } = meshInNode();

    const lines = [
      `web mirror, headless Chromium ${version} (software WebGL, --disable-gpu), ${SECONDS} s per phase, fake camera 512x512, dev stack running on the same machine`,
      `  preview frame cost (warp update + render, main thread): p95 ${withGarment.p95.toFixed(2)} ms, p50 ${withGarment.p50.toFixed(2)} ms at ${withGarment.fps.toFixed(1)} fps`,
      `    baseline, same run, garment hidden (video only):     p95 ${videoOnly.p95.toFixed(2)} ms, p50 ${videoOnly.p50.toFixed(2)} ms at ${videoOnly.fps.toFixed(1)} fps`,
      `  pose inference per frame (PoseLandmarker lite, CPU, worker): p50 ${withGarment.inferenceP50.toFixed(1)} ms, p95 ${withGarment.inferenceP95.toFixed(1)} ms`,
      `  mesh update alone (Node, 289 vertices): ${meshUs.toFixed(2)} us; copying 867 floats: ${copyUs.toFixed(2)} us`,
      `  initial JS, gzip -9: ${kb(initialJs)} (${js.join(', ')}) + CSS ${kb(cssBytes)}; goal <= ${GOAL_KB} KB: ${initialJs <= GOAL_KB * 1024 ? 'met' : 'NOT met'}`,
      `  loaded with the mirror screen, gzip -9: ${kb(mirrorJs)} (three.js and the preview) + pose worker ${kb(workerJs)}; wasm and models excluded`,
    ];
    process.stdout.write(`${lines.join('\n')}\n`);
  } finally {
    await browser.close();
    await stack.stop();
    rmSync(work, { recursive: true, force: true });
  }
}

await main();

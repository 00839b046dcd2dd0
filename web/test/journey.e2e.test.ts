/**
 * The shopper's whole journey in headless Chromium against the full dev stack: sign up, upload
 * a garment and see it cut out, the mirror finds the pose on the fake camera (the public-domain
 * astronaut portrait Debian's python3-skimage ships, played as a y4m clip) and draws the garment
 * (checked on pixels: the torso changes when the garment is shown, the rest of the frame does
 * not), Snap, and the result arrives through the WebSocket. Also: nothing is fetched from
 * anywhere but our own server and storage (no CDN, no telemetry), and a phone-sized layout.
 * Screenshots go to web/test-results/e2e/.
 */
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { astronautPath } from '@proteus/segment/test-photos';
import type { Browser, Page, Request, WebSocketRoute } from 'playwright-core';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { launchChromium } from './browser.ts';
import { type DevStack, startDevStack } from './dev-stack.ts';
import { y4mFromImage } from './fake-camera.ts';

const OUT = join(import.meta.dirname, '..', 'test-results', 'e2e');
let stack: DevStack;
let browser: Browser;
let page: Page;
const requests: Request[] = [];
/** while true, /updates connections are refused: the server side of the socket is "down" */
let socketsDown = false;
const sockets: WebSocketRoute[] = [];
const consoleErrors: string[] = [];

const shot = (name: string) => page.screenshot({ path: join(OUT, `${name}.png`), fullPage: true });
const stage = () => page.getByTestId('stage');

/** The stage canvas as raw RGB. */
async function stagePixels(): Promise<{ data: Buffer; width: number; height: number }> {
  const png = await page.locator('.stage-canvas').screenshot();
  const { data, info } = await sharp(png).removeAlpha().raw().toBuffer({ resolveWithObject: true });
  return { data, width: info.width, height: info.height };
}

beforeAll(async () => {
  mkdirSync(OUT, { recursive: true });
  const clip = join(OUT, 'astronaut.y4m');
  await y4mFromImage(astronautPath(), clip);
  stack = await startDevStack();
  browser = await launchChromium(clip);
  const context = await browser.newContext({ viewport: { width: 1280, height: 900 } });
  await context.grantPermissions(['camera'], { origin: stack.url });
  page = await context.newPage();
  // every /updates socket goes through here, so the test can take them down and bring them back
  await page.routeWebSocket(/\/updates$/, (ws) => {
    if (socketsDown) {
      ws.close({ code: 1013, reason: 'down for the test' });
      return;
    }
    sockets.push(ws);
    ws.connectToServer();
  });
  page.on('request', (r) => requests.push(r));
  page.on('console', (m) => {
    // MediaPipe's runtime logs through console.error even at INFO level ("INFO: Created TensorFlow Lite XNNPACK delegate")
    if (m.type() === 'error' && !/^(INFO|WARNING): |^[IW]\d{4} /.test(m.text())) consoleErrors.push(m.text());
  });
  page.on('pageerror', (e) => consoleErrors.push(e.message));
}, 300_000);

afterAll(async () => {
  await browser?.close();
  await stack?.stop();
}, 60_000);

describe('the web mirror, end to end', () => {
  it('takes a new shopper from sign-up to a try-on result', async () => {
    const email = `shopper-${Date.now()}@example.org`;

    // 1. sign up (signed out, the app sends you to sign in)
    await page.goto(stack.url);
    await page.waitForURL(/\/signin$/);
    await page.getByRole('link', { name: 'Create an account' }).click();
    await page.getByLabel('Name (optional)').fill('Eileen');
    await page.getByLabel('E-mail').fill(email);
    await page.getByLabel('Password').fill('correct horse battery staple');
    await page.getByRole('button', { name: 'Create account' }).click();
    await page.waitForURL(/\/wardrobe$/);
    await expect.poll(() => page.getByTestId('connection').textContent(), { timeout: 20_000 }).toContain('Live');
    await shot('01-signed-up');

    // 2. a garment photo: uploaded with the presigned POST, then cut out
    await page.getByTestId('garment-input').setInputFiles(astronautPath());
    const garment = page.getByTestId('garment').first();
    await expect.poll(() => garment.getAttribute('data-state'), { timeout: 180_000, interval: 500 }).toBe('ready');
    const cleaned = garment.getByRole('img', { name: 'Cut-out garment' });
    await expect.poll(() => cleaned.evaluate((img: HTMLImageElement) => img.complete && img.naturalWidth), { timeout: 20_000 }).toBeGreaterThan(0);
    await shot('02-wardrobe-cleaned-garment');

    // 3. the mirror: camera, pose, garment drawn
    await garment.getByRole('button', { name: 'Try on' }).click();
    await page.waitForURL(/\/mirror$/);
    await expect.poll(() => stage().getAttribute('data-camera'), { timeout: 30_000 }).toBe('live');
    await expect.poll(() => stage().getAttribute('data-model'), { timeout: 120_000 }).toBe('ready');
    await expect.poll(() => stage().getAttribute('data-pose'), { timeout: 60_000 }).toBe('tracking');
    await expect.poll(() => stage().getAttribute('data-garment'), { timeout: 30_000 }).toBe('shown');
    // let the smoothing settle on the still picture
    await page.waitForTimeout(1500);
    await shot('03-mirror-garment-on');
    const shown = await stagePixels();
    await page.keyboard.press('g');
    await expect.poll(() => stage().getAttribute('data-garment')).toBe('hidden');
    await page.waitForTimeout(300);
    const hidden = await stagePixels();
    await shot('04-mirror-garment-off');
    await page.keyboard.press('g');
    await expect.poll(() => stage().getAttribute('data-garment')).toBe('shown');

    // the overlay is drawn: where the garment is, pixels change; the frame's top rows (above the
    // raised collar line) stay as the camera sees them
    expect(shown.width).toBe(hidden.width);
    let changed = 0;
    let minX = Infinity;
    let maxX = -1;
    let minY = Infinity;
    let maxY = -1;
    let topChanged = 0;
    for (let y = 0; y < shown.height; y++) {
      for (let x = 0; x < shown.width; x++) {
        const i = (y * shown.width + x) * 3;
        const d =
          Math.abs((shown.data[i] as number) - (hidden.data[i] as number)) +
          Math.abs((shown.data[i + 1] as number) - (hidden.data[i + 1] as number)) +
          Math.abs((shown.data[i + 2] as number) - (hidden.data[i + 2] as number));
        if (d <= 24) continue;
        changed++;
        minX = Math.min(minX, x);
        maxX = Math.max(maxX, x);
        minY = Math.min(minY, y);
        maxY = Math.max(maxY, y);
        if (y < shown.height * 0.15) topChanged++;
      }
    }
    const area = shown.width * shown.height;
    // the dev stack's tiny random segmenter cuts out scattered fragments: about 3 % of the frame
    expect(changed / area).toBeGreaterThan(0.01);
    expect(topChanged / area).toBeLessThan(0.002);
    // the astronaut's torso: the changed region sits in the middle-lower part of the frame
    expect((minY + maxY) / 2 / shown.height).toBeGreaterThan(0.45);
    expect((minX + maxX) / 2 / shown.width).toBeGreaterThan(0.2);
    expect((minX + maxX) / 2 / shown.width).toBeLessThan(0.8);

    // 4. snap: frame and landmarks uploaded, the job queued, its result pushed over the socket
    const snapAt = requests.length;
    await page.getByTestId('snap').click();
    const job = page.getByTestId('snap-job');
    await expect.poll(() => job.count(), { timeout: 60_000 }).toBe(1);
    await shot('05-snap-queued');
    await expect.poll(() => job.getAttribute('data-status'), { timeout: 240_000, interval: 500 }).toBe('completed');
    // delivered by the WebSocket: no polling or resync of jobs happened meanwhile
    const after = requests.slice(snapAt).map((r) => new URL(r.url()).pathname);
    expect(after).toContain('/api/snap');
    expect(after.filter((p) => p.startsWith('/api/jobs') || p.startsWith('/api/status'))).toEqual([]);
    const snapRequest = requests.slice(snapAt).find((r) => new URL(r.url()).pathname === '/api/snap');
    const body = JSON.parse(snapRequest?.postData() ?? '{}') as { landmarks?: unknown[]; personKey?: string; garmentKey?: string };
    expect(body.landmarks).toHaveLength(33);
    expect(body.personKey).toMatch(/\/person\/.+_verified\.jpg$/);
    expect(body.garmentKey).toMatch(/\/cloth_clean\//);

    // 5. the socket goes down; a job that finishes meanwhile still shows up after it reconnects (resync)
    await page.getByTestId('snap').click();
    await expect.poll(() => page.getByTestId('snap-status').getAttribute('data-phase'), { timeout: 60_000 }).toBe('queued');
    const secondJob = await page.getByTestId('snap-job').getAttribute('data-job');
    socketsDown = true;
    for (const ws of sockets.splice(0)) await ws.close({ code: 1012, reason: 'restart for the test' });
    await expect.poll(() => page.getByTestId('connection').textContent(), { timeout: 10_000 }).toContain('Reconnecting');
    await shot('06-socket-down');
    // the job finishes on the server while the socket is down (read from the api, not the page)
    await expect
      .poll(
        () =>
          page.evaluate(async (id) => {
            const token = (JSON.parse(localStorage.getItem('proteus.session') ?? '{}') as { accessToken?: string }).accessToken;
            const response = await fetch(`/api/status/${id}`, { headers: { authorization: `Bearer ${token}` } });
            return ((await response.json()) as { status: string }).status;
          }, secondJob),
        { timeout: 240_000, interval: 1000 },
      )
      .toBe('completed');
    expect(await page.getByTestId('snap-job').getAttribute('data-status')).not.toBe('completed');
    const beforeResync = requests.length;
    socketsDown = false;
    await page.evaluate(() => window.dispatchEvent(new Event('online')));
    await expect.poll(() => page.getByTestId('connection').textContent(), { timeout: 30_000 }).toContain('Live');
    await expect.poll(() => page.getByTestId('snap-job').getAttribute('data-status'), { timeout: 30_000 }).toBe('completed');
    expect(requests.slice(beforeResync).some((r) => new URL(r.url()).pathname === '/api/jobs')).toBe(true);

    // 6. results: before and after
    await page.getByRole('link', { name: 'See results' }).click();
    await page.waitForURL(/\/results$/);
    await expect.poll(() => page.getByTestId('result').count()).toBe(2);
    const result = page.getByTestId('result').first();
    await expect.poll(() => result.getAttribute('data-status')).toBe('completed');
    const image = result.getByTestId('result-image');
    await expect.poll(() => image.evaluate((img: HTMLImageElement) => img.complete && img.naturalWidth), { timeout: 20_000 }).toBeGreaterThan(0);
    await shot('07-results');

    // 7. a phone
    await page.setViewportSize({ width: 390, height: 844 });
    await page.getByRole('link', { name: 'Mirror' }).click();
    await expect.poll(() => stage().getAttribute('data-garment'), { timeout: 60_000 }).toBe('shown');
    await shot('08-phone-mirror');
    const nav = await page.getByRole('navigation', { name: 'Main' }).boundingBox();
    expect(nav && nav.y + nav.height).toBeGreaterThan(844 - 100);

    // nothing but our own origin and our storage server: no CDN, no telemetry
    const hosts = new Set(requests.map((r) => new URL(r.url()).hostname).filter((h) => h));
    expect([...hosts].filter((h) => h !== 'localhost' && h !== '127.0.0.1')).toEqual([]);
    expect(consoleErrors.filter((e) => !/favicon/.test(e))).toEqual([]);
  }, 600_000);

  it('tells a shopper what went wrong: not an image, too big, camera blocked, offline; the operator view for a shopper', async () => {
    // a context without the camera permission
    const context = await browser.newContext({ viewport: { width: 1280, height: 900 } });
    const other = await context.newPage();
    try {
      await other.goto(`${stack.url}/signup`);
      await other.getByLabel('E-mail').fill(`states-${Date.now()}@example.org`);
      await other.getByLabel('Password').fill('short');
      await other.getByRole('button', { name: 'Create account' }).click();
      // the browser's own check (minlength) keeps a short password from being sent
      expect(await other.getByLabel('Password').evaluate((i: HTMLInputElement) => i.validity.tooShort)).toBe(true);
      await other.getByLabel('Password').fill('correct horse battery staple');
      await other.getByRole('button', { name: 'Create account' }).click();
      await other.waitForURL(/\/wardrobe$/);

      const input = other.getByTestId('garment-input');
      await input.setInputFiles({ name: 'shirt.jpg', mimeType: 'image/jpeg', buffer: Buffer.from('this is a text file, not a photo') });
      await expect.poll(() => other.getByTestId('upload-error').textContent()).toContain('shirt.jpg is not a JPEG, PNG or WebP image.');
      const big = Buffer.alloc(16 * 1024 * 1024, 0);
      big.set([0xff, 0xd8, 0xff, 0xe0]);
      await input.setInputFiles({ name: 'huge.jpg', mimeType: 'image/jpeg', buffer: big });
      await expect.poll(() => other.getByTestId('upload-error').textContent()).toContain('huge.jpg is 16 MB; the limit is 15 MB.');
      await other.screenshot({ path: join(OUT, '09-upload-refused.png'), fullPage: true });

      await other.getByRole('link', { name: 'Mirror' }).click();
      await expect.poll(() => other.getByTestId('camera-problem').getAttribute('data-kind'), { timeout: 30_000 }).toBe('denied');
      await expect.poll(() => other.getByTestId('no-garment-chosen').count()).toBe(1);
      expect(await other.getByTestId('snap').isDisabled()).toBe(true);
      await other.screenshot({ path: join(OUT, '10-camera-blocked.png'), fullPage: true });
      // no camera: a photo of the shopper stands in for it, and the pose is found on it
      await other.getByTestId('photo-input').setInputFiles(astronautPath());
      await expect.poll(() => other.getByTestId('stage').getAttribute('data-camera'), { timeout: 30_000 }).toBe('photo');
      await expect.poll(() => other.getByTestId('stage').getAttribute('data-pose'), { timeout: 120_000 }).toBe('tracking');

      await context.setOffline(true);
      await expect.poll(() => other.getByTestId('unreachable').count(), { timeout: 30_000 }).toBe(1);
      await other.screenshot({ path: join(OUT, '11-offline.png'), fullPage: true });
      await context.setOffline(false);
      await expect.poll(() => other.getByTestId('unreachable').count(), { timeout: 30_000 }).toBe(0);
      await expect.poll(() => other.getByTestId('connection').textContent(), { timeout: 30_000 }).toContain('Live');

      // the operator view for a shopper: GET /api/ops/status answers 403; it says so, and shows the stack's health
      await other.goto(`${stack.url}/ops`);
      await expect.poll(() => other.getByTestId('ops-unavailable').textContent(), { timeout: 20_000 }).toContain('Operators only');
      await expect.poll(() => other.getByTestId('health').locator('li').count(), { timeout: 20_000 }).toBe(5);
      await other.screenshot({ path: join(OUT, '12-ops-fallback.png'), fullPage: true });
    } finally {
      await context.close();
    }
  }, 300_000);
});

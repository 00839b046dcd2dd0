/**
 * Headless Chromium for the browser tests and the benchmark: Debian's chromium through
 * playwright-core (no browser download), with a fake camera playing a y4m clip, and no
 * traffic of its own (no background networking, updates, sync, QUIC).
 */
import { existsSync } from 'node:fs';
import { type Browser, chromium } from 'playwright-core';

export const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';

export const CHROMIUM_FLAGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];

export async function launchChromium(fakeCameraClip?: string): Promise<Browser> {
  if (!existsSync(CHROMIUM)) {
    throw new Error(`Chromium is not at ${CHROMIUM}: apt-get install -y chromium (scripts/bootstrap.sh does it for npm test), or set CHROMIUM_PATH`);
  }
  const camera = fakeCameraClip ? ['--use-fake-device-for-media-stream', `--use-file-for-fake-video-capture=${fakeCameraClip}`] : [];
  return chromium.launch({ executablePath: CHROMIUM, args: [...CHROMIUM_FLAGS, ...camera] });
}

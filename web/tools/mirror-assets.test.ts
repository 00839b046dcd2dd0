import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { describe, expect, it } from 'vitest';
import { TELEMETRY_OFF, TELEMETRY_URL, withoutTelemetry } from './mirror-assets.ts';

describe('MediaPipe telemetry off', () => {
  it('replaces the usage-log endpoint in the installed tasks-vision bundle', () => {
    const path = createRequire(import.meta.url)
      .resolve('@mediapipe/tasks-vision')
      .replace(/\.cjs$/, '.mjs');
    const code = readFileSync(path, 'utf8');
    const patched = withoutTelemetry(code, path);
    expect(patched).not.toContain(TELEMETRY_URL);
    expect(patched).toContain(TELEMETRY_OFF);
    expect(patched.length).toBe(code.length - TELEMETRY_URL.length + TELEMETRY_OFF.length);
  });

  it('fails the build when the endpoint is not there exactly once (an upgrade changed how it reports)', () => {
    expect(() => withoutTelemetry('fetch("https://example.org")', 'vision_bundle.mjs')).toThrow(/exactly once, found it 0 times/);
    expect(() => withoutTelemetry(`${TELEMETRY_URL} ${TELEMETRY_URL}`, 'vision_bundle.mjs')).toThrow(/found it 2 times/);
  });
});

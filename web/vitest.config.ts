import { defineConfig } from 'vitest/config';

// Unit tests here are plain TypeScript (no DOM); the browser journey is tested in Chromium (issue #8).
export default defineConfig({ test: { environment: 'node' } });

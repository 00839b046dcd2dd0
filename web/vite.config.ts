import { defineConfig } from 'vite';
import solid from 'vite-plugin-solid';
import { mirrorAssets, telemetryOff } from './tools/mirror-assets.ts';

export default defineConfig({
  plugins: [solid(), telemetryOff(), mirrorAssets({ variant: 'lite' })],
  build: { target: 'es2022', chunkSizeWarningLimit: 1024 },
  // the pose worker is a classic script (tasks-vision loads its wasm glue with importScripts)
  // and is bundled on its own: MediaPipe's telemetry must be switched off there too
  worker: { format: 'iife', plugins: () => [telemetryOff()] },
  server: { proxy: { '/api': 'http://127.0.0.1:8080', '/updates': { target: 'ws://127.0.0.1:8080', ws: true } } },
});

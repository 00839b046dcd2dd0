import { defineConfig } from 'vitest/config';

// Some tests start processes (the start script under npm, the worker's Python for its settings)
// on a shared two-core machine: give them room. Nothing here is timed.
export default defineConfig({ test: { testTimeout: 30_000 } });

import { defineConfig } from 'vitest/config';

// Unit tests (src/, tools/) run in Node: the app's logic is kept free of the DOM where it can be.
// test/journey.e2e.test.ts drives headless Chromium against the full dev stack.
export default defineConfig({
  test: {
    environment: 'node',
    include: ['src/**/*.test.ts', 'tools/**/*.test.ts', 'test/**/*.test.ts'],
    // the journey starts the whole stack: give it the time it needs on two cores
    hookTimeout: 300_000,
  },
});

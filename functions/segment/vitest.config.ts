import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    globalSetup: ['test/global-setup.ts'],
    // the model loads in each file that needs it; files run one at a time on a 2-core machine
    fileParallelism: false,
    testTimeout: 30_000,
  },
});

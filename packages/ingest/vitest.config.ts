import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    name: 'ingest',
    include: ['test/**/*.test.ts'],
    testTimeout: 60_000,
    hookTimeout: 120_000,
    // The memory test measures retained heap after a forced collection.
    execArgv: ['--expose-gc'],
  },
});

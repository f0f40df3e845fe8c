import { defineConfig } from 'vitest/config';

// One run over every package: each package keeps its own vitest.config.ts (its project),
// and `npm test` prints a single summary for all of them.
export default defineConfig({
  test: {
    projects: ['apps/*', 'packages/*', 'native'],
    // Database tests create real databases and servers; keep file-level parallelism modest
    // on a 2-core machine.
    maxWorkers: 2,
  },
});

import { defineConfig } from 'vitest/config';

// The root runs every package as a vitest project; this is the console's.
export default defineConfig({
  test: {
    name: 'admin',
    include: ['test/**/*.test.{ts,tsx}'],
    environment: 'jsdom',
    setupFiles: ['./test/setup.ts'],
  },
});

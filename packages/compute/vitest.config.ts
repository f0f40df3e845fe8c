import { defineConfig } from 'vitest/config';

export default defineConfig({ test: { name: 'compute', include: ['test/**/*.test.ts'], testTimeout: 60_000 } });

import { defineConfig } from 'vitest/config';

export default defineConfig({ test: { name: 'privacy', include: ['test/**/*.test.ts'] } });

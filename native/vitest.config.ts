import { defineConfig } from 'vitest/config';

export default defineConfig({ test: { name: 'native', include: ['test/**/*.test.ts'] } });

import { defineConfig } from 'vitest/config';

export default defineConfig({ test: { name: 'graphql', include: ['test/**/*.test.ts'] } });

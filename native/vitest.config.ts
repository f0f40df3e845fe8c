import { defineConfig } from 'vitest/config';

// --expose-gc: the robustness tests collect buffers transferred away from a running call.
export default defineConfig({ test: { name: 'native', include: ['test/**/*.test.ts'], execArgv: ['--expose-gc'] } });

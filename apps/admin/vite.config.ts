import { defineConfig } from 'vite';
import react from '@vitejs/plugin-react';

// In development the API runs on its own port; the console proxies its endpoints so that the
// session cookie and every request stay same-origin, exactly as in production, where the API
// serves dist/ itself.
const apiTarget = process.env.CLIENTELE_API_URL ?? 'http://127.0.0.1:4000';
const proxied = ['/graphql', '/auth', '/readyz', '/healthz'];

export default defineConfig({
  plugins: [react()],
  build: {
    outDir: 'dist',
    emptyOutDir: true,
    sourcemap: true,
  },
  server: {
    host: '127.0.0.1',
    port: 5173,
    proxy: Object.fromEntries(proxied.map((path) => [path, { target: apiTarget }])),
  },
  preview: {
    host: '127.0.0.1',
    proxy: Object.fromEntries(proxied.map((path) => [path, { target: apiTarget }])),
  },
});

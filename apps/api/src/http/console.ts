import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import express, { type Express } from 'express';

const API_PATHS = /^\/(graphql|auth|healthz|readyz|metrics)(\/|$)/;

/** The built console (apps/admin/dist), or null when it has not been built. */
export function consoleDirectory(): string | null {
  try {
    const manifest = createRequire(import.meta.url).resolve('@clientele/admin/package.json');
    const dist = path.join(path.dirname(manifest), 'dist');
    return existsSync(path.join(dist, 'index.html')) ? dist : null;
  } catch {
    return null;
  }
}

/**
 * Serves the console's static files: hashed assets cached for a year, index.html never
 * cached, and index.html for any other GET a browser makes (client-side routes).
 */
export function mountConsole(app: Express, dist: string | null): void {
  if (!dist) {
    app.get('/', (_req, res) => {
      res.type('text/plain').send('The Clientele console is not built. Run `npm run build` at the repository root.\n');
    });
    return;
  }
  app.use(
    '/assets',
    express.static(path.join(dist, 'assets'), { immutable: true, maxAge: '365d', index: false, fallthrough: false }),
  );
  app.use(express.static(dist, { index: false, maxAge: '1h' }));
  app.get(/.*/, (req, res, next) => {
    if (API_PATHS.test(req.path) || !req.accepts('html')) return next();
    res.setHeader('Cache-Control', 'no-cache');
    res.sendFile(path.join(dist, 'index.html'));
  });
}

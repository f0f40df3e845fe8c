#!/usr/bin/env node
// `npx clientele …` — the one command-line entry point (server, migrations, users, keys).
import { existsSync } from 'node:fs';
import { fileURLToPath, pathToFileURL } from 'node:url';

const entry = fileURLToPath(new URL('../dist/cli/main.js', import.meta.url));
if (!existsSync(entry)) {
  console.error('clientele: the CLI is not built yet. Run `npm run build` (or `npm start`) at the repository root first.');
  process.exit(1);
}
const { main } = await import(pathToFileURL(entry).href);
await main(process.argv);

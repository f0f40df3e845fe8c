#!/usr/bin/env node
// `npx clientele …` — the one command-line entry point (server, migrations, users, keys).
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { constants } from 'node:os';
import { fileURLToPath, pathToFileURL } from 'node:url';

const entry = fileURLToPath(new URL('../dist/cli/main.js', import.meta.url));
if (!existsSync(entry)) {
  console.error('clientele: the CLI is not built yet. Run `npm run build` (or `npm start`) at the repository root first.');
  process.exit(1);
}

// The API allocates ~100–250 KB per request (HTTP, GraphQL, JSON); with V8's default 16 MB
// semi-spaces a busy server scavenges several times a second and promotes in-flight requests
// to the old generation. A 64 MB young generation cuts the pauses about fourfold
// (bench:recommender reports them). V8 reads the size only at start-up, so the server commands
// run themselves again with it unless it (or CLIENTELE_NODE_TUNING=off) was already given.
const SERVER_COMMANDS = new Set(['start', 'serve']);
const SEMI_SPACE = '--max-semi-space-size';
const tuned =
  process.execArgv.some((a) => a.startsWith(SEMI_SPACE)) || (process.env.NODE_OPTIONS ?? '').includes(SEMI_SPACE) || process.env.CLIENTELE_NODE_TUNING === 'off';
if (SERVER_COMMANDS.has(process.argv[2] ?? '') && !tuned) {
  const child = spawn(process.execPath, [`${SEMI_SPACE}=64`, ...process.execArgv, fileURLToPath(import.meta.url), ...process.argv.slice(2)], { stdio: 'inherit' });
  // Ctrl-C in a terminal reaches both processes (one process group): the server handles it.
  // SIGTERM and SIGHUP from a supervisor name this process only, so they are passed on.
  process.on('SIGINT', () => undefined);
  for (const signal of ['SIGTERM', 'SIGHUP']) process.on(signal, () => child.kill(signal));
  child.on('exit', (code, signal) => process.exit(code ?? 128 + (signal ? (constants.signals[signal] ?? 0) : 1)));
} else {
  const { main } = await import(pathToFileURL(entry).href);
  await main(process.argv);
}

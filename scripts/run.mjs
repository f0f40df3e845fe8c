#!/usr/bin/env node
// The entry point behind the README's two commands (`npm start`, `npm test`) and the other
// root scripts. It only uses Node's standard library, because it runs before anything is
// installed: it installs the workspace with the pinned pnpm (through corepack), builds it with
// turbo (the native addon included), then does what was asked.
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const env = {
  ...process.env,
  // The registry reachable here carries no corepack signatures; the version is pinned in
  // package.json's packageManager field instead.
  COREPACK_INTEGRITY_KEYS: '0',
  COREPACK_ENABLE_DOWNLOAD_PROMPT: '0',
  COREPACK_ENABLE_STRICT: '0',
  TURBO_TELEMETRY_DISABLED: '1',
  TURBO_NO_UPDATE_NOTIFIER: '1',
  DO_NOT_TRACK: '1',
};

// turbo looks for the package manager on PATH; corepack puts a pinned `pnpm` shim in a
// folder of ours (nothing global is touched) and every child process gets it first on PATH.
const shims = path.join(root, 'node_modules', '.corepack-shims');
function ensurePnpmShim() {
  if (existsSync(path.join(shims, 'pnpm'))) return;
  mkdirSync(shims, { recursive: true });
  const result = spawnSync('corepack', ['enable', '--install-directory', shims, 'pnpm'], { cwd: root, stdio: 'inherit', env });
  if (result.status !== 0) fail('corepack could not install the pinned pnpm; is corepack available (Node 20 ships it)?');
}
env.PATH = `${shims}${path.delimiter}${env.PATH ?? ''}`;

function fail(message) {
  console.error(`clientele: ${message}`);
  process.exit(1);
}

/** Runs a command to completion with inherited output; exits with its status on failure. */
function run(command, args, options = {}) {
  const result = spawnSync(command, args, { cwd: root, stdio: 'inherit', env, ...options });
  if (result.error) fail(`could not run ${command}: ${result.error.message}`);
  if (result.status !== 0) {
    if (options.allowFailure) return result.status ?? 1;
    process.exit(result.status ?? 1);
  }
  return 0;
}

function pnpm(args, options) {
  return run('corepack', ['pnpm', ...args], options);
}

function install() {
  ensurePnpmShim();
  const frozen = existsSync(path.join(root, 'pnpm-lock.yaml')) ? ['--frozen-lockfile'] : [];
  pnpm(['install', ...frozen, '--prefer-offline', '--reporter=append-only']);
}

function build() {
  pnpm(['exec', 'turbo', 'run', 'build', '--output-logs=errors-only']);
}

/** Browser tests drive Debian's Chromium; install it when missing and we are allowed to. */
function ensureChromium() {
  if (existsSync('/usr/bin/chromium') || process.env.CLIENTELE_SKIP_BROWSER_INSTALL) return;
  const isRoot = typeof process.getuid === 'function' && process.getuid() === 0;
  if (!isRoot) {
    console.warn('clientele: /usr/bin/chromium is missing and this is not root; browser tests will skip.');
    return;
  }
  console.log('clientele: installing Chromium for the browser tests (apt-get)…');
  const quiet = { stdio: ['ignore', 'ignore', 'inherit'] };
  run('apt-get', ['update', '-qq'], { ...quiet, allowFailure: true });
  const status = run('apt-get', ['install', '-y', '-qq', 'chromium'], {
    ...quiet,
    allowFailure: true,
    env: { ...env, DEBIAN_FRONTEND: 'noninteractive' },
  });
  if (status !== 0) console.warn('clientele: could not install chromium; browser tests will skip.');
}

/** Runs the CLI in this process so Ctrl-C reaches the server's own shutdown handler. */
async function cli(args) {
  const entry = path.join(root, 'apps/api/dist/cli/main.js');
  if (!existsSync(entry)) fail(`the API was not built (${entry} is missing); run npm run build`);
  const { main } = await import(pathToFileURL(entry).href);
  await main(['node', 'clientele', ...args]);
}

const [command = 'start', ...rest] = process.argv.slice(2);
switch (command) {
  case 'start':
    install();
    build();
    await cli(['start', ...rest]);
    break;
  case 'build':
    install();
    build();
    break;
  case 'test':
    install();
    ensureChromium();
    build();
    // One vitest run over every package's project, so the summary counts everything.
    {
      const report = path.join(root, '.test-results', 'all.json');
      const status = pnpm(
        ['exec', 'vitest', 'run', '--reporter=default', '--reporter=json', `--outputFile.json=${report}`, ...rest],
        { allowFailure: true },
      );
      run(process.execPath, [path.join(root, 'scripts/summarise-tests.mjs'), report]);
      process.exit(status);
    }
  case 'bench': {
    install();
    build();
    const which = rest[0];
    const script = which ? `bench:${which}` : 'bench';
    const child = spawn('corepack', ['pnpm', '--dir', 'bench', 'run', script], {
      cwd: root,
      stdio: 'inherit',
      env,
    });
    child.on('exit', (code) => process.exit(code ?? 1));
    break;
  }
  case 'turbo':
    install();
    pnpm(['exec', 'turbo', 'run', ...rest]);
    break;
  case 'exec':
    install();
    pnpm(['exec', ...rest]);
    break;
  default:
    fail(`unknown command '${command}': expected start, build, test, bench, turbo or exec`);
}

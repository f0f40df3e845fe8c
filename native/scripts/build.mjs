#!/usr/bin/env node
// Builds the addon with cmake-js into build/Release/clientele_native.node (and, when nvcc is found,
// build/Release/clientele_cuda.so). Node-API headers come from the node-api-headers package, so
// nothing is downloaded. Environment:
//   CLIENTELE_CUDA=0          skip the CUDA sources even if nvcc is present
//   CLIENTELE_BUILD_JOBS=N    parallel compile jobs (default: number of cores)
//   CLIENTELE_BUILD_DEBUG=1   Debug build
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const here = path.dirname(fileURLToPath(import.meta.url));
const root = path.resolve(here, '..');
const require = createRequire(import.meta.url);

function fail(message) {
  console.error(`@clientele/native: ${message}`);
  process.exit(1);
}

function which(cmd) {
  const r = spawnSync('sh', ['-c', `command -v ${cmd}`], { encoding: 'utf8' });
  return r.status === 0 ? r.stdout.trim() : null;
}

const cmake = spawnSync('cmake', ['--version'], { encoding: 'utf8' });
if (cmake.error || cmake.status !== 0) {
  fail('cmake was not found. Install CMake ≥ 3.18 (Debian/Ubuntu: apt-get install cmake) and a C++17 compiler (apt-get install g++), then run npm run build again.');
}
const version = /cmake version (\d+)\.(\d+)/.exec(cmake.stdout);
if (version && (Number(version[1]) < 3 || (Number(version[1]) === 3 && Number(version[2]) < 18))) {
  fail(`cmake ${version[1]}.${version[2]} is too old; CMake ≥ 3.18 is needed.`);
}
if (!which('c++') && !which('g++') && !which('clang++')) {
  fail('no C++ compiler was found. Install a C++17 compiler (apt-get install g++ or clang), then run npm run build again.');
}

let cmakeJs;
try {
  cmakeJs = require.resolve('cmake-js/bin/cmake-js');
} catch {
  fail('cmake-js is not installed; run the workspace install first (npm run build from the repository root).');
}

const args = [cmakeJs, 'build', '--directory', root, '--out', path.join(root, 'build')];
const jobs = Number(process.env.CLIENTELE_BUILD_JOBS) || os.availableParallelism?.() || os.cpus().length;
args.push('--parallel', String(jobs));
if (process.env.CLIENTELE_BUILD_DEBUG === '1') args.push('--debug');

let nvcc = null;
if (process.env.CLIENTELE_CUDA !== '0') {
  nvcc = which('nvcc') ?? (existsSync('/usr/local/cuda/bin/nvcc') ? '/usr/local/cuda/bin/nvcc' : null);
}
if (nvcc) {
  args.push('--CDCLIENTELE_CUDA=ON', `--CDCMAKE_CUDA_COMPILER=${nvcc}`);
  console.log(`@clientele/native: building with the optional CUDA path (${nvcc})`);
} else {
  args.push('--CDCLIENTELE_CUDA=OFF');
  console.log('@clientele/native: nvcc not found (or CLIENTELE_CUDA=0), building CPU-only');
}

const r = spawnSync(process.execPath, args, { cwd: root, stdio: 'inherit' });
if (r.status !== 0) fail('the native build failed (see the output above).');
const out = path.join(root, 'build', 'Release', 'clientele_native.node');
if (!existsSync(out)) fail(`the build finished but ${out} is missing.`);
console.log(`@clientele/native: built ${path.relative(process.cwd(), out)}`);

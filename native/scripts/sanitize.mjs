#!/usr/bin/env node
// Two passes under AddressSanitizer + UndefinedBehaviorSanitizer:
// 1. the pure C++ core and its test executable (build-sanitize/, no Node headers involved);
// 2. the addon itself (build-asan/), loaded by the native package's JavaScript tests in a Node
//    process with the sanitizer runtimes preloaded, so the N-API glue (argument checks, worker
//    lifetimes, kept buffers) is checked on the same calls JavaScript makes.
// Exit status is the first failing pass's.
import { spawnSync } from 'node:child_process';
import os from 'node:os';
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const dir = path.join(root, 'build-sanitize');
const jobs = String(Number(process.env.CLIENTELE_BUILD_JOBS) || os.availableParallelism?.() || 2);

function run(cmd, args, env = process.env) {
  console.log(`$ ${cmd} ${args.join(' ')}`);
  const r = spawnSync(cmd, args, { cwd: root, stdio: 'inherit', env });
  if (r.error) {
    console.error(`could not run ${cmd}: ${r.error.message}`);
    process.exit(1);
  }
  if (r.status !== 0) process.exit(r.status ?? 1);
}

run('cmake', [
  '-S', root, '-B', dir,
  '-DCMAKE_BUILD_TYPE=Debug',
  '-DCLIENTELE_ADDON=OFF', '-DCLIENTELE_CUDA=OFF', '-DCLIENTELE_TESTS=ON', '-DCLIENTELE_SANITIZE=ON',
  ...(process.env.CXX ? [] : ['-DCMAKE_CXX_COMPILER=g++']),
]);
run('cmake', ['--build', dir, '--parallel', jobs]);
run(path.join(dir, 'core_tests'), process.argv.slice(2), {
  ...process.env,
  ASAN_OPTIONS: 'detect_leaks=1:abort_on_error=1:strict_string_checks=1',
  UBSAN_OPTIONS: 'print_stacktrace=1:halt_on_error=1',
});

const asan = spawnSync('g++', ['-print-file-name=libasan.so'], { encoding: 'utf8' }).stdout.trim();
const ubsan = spawnSync('g++', ['-print-file-name=libubsan.so'], { encoding: 'utf8' }).stdout.trim();
if (!path.isAbsolute(asan) || !existsSync(asan) || !path.isAbsolute(ubsan) || !existsSync(ubsan)) {
  console.log('skipping the addon under sanitizers: g++ does not provide libasan.so and libubsan.so here');
  process.exit(0);
}
const require = createRequire(import.meta.url);
const cmakeJs = require.resolve('cmake-js/bin/cmake-js');
run(process.execPath, [
  cmakeJs, 'build', '--directory', root, '--out', path.join(root, 'build-asan'), '--debug', '--parallel', jobs,
  '--CDCLIENTELE_SANITIZE=ON', '--CDCLIENTELE_CUDA=OFF',
]);
// vitest is a workspace-root dev dependency (its exports map hides the bin from require.resolve).
const vitest = path.join(root, '..', 'node_modules', 'vitest', 'vitest.mjs');
const sanitized = {
  ...process.env,
  CLIENTELE_NATIVE_ADDON: path.join(root, 'build-asan', 'Debug', 'clientele_native.node'),
  LD_PRELOAD: `${asan} ${ubsan}`,
  // V8 and Node keep allocations until exit by design; leaks are checked in the core pass.
  ASAN_OPTIONS: 'detect_leaks=0:abort_on_error=1',
  UBSAN_OPTIONS: 'print_stacktrace=1:halt_on_error=1',
};
// The addon's own tests (bad arguments, cancellation), then the compute package's (every
// algorithm on real data through the typed wrapper).
run(process.execPath, [vitest, 'run', '--root', root], sanitized);
run(process.execPath, [vitest, 'run', '--root', path.join(root, '..', 'packages', 'compute')], sanitized);

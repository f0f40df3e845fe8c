#!/usr/bin/env node
// Builds the pure C++ core and its test executable with AddressSanitizer + UndefinedBehaviorSanitizer
// in build-sanitize/ (no Node headers involved) and runs it. Exit status is the tests'.
import { spawnSync } from 'node:child_process';
import os from 'node:os';
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

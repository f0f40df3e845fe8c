// Helpers shared by the benchmark scripts.
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdtempSync, openSync, readFileSync, rmSync } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { seededRandom } from '@clientele/compute';
import { openDatabase } from '@clientele/db';
import pg from 'pg';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');

/** The shared datasets (MovieLens, Online Retail): CLIENTELE_DATASETS, or ../shared/datasets next to the repository. */
export function datasetsFolder() {
  for (const candidate of [process.env.CLIENTELE_DATASETS, path.resolve(root, '../shared/datasets')]) {
    if (candidate && existsSync(candidate)) return candidate;
  }
  return null;
}

/**
 * A fresh database for one benchmark case: a PostgreSQL database created on `pgServer` (a
 * server URL) and dropped by drop(), or, without a server, an embedded one in a temporary
 * folder. `env` points a `clientele` process at it; open() connects from this process.
 */
export async function freshDatabase(label, pgServer) {
  if (pgServer) {
    const name = `clientele_bench_${label}_${randomBytes(4).toString('hex')}`;
    const admin = new pg.Client({ connectionString: pgServer });
    await admin.connect();
    await admin.query(`CREATE DATABASE "${name}"`);
    await admin.end();
    const url = new URL(pgServer);
    url.pathname = `/${name}`;
    return {
      env: { DATABASE_URL: url.toString() },
      open: (options = {}) => openDatabase({ kind: 'postgres', url: url.toString() }, { maxConnections: 4, ...options }),
      async drop() {
        const c = new pg.Client({ connectionString: pgServer });
        await c.connect();
        await c.query(`DROP DATABASE IF EXISTS "${name}" WITH (FORCE)`);
        await c.end();
      },
    };
  }
  const dir = mkdtempSync(path.join(os.tmpdir(), `clientele-bench-${label}-`));
  return {
    env: { CLIENTELE_DATA_DIR: dir },
    open: () => openDatabase({ kind: 'embedded', dataDir: dir }),
    async drop() {
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** The product's seeded generator: benchmark data is the same every run. */
export const rng = seededRandom;

/** A TCP port free on 127.0.0.1 right now. */
export function freePort() {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address();
      server.close(() => resolve(port));
    });
  });
}

/**
 * Starts the API as its own process (`clientele serve --no-migrate`) with `env` on top of this
 * process's, and resolves once /readyz answers. Stop it with child.kill('SIGTERM').
 * BENCH_API_NODE_ARGS adds Node flags to that process, e.g. `--cpu-prof --cpu-prof-dir=/tmp/prof`.
 */
export async function startApi(env) {
  const port = await freePort();
  const nodeArgs = (process.env.BENCH_API_NODE_ARGS ?? '').split(' ').filter(Boolean);
  // BENCH_API_STDOUT=file keeps the API's standard output (e.g. with --trace-gc in BENCH_API_NODE_ARGS).
  const stdout = process.env.BENCH_API_STDOUT ? openSync(process.env.BENCH_API_STDOUT, 'w') : 'ignore';
  const child = spawn(process.execPath, [...nodeArgs, path.join(root, 'apps/api/bin/clientele.js'), 'serve', '--no-migrate', '--port', String(port)], {
    env: { ...process.env, LOG_LEVEL: 'warn', CLIENTELE_DEMO_DATA: 'off', ...env },
    stdio: ['ignore', stdout, 'inherit'],
  });
  const url = `http://127.0.0.1:${port}`;
  const deadline = Date.now() + 60_000;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`the API exited with ${child.exitCode}`);
    try {
      if ((await fetch(`${url}/readyz`)).ok) break;
    } catch {
      // not listening yet
    }
    if (Date.now() > deadline) {
      child.kill('SIGTERM');
      throw new Error('the API did not become ready in 60 s');
    }
    await new Promise((r) => setTimeout(r, 200));
  }
  return { url, child, pid: child.pid };
}

export { machineProbe, pacedLoad, pacedLoadInChild } from './paced.mjs';

/**
 * The kernel's DAMON memory monitors that are running, with their sampling interval. On these
 * VMs one samples the physical address space every 500 ms, and each pass keeps a core busy for
 * about 20 ms (seen with `perf record -a`): with two cores, the fixed-rate run's periodic
 * stalls fall on those passes. Reported so the latency figures can be read.
 */
export function kernelMemoryMonitors() {
  const base = '/sys/kernel/mm/damon/admin/kdamonds';
  const read = (file) => {
    try {
      return readFileSync(file, 'utf8').trim();
    } catch {
      return null;
    }
  };
  const monitors = [];
  for (let i = 0; i < Number(read(`${base}/nr_kdamonds`) ?? 0); i++) {
    if (read(`${base}/${i}/state`) !== 'on') continue;
    const sampleUs = Number(read(`${base}/${i}/contexts/0/monitoring_attrs/intervals/sample_us`));
    monitors.push({ operations: read(`${base}/${i}/contexts/0/operations`), sampleMs: Number.isFinite(sampleUs) ? sampleUs / 1000 : null });
  }
  return monitors;
}

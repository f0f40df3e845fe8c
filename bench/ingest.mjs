#!/usr/bin/env node
// Bulk import benchmark (issue 4): imports generated interactions (CSV) into a fresh
// PostgreSQL database (created on postgres://postgres@127.0.0.1:5432 and dropped afterwards),
// once with the bulk path (mode 'bulk': a partition of its own, indexed at the end) and once
// with the live path (mode 'live': batch by batch into the live partition), and into the
// embedded database (PGlite, on disk in a temporary folder; live path). Each run is its own
// child process so its peak RSS is its own, and is followed by a re-import of the same file.
// Prints a table and writes bench/results/ingest.json. Target: ≥ 100,000 rows/s on PostgreSQL.
//
// Also the GraphQL path: the API started as its own process (`clientele serve`, on PostgreSQL)
// and `trackInteractions` mutations of 1,000 rows each sent by 4 concurrent clients
// (--http-rows, default 200,000), reported as rows per second.
//
// Usage: node ingest.mjs [--rows=1000000] [--only=postgres,embedded,http] [--batch=N] [--concurrency=N]
//        [--no-ceiling]   (BENCH_PG_URL overrides the server URL)
//
// After the bulk run it also measures the server's share (the ceiling of the bulk path, with
// nothing to parse): the imported rows, ids already resolved, copied by one INSERT … SELECT into
// a bare table, then the five indexes and two foreign keys of a partition built over them.
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { createWriteStream, mkdirSync, mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { once } from 'node:events';
import { freshDatabase, rng, startApi } from './lib.mjs';

const here = path.dirname(fileURLToPath(import.meta.url));
const args = process.argv.slice(2);
const arg = (name, fallback) => args.find((a) => a.startsWith(`--${name}=`))?.slice(name.length + 3) ?? fallback;
const rows = Number(arg('rows', '1000000'));
const only = arg('only', 'postgres,embedded,http').split(',');
const httpRows = Number(arg('http-rows', '200000'));
const batch = arg('batch', undefined);
const concurrency = arg('concurrency', undefined);
const ceiling = !args.includes('--no-ceiling');
const childArgs = [...(batch ? [`--batch=${batch}`] : []), ...(concurrency ? [`--concurrency=${concurrency}`] : []), ...(ceiling ? [] : ['--no-ceiling'])];
const tuning = { ...(batch ? { batchSize: Number(batch) } : {}), ...(concurrency ? { concurrency: Number(concurrency) } : {}) };
const serverUrl = process.env.BENCH_PG_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';


/** n interactions by 100k customers on 20k items over 2024, without event ids (the importer derives them). */
async function generate(file, n) {
  const out = createWriteStream(file);
  const next = rng(20261123);
  const start = Date.UTC(2024, 0, 1);
  const span = 365 * 86_400_000;
  const types = ['view', 'view', 'view', 'click', 'click', 'add_to_cart', 'purchase', 'rating'];
  let text = 'event_id,customer_id,item_id,type,value,quantity,amount,occurred_at\n';
  for (let i = 0; i < n; i++) {
    const customer = `c${Math.floor(next() ** 1.5 * 100_000)}`;
    const item = `sku-${Math.floor(next() ** 2 * 20_000)}`;
    const type = types[Math.floor(next() * types.length)];
    const at = new Date(start + Math.floor(next() * span)).toISOString();
    let value = '';
    let quantity = '';
    let amount = '';
    if (type === 'rating') value = String(Math.ceil(next() * 10) / 2);
    if (type === 'purchase') {
      quantity = String(1 + Math.floor(next() * 3));
      amount = (Number(quantity) * (1 + Math.floor(next() * 9999) / 100)).toFixed(2);
    }
    text += `,${customer},${item},${type},${value},${quantity},${amount},${at}\n`;
    if (text.length > 1 << 20) {
      if (!out.write(text)) await once(out, 'drain');
      text = '';
    }
  }
  out.end(text);
  await once(out, 'finish');
}

/** Child: import the file into one target ('postgres' or 'embedded') with one mode and print one JSON line. */
async function child(target, mode, file) {
  const { importFile } = await import('@clientele/ingest');
  const { migrate } = await import('@clientele/db');
  const { ContactCipher, generateKeyringEntry } = await import('@clientele/privacy');
  let peak = 0;
  const sample = () => {
    peak = Math.max(peak, process.memoryUsage().rss);
  };
  const timer = setInterval(sample, 50);
  const fresh = await freshDatabase(`ingest_${target}`, target === 'postgres' ? serverUrl : null);
  const database = await fresh.open({ applicationName: 'clientele-bench' });
  try {
    await migrate(database);
    const store = { db: database.db, cipher: new ContactCipher([generateKeyringEntry('bench')]), interactionTypes: ['view', 'click', 'add_to_cart', 'purchase', 'rating'] };
    sample();
    const before = process.memoryUsage().rss;
    const startedAt = performance.now();
    const summary = await importFile(database, {
      path: file,
      kind: 'interactions',
      actor: { type: 'system', name: 'bench' },
      store,
      mode,
      ...tuning,
      onProgress: sample,
    });
    const seconds = (performance.now() - startedAt) / 1000;
    if (summary.mode !== mode) throw new Error(`expected the ${mode} path, the import took the ${summary.mode} path`);
    // A second run of the same file: nothing new is stored.
    const again = performance.now();
    const second = await importFile(database, { path: file, kind: 'interactions', actor: { type: 'system', name: 'bench' }, store, mode, ...tuning });
    const reimportSeconds = (performance.now() - again) / 1000;
    let ceilingRowsPerSecond = null;
    if (target === 'postgres' && mode === 'bulk' && ceiling) {
      const client = await database.driver.pool.connect();
      try {
        await client.query(`SET maintenance_work_mem = '256MB'`);
        await client.query('SET max_parallel_maintenance_workers = 0');
        await client.query('CREATE TABLE interactions_ceiling (LIKE interactions INCLUDING DEFAULTS) WITH (autovacuum_enabled = off)');
        const cols = 'event_id, customer_id, item_id, type, value, quantity, amount, occurred_at, source';
        const t = performance.now();
        const copied = await client.query(`INSERT INTO interactions_ceiling (${cols}) SELECT ${cols} FROM interactions`);
        for (const columns of ['id, segment', 'event_id, segment', 'customer_id, occurred_at', 'item_id', 'occurred_at']) {
          await client.query(`CREATE INDEX ON interactions_ceiling (${columns})`);
        }
        await client.query('ALTER TABLE interactions_ceiling ADD FOREIGN KEY (customer_id) REFERENCES customers (id), ADD FOREIGN KEY (item_id) REFERENCES items (id)');
        ceilingRowsPerSecond = copied.rowCount / ((performance.now() - t) / 1000);
        await client.query('DROP TABLE interactions_ceiling');
      } finally {
        client.release();
      }
    }
    sample();
    clearInterval(timer);
    process.stdout.write(
      `${JSON.stringify({
        target,
        mode,
        rows: summary.rowsRead,
        accepted: summary.accepted,
        inserted: summary.interactions.created,
        stubCustomers: summary.stubs.customers,
        stubItems: summary.stubs.items,
        seconds,
        rowsPerSecond: summary.rowsRead / seconds,
        reimportSeconds,
        reimportInserted: second.interactions.created,
        ceilingRowsPerSecond,
        rssBeforeMiB: before / 2 ** 20,
        peakRssMiB: peak / 2 ** 20,
      })}\n`,
    );
  } finally {
    clearInterval(timer);
    await database.close();
    await fresh.drop();
  }
}

/** trackInteractions over HTTP: the API in its own process on a fresh PostgreSQL database. */
async function overHttp() {
  const { migrate } = await import('@clientele/db');
  const { createApiKey } = await import('@clientele/auth');
  const fresh = await freshDatabase('http', serverUrl);
  let api = null;
  try {
    const database = await fresh.open({ maxConnections: 2 });
    let key;
    try {
      await migrate(database);
      key = (await createApiKey(database.db, { name: 'bench', scopes: ['read', 'write'] }, { type: 'system', name: 'bench' })).key;
    } finally {
      await database.close();
    }
    const keyring = `bench:${randomBytes(32).toString('base64')}`;
    api = await startApi({ ...fresh.env, CLIENTELE_ENCRYPTION_KEYS: keyring, NODE_ENV: 'production', CLIENTELE_API_RUNS_JOBS: 'off' });
    const base = api.url;
    const next = rng(11);
    const types = ['view', 'view', 'view', 'click', 'add_to_cart', 'purchase'];
    const batch = (b) =>
      Array.from({ length: 1000 }, (_, i) => {
        const type = types[Math.floor(next() * types.length)];
        return {
          eventId: `http-${b}-${i}`,
          customerId: `c${Math.floor(next() * 20_000)}`,
          itemId: `i${Math.floor(next() ** 2 * 5_000)}`,
          type,
          ...(type === 'purchase' ? { quantity: 1, amount: 9.99 } : {}),
          occurredAt: new Date(Date.UTC(2025, 0, 1) + Math.floor(next() * 300 * 86_400_000)).toISOString(),
        };
      });
    const mutation = 'mutation($rows: [InteractionInput!]!) { trackInteractions(interactions: $rows) { createdCount rejectedCount } }';
    const headers = { 'content-type': 'application/json', authorization: `Bearer ${key}` };
    const batches = Math.ceil(httpRows / 1000);
    const bodies = Array.from({ length: batches }, (_, b) => JSON.stringify({ query: mutation, variables: { rows: batch(b) } }));
    // Warm-up on its own events (stubs for most customers and items are created here).
    const warm = await fetch(`${base}/graphql`, { method: 'POST', headers, body: JSON.stringify({ query: mutation, variables: { rows: batch(-1) } }) });
    if (!warm.ok) throw new Error(`warm-up answered ${warm.status}: ${(await warm.text()).slice(0, 300)}`);
    let created = 0;
    let cursor = 0;
    const started = performance.now();
    await Promise.all(
      Array.from({ length: 4 }, async () => {
        while (cursor < bodies.length) {
          const body = bodies[cursor++];
          const response = await fetch(`${base}/graphql`, { method: 'POST', headers, body });
          const json = await response.json();
          if (json.errors) throw new Error(JSON.stringify(json.errors).slice(0, 300));
          created += json.data.trackInteractions.createdCount;
        }
      }),
    );
    const seconds = (performance.now() - started) / 1000;
    return { case: `trackInteractions over HTTP, ${batches} batches of 1,000, 4 clients → postgres`, database: 'postgres', rows: batches * 1000, inserted: created, seconds, rowsPerSecond: (batches * 1000) / seconds, target: 'reported' };
  } finally {
    if (api && api.child.exitCode === null) {
      api.child.kill('SIGTERM');
      await once(api.child, 'exit');
    }
    await fresh.drop();
  }
}

async function main() {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'clientele-bench-ingest-'));
  const file = path.join(dir, 'interactions.csv');
  try {
    const t0 = performance.now();
    await generate(file, rows);
    const size = statSync(file).size;
    console.log(`generated ${rows.toLocaleString('en')} interactions (${(size / 2 ** 20).toFixed(1)} MiB CSV) in ${((performance.now() - t0) / 1000).toFixed(1)} s; node ${process.version}; ${os.cpus()[0]?.model ?? ''} ×${os.cpus().length}`);
    const results = [];
    console.log(['target'.padEnd(15), 'rows'.padStart(10), 'seconds'.padStart(8), 'rows/s'.padStart(9), 'peak RSS'.padStart(9), 'reimport s'.padStart(10), 'target'.padEnd(22)].join(' │ '));
    const runs = only.flatMap((t) => (t === 'postgres' ? [['postgres', 'bulk'], ['postgres', 'live']] : t === 'embedded' ? [['embedded', 'live']] : []));
    for (const [target, mode] of runs) {
      const proc = spawn(process.execPath, [fileURLToPath(import.meta.url), '--child', target, mode, file, ...childArgs], { stdio: ['ignore', 'pipe', 'inherit'], cwd: here });
      let out = '';
      proc.stdout.on('data', (d) => (out += d));
      const [code] = await once(proc, 'exit');
      if (code !== 0) throw new Error(`the ${target} run failed (exit ${code})`);
      const result = JSON.parse(out.trim().split('\n').pop());
      const goal = target === 'postgres' && mode === 'bulk' ? '≥ 100,000 rows/s' : 'reported';
      result.target = goal;
      result.case = `import ${rows.toLocaleString('en')} interactions (CSV) → ${target}, ${mode} path`;
      result.database = target;
      results.push(result);
      console.log(
        [
          `${target} ${mode}`.padEnd(15),
          result.rows.toLocaleString('en').padStart(10),
          result.seconds.toFixed(2).padStart(8),
          Math.round(result.rowsPerSecond).toLocaleString('en').padStart(9),
          `${Math.round(result.peakRssMiB)} MiB`.padStart(9),
          result.reimportSeconds.toFixed(2).padStart(10),
          goal.padEnd(22),
        ].join(' │ ') +
          `  (inserted ${result.inserted.toLocaleString('en')}, stubs ${result.stubCustomers}+${result.stubItems}, re-import inserted ${result.reimportInserted}` +
          (result.ceilingRowsPerSecond
            ? `; server share: one backend stores and indexes ${Math.round(result.ceilingRowsPerSecond).toLocaleString('en')} resolved rows/s in a bare table)`
            : ')'),
      );
    }
    if (only.includes('http')) {
      const result = await overHttp();
      results.push(result);
      console.log(`${result.case}: ${Math.round(result.rowsPerSecond).toLocaleString('en')} rows/s (${result.seconds.toFixed(2)} s, ${result.inserted.toLocaleString('en')} stored)`);
    }
    mkdirSync(path.join(here, 'results'), { recursive: true });
    writeFileSync(path.join(here, 'results', 'ingest.json'), `${JSON.stringify(results, null, 2)}\n`);
    console.log(`wrote ${path.relative(process.cwd(), path.join(here, 'results', 'ingest.json'))}`);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

if (args[0] === '--child') await child(args[1], args[2], args[3]);
else await main();

#!/usr/bin/env node
// Benchmarks of the native compute engine (issue 3). Prints a table and writes
// bench/results/native.json: an array of {case, seconds, gflops?, rmse?, precisionAt10?, threads, ...}.
// Usage: node native.mjs [--quick] [--only=name,name]   (quick = smaller baseline and ALS sizes)
// Timings are best of three for the k-means cases and the median iteration for ALS; the machine
// may be shared, so compare runs made when it is otherwise idle.
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';

import { ItemScorer, buildCsr, cpuFeatures, kmeans, predictRatings, trainExplicit, trainImplicit } from '@clientele/compute';
import { kmeans as mlKmeans } from 'ml-kmeans';
import { rng } from './lib.mjs';

const here = path.dirname(fileURLToPath(import.meta.url));
const args = process.argv.slice(2);
const quick = args.includes('--quick');
const only = args.find((a) => a.startsWith('--only='))?.slice(7).split(',');
const want = (name) => !only || only.some((o) => name.startsWith(o));
const results = [];


function gaussian(r) {
  const u = Math.max(r(), 1e-12);
  return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * r());
}

/** n points around k planted centres in d dimensions. */
function blobs(n, d, k, seed) {
  const r = rng(seed);
  const centres = new Float32Array(k * d).map(() => gaussian(r) * 4);
  const x = new Float32Array(n * d);
  for (let i = 0; i < n; i++) {
    const c = Math.floor(r() * k);
    for (let p = 0; p < d; p++) x[i * d + p] = centres[c * d + p] + gaussian(r);
  }
  return x;
}

function record(row) {
  results.push(row);
  const extra = Object.entries(row)
    .filter(([k]) => !['case', 'seconds', 'gflops', 'rmse', 'precisionAt10', 'threads', 'target'].includes(k))
    .map(([k, v]) => `${k}=${typeof v === 'number' ? +v.toPrecision(4) : v}`)
    .join(' ');
  console.log(
    [
      row.case.padEnd(52),
      row.seconds.toFixed(4).padStart(9),
      (row.gflops !== undefined ? row.gflops.toFixed(1) : '').padStart(7),
      (row.rmse !== undefined ? row.rmse.toFixed(4) : '').padStart(7),
      (row.precisionAt10 !== undefined ? row.precisionAt10.toFixed(3) : '').padStart(6),
      String(row.threads).padStart(3),
      (row.target ?? '').padEnd(22),
      extra,
    ].join(' │ '),
  );
}

const features = cpuFeatures();
console.log(
  `native engine: kernel=${features.kernel} avx2=${features.avx2} fma=${features.fma} cores=${features.threads} ` +
    `cuda compiled=${features.cuda.compiled} devices=${features.cuda.devices}; node ${process.version}; ${os.cpus()[0]?.model ?? ''}`,
);
console.log(
  ['case'.padEnd(52), 'seconds'.padStart(9), 'GFLOP/s'.padStart(7), 'rmse'.padStart(7), 'p@10'.padStart(6), 'thr', 'target'.padEnd(22), 'notes'].join(
    ' │ ',
  ),
);

// ---- implicit ALS at MovieLens-20M shape ---------------------------------------------------------
if (want('als')) {
  const nUsers = quick ? 13_849 : 138_493;
  const nItems = quick ? 2_674 : 26_744;
  const nnz = quick ? 1_000_000 : 10_000_000;
  const r = rng(3);
  // Power-law item popularity (Zipf, s = 1) and user activity (s = 0.8), by inverse CDF.
  const cdf = (n, s) => {
    const c = new Float64Array(n);
    let acc = 0;
    for (let i = 0; i < n; i++) c[i] = acc += 1 / (i + 1) ** s;
    for (let i = 0; i < n; i++) c[i] /= acc;
    return c;
  };
  const draw = (c) => {
    const u = r();
    let lo = 0;
    let hi = c.length - 1;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (c[mid] < u) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  };
  const itemCdf = cdf(nItems, 1.0);
  const userCdf = cdf(nUsers, 0.8);
  // Draw until there are `nnz` distinct (user, item) pairs: repeated draws are summed into one
  // interaction (as repeat purchases are), so the matrix really holds `nnz` non-zeros.
  let drawn = Math.round(nnz * 1.3);
  let csr;
  for (;;) {
    const u = new Int32Array(drawn);
    const it = new Int32Array(drawn);
    for (let k = 0; k < drawn; k++) {
      u[k] = draw(userCdf);
      it[k] = draw(itemCdf);
    }
    ({ matrix: csr } = await buildCsr({ rows: u, cols: it }, { nRows: nUsers, nCols: nItems }));
    if (csr.indices.length >= nnz) break;
    drawn = Math.round(drawn * (nnz / csr.indices.length) * 1.02);
  }
  // Keep the first nnz non-zeros (row-major), as COO triplets.
  const users = new Int32Array(nnz);
  const items = csr.indices.slice(0, nnz);
  const values = csr.data.slice(0, nnz);
  for (let row = 0; row < nUsers; row++) users.fill(row, csr.indptr[row], Math.min(nnz, csr.indptr[row + 1]));
  const iterations = 3;
  const model = await trainImplicit(
    { users, items, values },
    { nUsers, nItems, factors: 64, iterations, cgSteps: 3, regularization: 0.05, alpha: 2, threads: 2, seed: 1, device: 'cpu' },
  );
  const per = Array.from(model.secondsPerIteration).sort((a, b) => a - b);
  const median = per[Math.floor(per.length / 2)];
  record({
    case: `implicit ALS ${nUsers}×${nItems} nnz=${nnz / 1e6}M f=64 cg=3`,
    seconds: median,
    threads: 2,
    target: '≤ 1.8 s / iteration',
    perIteration: Array.from(model.secondsPerIteration, (s) => +s.toFixed(3)).join('/'),
    // Run first, so the process peak is this case's (plus the generated input).
    peakRssMB: Math.round(process.resourceUsage().maxRSS / 1024),
  });
}

// ---- k-means ---------------------------------------------------------------------------------
let case1;
if (want('kmeans')) {
  const n = 200_000;
  const d = 32;
  const k = 64;
  const x = blobs(n, d, k, 1);
  case1 = { x, n, d, k };
  // Best of three runs (the machine may be shared): Lloyd time and k-means++ time separately.
  const runs = [];
  for (let rep = 0; rep < 3; rep++) runs.push(await kmeans(x, { dim: d, k, maxIterations: 20, tolerance: 0, threads: 1, seed: 7 }));
  const r = runs[0];
  const lloyd = Math.min(...runs.map((q) => q.seconds - (q.initSeconds ?? 0)));
  r.initSeconds = Math.min(...runs.map((q) => q.initSeconds ?? NaN));
  const flops = 2 * n * k * d * r.iterations;
  record({ case: `kmeans n=200k d=32 k=64 ${r.iterations} iters`, seconds: lloyd, gflops: flops / lloyd / 1e9, threads: 1, target: '≥ 35 GFLOP/s' });
  record({ case: 'kmeans++ init n=200k d=32 k=64', seconds: r.initSeconds ?? NaN, threads: 1, target: '< 0.5 s' });
  case1.seconds = lloyd;
  case1.init = r.centroids;

  const n2 = 200_000;
  const d2 = 64;
  const k2 = 256;
  const x2 = blobs(n2, d2, k2, 2);
  const runs2 = [];
  for (let rep = 0; rep < 3; rep++) runs2.push(await kmeans(x2, { dim: d2, k: k2, maxIterations: 10, tolerance: 0, threads: 2, seed: 7 }));
  const r2 = runs2[0];
  const lloyd2 = Math.min(...runs2.map((q) => q.seconds - (q.initSeconds ?? 0)));
  r2.initSeconds = Math.min(...runs2.map((q) => q.initSeconds ?? NaN));
  record({
    case: `kmeans n=200k d=64 k=256 ${r2.iterations} iters`,
    seconds: lloyd2,
    gflops: (2 * n2 * k2 * d2 * r2.iterations) / lloyd2 / 1e9,
    threads: 2,
    target: '≥ 45 GFLOP/s',
    initSeconds: r2.initSeconds,
  });
}

if (want('ml-kmeans') && case1) {
  // The pure-JavaScript baseline on the first case's data (a subsample with --quick), in the same
  // process: (a) Lloyd iterations only, both started from the same centres; (b) end to end, each
  // with its own k-means++ seeding plus 20 iterations.
  const { x, d, k } = case1;
  const n = quick ? 20_000 : case1.n;
  const data = Array.from({ length: n }, (_, i) => Array.from(x.subarray(i * d, (i + 1) * d)));
  const iters = 20;
  const start = x.slice(0, k * d);
  const initial = Array.from({ length: k }, (_, j) => Array.from(start.subarray(j * d, (j + 1) * d)));
  let t0 = performance.now();
  mlKmeans(data, k, { initialization: initial, maxIterations: iters, tolerance: 0 });
  const jsLloyd = (performance.now() - t0) / 1000;
  const sub = quick ? new Float32Array(x.subarray(0, n * d)) : x;
  const native = await kmeans(sub, { dim: d, k, maxIterations: iters, tolerance: 0, threads: 1, centroids: start });
  record({
    case: `ml-kmeans (JS) n=${n / 1000}k d=32 k=64 ${iters} iters, same start`,
    seconds: jsLloyd,
    gflops: (2 * n * k * d * iters) / jsLloyd / 1e9,
    threads: 1,
    target: 'native ≥ 50× faster',
    speedup: jsLloyd / native.seconds,
    nativeSeconds: native.seconds,
  });
  // The same against the addon as the product runs it: one thread per core (ml-kmeans has no threads).
  const nativeAllCores = await kmeans(sub, { dim: d, k, maxIterations: iters, tolerance: 0, centroids: start });
  record({
    case: `ml-kmeans (JS) same start, vs native on all ${os.availableParallelism?.() ?? os.cpus().length} cores`,
    seconds: jsLloyd,
    threads: os.availableParallelism?.() ?? os.cpus().length,
    target: 'native ≥ 50× faster',
    speedup: jsLloyd / nativeAllCores.seconds,
    nativeSeconds: nativeAllCores.seconds,
  });
  t0 = performance.now();
  mlKmeans(data, k, { initialization: 'kmeans++', maxIterations: iters, tolerance: 0, seed: 1 });
  const jsTotal = (performance.now() - t0) / 1000;
  t0 = performance.now();
  await kmeans(sub, { dim: d, k, maxIterations: iters, tolerance: 0, threads: 1, seed: 1 });
  const nativeTotal = (performance.now() - t0) / 1000;
  record({
    case: `ml-kmeans (JS) same, with k-means++ seeding`,
    seconds: jsTotal,
    threads: 1,
    target: 'native ≥ 50× faster',
    speedup: jsTotal / nativeTotal,
    nativeSeconds: nativeTotal,
  });
}

// ---- explicit MF on MovieLens (ml-latest-small) -----------------------------------------------
const ratingsCsv = path.resolve(here, '../../shared/datasets/ml-latest-small/ratings.csv');
if (want('mf')) {
  if (!existsSync(ratingsCsv)) {
    console.log(`(skipping explicit MF: ${ratingsCsv} is absent)`);
  } else {
    const lines = readFileSync(ratingsCsv, 'utf8').trim().split('\n').slice(1);
    const uid = new Map();
    const iid = new Map();
    const U = new Int32Array(lines.length);
    const I = new Int32Array(lines.length);
    const R = new Float32Array(lines.length);
    lines.forEach((l, k) => {
      const [u, i, v] = l.split(',');
      if (!uid.has(u)) uid.set(u, uid.size);
      if (!iid.has(i)) iid.set(i, iid.size);
      U[k] = uid.get(u);
      I[k] = iid.get(i);
      R[k] = Number(v);
    });
    const r = rng(42);
    const train = [];
    const test = [];
    for (let k = 0; k < lines.length; k++) (r() < 0.8 ? train : test).push(k);
    const pick = (idx, a, T) => T.from(idx, (k) => a[k]);
    const t0 = performance.now();
    const model = await trainExplicit(
      { users: pick(train, U, Int32Array), items: pick(train, I, Int32Array), ratings: pick(train, R, Float32Array) },
      { nUsers: uid.size, nItems: iid.size, factors: 24, iterations: 10, regularization: 0.12, biasRegularization: 10, seed: 1 },
    );
    const seconds = (performance.now() - t0) / 1000;
    const pred = await predictRatings(model, pick(test, U, Int32Array), pick(test, I, Int32Array));
    let se = 0;
    test.forEach((k, j) => {
      const p = Math.min(5, Math.max(0.5, pred[j]));
      se += (p - R[k]) ** 2;
    });
    // Implicit ALS on the same split: ratings ≥ 4 are positives; precision@10 over test users,
    // ranking all items the user has not rated in training.
    {
      const tu = [];
      const ti = [];
      for (const k of train) {
        if (R[k] < 4) continue;
        tu.push(U[k]);
        ti.push(I[k]);
      }
      const t1 = performance.now();
      const imp = await trainImplicit(
        { users: Int32Array.from(tu), items: Int32Array.from(ti) },
        { nUsers: uid.size, nItems: iid.size, factors: 48, iterations: 12, regularization: 5, alpha: 20, seed: 1 },
      );
      const seconds = (performance.now() - t1) / 1000;
      const seen = Array.from({ length: uid.size }, () => []);
      for (const k of train) seen[U[k]].push(I[k]);
      const relevant = Array.from({ length: uid.size }, () => new Set());
      for (const k of test) if (R[k] >= 4) relevant[U[k]].add(I[k]);
      const users = Int32Array.from({ length: uid.size }, (_, u) => u).filter((u) => relevant[u].size > 0);
      const scorer = new ItemScorer(imp.itemFactors, 48);
      const top = await scorer.topKBatch(imp.userFactors, {
        k: 10,
        rows: users,
        exclude: Array.from(users, (u) => Int32Array.from(seen[u])),
      });
      let hits = 0;
      users.forEach((u, b) => {
        for (let j = 0; j < 10; j++) if (relevant[u].has(top.indices[b * 10 + j])) hits++;
      });
      record({
        case: 'implicit ALS ml-latest-small (≥4★) 80/20',
        seconds,
        precisionAt10: hits / (users.length * 10),
        threads: features.threads,
        target: '(quality figure)',
        factors: 48,
        testUsers: users.length,
      });
    }
    record({
      case: 'explicit MF (ALS) ml-latest-small 80/20',
      seconds,
      rmse: Math.sqrt(se / test.length),
      threads: features.threads,
      target: 'rmse ≤ 0.87, < 2 s',
      factors: 24,
      iterations: 10,
    });
  }
}

// ---- top-10 over 100k × 64 -------------------------------------------------------------------
if (want('topk')) {
  const nItems = 100_000;
  const d = 64;
  const r = rng(5);
  const itemFactors = new Float32Array(nItems * d).map(() => gaussian(r) * 0.1);
  const scorer = new ItemScorer(itemFactors, d);
  const queries = Array.from({ length: 50 }, () => new Float32Array(d).map(() => gaussian(r)));
  const exclude = Int32Array.from({ length: 50 }, () => Math.floor(r() * nItems));
  for (let w = 0; w < 50; w++) scorer.topK(queries[w % queries.length], { k: 10, exclude });
  const times = [];
  for (let i = 0; i < 2000; i++) {
    const q = queries[i % queries.length];
    const t0 = process.hrtime.bigint();
    scorer.topK(q, { k: 10, exclude });
    times.push(Number(process.hrtime.bigint() - t0) / 1e9);
  }
  times.sort((a, b) => a - b);
  const p = (x) => times[Math.min(times.length - 1, Math.floor(x * times.length))];
  record({
    case: 'top-10 one user, 100k items × 64 (sync)',
    seconds: p(0.99),
    threads: features.threads,
    target: 'p99 ≤ 1 ms',
    p50ms: p(0.5) * 1000,
    p99ms: p(0.99) * 1000,
  });
  // Batches, as the API scores concurrent requests: one pass over the compact copy (8-bit on
  // AVX-512 VNNI, else half-float; cpuFeatures().int8ScanFast says which) for all of them, one
  // thread. Per-query time falls with the batch while the scan is memory-bound, then levels off
  // where it is bound by the multiply-adds (B × 100k × 64 per batch).
  const perQuery = {};
  for (const batch of [1, 4, 16, 32]) {
    const q = new Float32Array(batch * d).map(() => gaussian(r));
    const ex = Array.from({ length: batch }, () => exclude);
    for (let w = 0; w < 10; w++) await scorer.topKBatch(q, { k: 10, exclude: ex, threads: 1 });
    const runs = [];
    for (let i = 0; i < 40; i++) {
      const t0 = process.hrtime.bigint();
      await scorer.topKBatch(q, { k: 10, exclude: ex, threads: 1 });
      runs.push(Number(process.hrtime.bigint() - t0) / 1e9);
    }
    runs.sort((a, b) => a - b);
    perQuery[`B${batch}ms`] = (runs[20] / batch) * 1000;
  }
  record({ case: 'top-10 batches of 1/4/16/32 users, per user (1 thread)', seconds: perQuery.B16ms / 1000, threads: 1, copy: features.int8ScanFast ? '8-bit' : 'half', ...perQuery });
}

mkdirSync(path.join(here, 'results'), { recursive: true });
writeFileSync(path.join(here, 'results', 'native.json'), `${JSON.stringify(results, null, 2)}\n`);
console.log(`wrote ${path.relative(process.cwd(), path.join(here, 'results', 'native.json'))}`);

#!/usr/bin/env node
// Customer intelligence benchmark (issue 6). Prints a table and writes bench/results/segments.json.
//
// 1. The UCI Online Retail sample (../shared/datasets, skipped with a message if absent) through
//    the product's own path: `online-retail` import preset into an embedded database, then a
//    segmentation run end to end (features in SQL, k chosen by silhouette, native k-means,
//    profiles and labels, memberships stored). Target: under 2 s. Then the churn and value
//    models (AUC, R²).
// 2. 1,000,000 generated customers × 8 features in 8 planted groups, k = 8: the segmentation
//    itself (log transform and standardisation, native k-means with k-means++ and restarts,
//    silhouette on a sample, profiles in original units, labels). Target: under 20 s.
//
// Usage: node segments.mjs [--customers=1000000] [--restarts=3]
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { cpuFeatures } from '@clientele/compute';
import { migrate } from '@clientele/db';
import { importFile } from '@clientele/ingest';
import { ContactCipher, generateKeyringEntry } from '@clientele/privacy';
import {
  adjustedRandIndex,
  profilesOf,
  runSegmentation,
  segmentTable,
  trainScoreModel,
  validateScoreModelParams,
  validateSegmentationParams,
} from '@clientele/segments';
import { datasetsFolder, freshDatabase, rng } from './lib.mjs';

const here = path.dirname(fileURLToPath(import.meta.url));
const args = process.argv.slice(2);
const arg = (name, fallback) => args.find((a) => a.startsWith(`--${name}=`))?.slice(name.length + 3) ?? fallback;
const customers = Number(arg('customers', '1000000'));
const restarts = Number(arg('restarts', '3'));
const actor = { type: 'system', name: 'bench' };
const results = [];

function row(name, figure, target, ok) {
  results.push({ case: name, figure, target, ok });
  console.log(`${name.padEnd(58)} ${String(figure).padEnd(26)} ${target ? `${target} ${ok ? 'ok' : 'MISSED'}` : ''}`);
}


async function onlineRetail() {
  const datasets = datasetsFolder();
  if (!datasets || !existsSync(path.join(datasets, 'online-retail-sample', 'OnlineRetail.csv'))) {
    console.log('Online Retail: skipped (../shared/datasets/online-retail-sample/OnlineRetail.csv is absent)');
    return;
  }
  const target = await freshDatabase('segments', null);
  const database = await target.open();
  try {
    await migrate(database);
    const store = { db: database.db, cipher: new ContactCipher([generateKeyringEntry('bench')]), interactionTypes: ['view', 'click', 'add_to_cart', 'purchase', 'rating'] };
    let started = performance.now();
    const imported = await importFile(database, { path: path.join(datasets, 'online-retail-sample', 'OnlineRetail.csv'), kind: 'online-retail', store, actor });
    row('Online Retail import (preset, embedded)', `${imported.rowsRead} lines, ${((performance.now() - started) / 1000).toFixed(2)} s`, '', true);

    started = performance.now();
    const run = await runSegmentation(database.db, validateSegmentationParams({}), { actor });
    const seconds = (performance.now() - started) / 1000;
    row(`Online Retail segmentation end to end (${run.customerCount} customers, k=${run.k} by silhouette)`, `${seconds.toFixed(2)} s`, '< 2 s', seconds < 2);
    console.log(`    stages ${JSON.stringify(run.timings)}; silhouette by k ${run.silhouetteCurve.map((p) => `${p.k}:${Number(p.silhouette).toFixed(3)}`).join(' ')}`);
    for (const p of profilesOf(run)) {
      console.log(
        `    ${p.label.padEnd(30)} ${String(p.size).padStart(5)} customers, ${(p.revenueShare * 100).toFixed(1).padStart(5)}% of revenue; median recency ${p.medians['recency_days']?.toFixed(0)} d, orders ${p.medians['frequency']}, spend ${p.medians['monetary']?.toFixed(0)}`,
      );
    }
    started = performance.now();
    const churn = await trainScoreModel(database.db, validateScoreModelParams('churn', {}), { actor });
    const auc = Number(churn.metrics['auc']);
    row('Online Retail churn model (logistic, out of time)', `AUC ${auc.toFixed(3)}, ${((performance.now() - started) / 1000).toFixed(2)} s`, '> 0.5', auc > 0.5);
    const value = await trainScoreModel(database.db, validateScoreModelParams('value', {}), { actor });
    row('Online Retail value model (linear, next-period spend)', `R² ${Number(value.metrics['r2']).toFixed(3)}, RMSE ${Number(value.metrics['rmse']).toFixed(0)}`, '', true);
  } finally {
    await database.close();
    await target.drop();
  }
}

/** n customers in 8 planted groups, with the skew real features have (log-normal money and counts). */
function plantedTable(n) {
  const names = ['recency_days', 'frequency', 'monetary', 'tenure_days', 'avg_order_value', 'distinct_categories', 'views_30d', 'days_between_purchases'];
  const random = rng(7);
  const gauss = () => Math.sqrt(-2 * Math.log(random() + 1e-12)) * Math.cos(2 * Math.PI * random());
  // Group centres in log space (counts and money) or days.
  const centres = Array.from({ length: 8 }, () => names.map((_, j) => (j === 0 || j === 3 ? 30 + random() * 600 : 0.5 + random() * 4)));
  const values = new Float64Array(n * names.length);
  const truth = new Int32Array(n);
  for (let i = 0; i < n; i++) {
    const g = Math.floor(random() * 8);
    truth[i] = g;
    for (let j = 0; j < names.length; j++) {
      const c = centres[g][j];
      values[i * names.length + j] = j === 0 || j === 3 ? Math.max(0, c + gauss() * c * 0.08) : Math.expm1(Math.max(0, c + gauss() * 0.15));
    }
  }
  return {
    table: { featuresVersion: 1, referenceDate: new Date('2026-01-01'), windowDays: 365, customerIds: Array.from({ length: n }, (_, i) => i + 1), names, values },
    names,
    truth,
  };
}

async function million() {
  const { table, names, truth } = plantedTable(customers);
  const settings = {
    features: names,
    transforms: names.map((name) => (name === 'recency_days' || name === 'tenure_days' ? 'none' : 'log')),
    k: 8,
    kMin: 2,
    kMax: 10,
    restarts,
    seed: 1,
    maxIterations: 100,
    threads: 0,
    curveSampleSize: 20_000,
    silhouetteSampleSize: 5_000,
  };
  const started = performance.now();
  const outcome = await segmentTable(table, settings);
  const seconds = (performance.now() - started) / 1000;
  const ari = adjustedRandIndex(truth, outcome.labels);
  row(`${customers.toLocaleString('en')} customers × 8 features, k=8, ${restarts} restarts`, `${seconds.toFixed(2)} s`, '< 20 s', seconds < 20);
  console.log(`    iterations ${outcome.iterations}, silhouette ${outcome.silhouette?.toFixed(3)}, ARI vs planted ${ari.toFixed(3)}; stages ${JSON.stringify(outcome.timings)}`);
  results.push({ case: 'million.detail', iterations: outcome.iterations, ari, timings: outcome.timings });
}

console.log(`segments benchmark — ${os.cpus().length} cores, kernels ${JSON.stringify(cpuFeatures())}`);
await onlineRetail();
await million();
mkdirSync(path.join(here, 'results'), { recursive: true });
writeFileSync(path.join(here, 'results', 'segments.json'), `${JSON.stringify(results, null, 2)}\n`);
console.log('wrote bench/results/segments.json');

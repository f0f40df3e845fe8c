import { ItemScorer, predictRatings, trainExplicit, trainImplicit, type Progress } from '@clientele/compute';
import type { Dataset } from './data.js';
import { rankingMetrics, rankingRecord, ratingMetrics } from './metrics.js';
import type { ModelKind, ModelParams } from './params.js';
import { RATING_MAX, RATING_MIN } from '@clientele/domain';

// Fitting a model with the native engine, and evaluating it (and the popularity baseline) on a
// held-out part of the same split.

export interface FittedModel {
  kind: ModelKind;
  factors: number;
  nUsers: number;
  nItems: number;
  userFactors: Float32Array;
  itemFactors: Float32Array;
  /** explicit only. */
  userBias: Float32Array | null;
  itemBias: Float32Array | null;
  globalMean: number;
  /** Objective (explicit) or training loss (implicit) per iteration. */
  loss: number[];
  seconds: number;
}

export interface RunControl {
  signal?: AbortSignal;
  threads?: number;
  /** Per iteration: the native progress (stage 'mf' or 'als', done/total iterations, loss). */
  onProgress?: (progress: Progress) => void;
}

export async function fit(data: Dataset, params: ModelParams & { kind: ModelKind; seed: number }, control: RunControl = {}): Promise<FittedModel> {
  const started = performance.now();
  const common = {
    nUsers: data.users.size,
    nItems: data.items.size,
    factors: params.factors,
    iterations: params.iterations,
    regularization: params.regularization,
    seed: params.seed,
    threads: control.threads ?? 0,
    ...(control.signal ? { signal: control.signal } : {}),
    ...(control.onProgress ? { onProgress: control.onProgress } : {}),
  };
  if (params.kind === 'explicit') {
    const m = await trainExplicit({ users: data.userRows, items: data.itemRows, ratings: data.values }, { ...common, duplicates: 'sum' });
    return {
      kind: 'explicit',
      factors: m.factors,
      nUsers: common.nUsers,
      nItems: common.nItems,
      userFactors: m.userFactors,
      itemFactors: m.itemFactors,
      userBias: m.userBias,
      itemBias: m.itemBias,
      globalMean: m.globalMean,
      loss: [...m.loss],
      seconds: (performance.now() - started) / 1000,
    };
  }
  const m = await trainImplicit(
    { users: data.userRows, items: data.itemRows, values: data.values },
    {
      ...common,
      alpha: params.alpha,
      regularizationExponent: params.regularizationExponent,
      regularizationOffset: params.regularizationOffset,
      computeLoss: control.onProgress !== undefined,
      device: 'cpu',
    },
  );
  return {
    kind: 'implicit',
    factors: m.factors,
    nUsers: common.nUsers,
    nItems: common.nItems,
    userFactors: m.userFactors,
    itemFactors: m.itemFactors,
    userBias: null,
    itemBias: null,
    globalMean: 0,
    loss: [...m.loss],
    seconds: (performance.now() - started) / 1000,
  };
}

/** Items of each customer row in a part, as lists (CSR-like). */
export function itemsByUser(data: Dataset): Int32Array[] {
  const counts = new Int32Array(data.users.size);
  for (const u of data.userRows) counts[u] = (counts[u] ?? 0) + 1;
  const lists = Array.from(counts, (c) => new Int32Array(c));
  const fill = new Int32Array(data.users.size);
  data.userRows.forEach((u, i) => {
    const list = lists[u];
    if (list) list[fill[u]!++] = data.itemRows[i] ?? 0;
  });
  return lists;
}

/** Items by how many training pairs they have, most first (ties: lower row first). */
export function popularityOrder(data: Dataset): { order: Int32Array; counts: Float32Array } {
  const counts = new Float32Array(data.items.size);
  for (const i of data.itemRows) counts[i] = (counts[i] ?? 0) + 1;
  const order = Int32Array.from({ length: data.items.size }, (_, i) => i).sort((a, b) => (counts[b] ?? 0) - (counts[a] ?? 0) || a - b);
  return { order, counts };
}

export type Metrics = Record<string, number>;

export interface Evaluation {
  model: Metrics;
  baseline: Metrics;
  /** What the baseline is. */
  baselineName: string;
}

const clip = (x: number) => Math.min(RATING_MAX, Math.max(RATING_MIN, x));

/** Test-part figures of a fitted model and of the popularity baseline trained on the same part. */
/**
 * `catalogueSize` is coverage's denominator: the items in the catalogue (a training run passes
 * the items table's count), by default the items the model knows.
 */
export async function evaluate(model: FittedModel, train: Dataset, heldOut: Dataset, k: number, control: RunControl = {}, catalogueSize = model.nItems): Promise<Evaluation> {
  if (model.kind === 'explicit') {
    const predicted = await predictRatings(
      { factors: model.factors, userFactors: model.userFactors, itemFactors: model.itemFactors, userBias: model.userBias ?? new Float32Array(model.nUsers), itemBias: model.itemBias ?? new Float32Array(model.nItems), globalMean: model.globalMean },
      heldOut.userRows,
      heldOut.itemRows,
      { threads: control.threads ?? 0 },
    );
    const m = ratingMetrics(predicted.map(clip), heldOut.values);
    // Baseline: the item's damped mean rating in the training part (popular, well-rated items
    // first), the usual non-personalised predictor.
    let sum = 0;
    for (const r of train.values) sum += r;
    const mean = train.values.length > 0 ? sum / train.values.length : 0;
    const dev = new Float64Array(train.items.size);
    const cnt = new Float64Array(train.items.size);
    train.itemRows.forEach((i, p) => {
      dev[i] = (dev[i] ?? 0) + (train.values[p] ?? 0) - mean;
      cnt[i] = (cnt[i] ?? 0) + 1;
    });
    const damping = 5;
    const baseline = Float64Array.from(heldOut.itemRows, (i) => clip(mean + (dev[i] ?? 0) / ((cnt[i] ?? 0) + damping)));
    const b = ratingMetrics(baseline, heldOut.values);
    return {
      model: { rmse: m.rmse, mae: m.mae, count: m.count },
      baseline: { rmse: b.rmse, mae: b.mae, count: b.count },
      baselineName: 'item mean rating (damped)',
    };
  }
  const relevantByUser = itemsByUser(heldOut);
  const trainByUser = itemsByUser(train);
  const evalUsers: number[] = [];
  relevantByUser.forEach((list, u) => {
    if (list.length > 0 && (trainByUser[u]?.length ?? 0) > 0) evalUsers.push(u);
  });
  const rows = Int32Array.from(evalUsers);
  const relevant = evalUsers.map((u) => new Set(relevantByUser[u]));
  const exclude = evalUsers.map((u) => trainByUser[u] ?? new Int32Array(0));
  const scorer = new ItemScorer(model.itemFactors, model.factors, { compact: false });
  const top = await scorer.topKBatch(model.userFactors, { k, rows, exclude, threads: control.threads ?? 0, ...(control.signal ? { signal: control.signal } : {}) });
  const lists = evalUsers.map((_, q) => top.indices.subarray(q * top.k, q * top.k + (top.counts[q] ?? 0)));
  const m = rankingMetrics(lists, relevant, k, catalogueSize);
  const { order } = popularityOrder(train);
  const popular = evalUsers.map((u) => {
    const seen = new Set(trainByUser[u]);
    const list: number[] = [];
    for (const item of order) {
      if (list.length >= k) break;
      if (!seen.has(item)) list.push(item);
    }
    return list;
  });
  const b = rankingMetrics(popular, relevant, k, catalogueSize);
  return { model: rankingRecord(m), baseline: rankingRecord(b), baselineName: 'most popular items in the training part (customer’s own items excluded)' };
}

import type { KernelName } from '@clientele/native';

import { native } from './native.js';
import { commonOptions, runNative, type RunOptions } from './run.js';
import { Check } from './validate.js';

export interface TopKResult {
  /** Item indices, best first (ties: smaller index first). May hold fewer than k. */
  indices: Int32Array;
  scores: Float32Array;
}

export interface TopKOptions {
  k: number;
  /** Items never returned (e.g. already seen). */
  exclude?: Int32Array;
  /** Score only these items. */
  candidates?: Int32Array;
  kernel?: KernelName;
  /** Threads that split the scan over all items (default: all cores; small matrices use one). */
  threads?: number;
}

/** Exclusions for a batch: one list per query, or CSR offsets over the queries. */
export type BatchExclusions = readonly Int32Array[] | { indptr: Int32Array; indices: Int32Array };

export interface TopKBatchOptions extends RunOptions {
  k: number;
  /** Rows of `queries` to score (e.g. user indices into the user factors); default all rows. */
  rows?: Int32Array;
  exclude?: BatchExclusions;
  candidates?: Int32Array;
}

export interface TopKBatchResult {
  /** k per query, row-major (queries × k); unused slots are -1 with score -Infinity. */
  indices: Int32Array;
  scores: Float32Array;
  /** How many results each query got (≤ k). */
  counts: Int32Array;
  k: number;
}

export interface SimilarOptions extends RunOptions {
  k: number;
  candidates?: Int32Array;
}

function checkK(check: Check, k: unknown): number {
  return check.integer('options.k', k, 0, 2 ** 31 - 1);
}

/**
 * Scores items against queries. Item factors are validated once, here, so the per-request top-k
 * costs only the scoring (the serving path): keep one ItemScorer per loaded model.
 */
export interface ItemScorerOptions {
  /**
   * Keep a compact copy of the factors for the scans of topK and topKBatch (default true): 8-bit
   * where the CPU has AVX-512 VNNI (a quarter of the bytes, several times the multiply-adds per
   * instruction), else half-float (half the bytes). The best items are rescored in float32, so
   * results are the same.
   */
  compact?: boolean;
  /**
   * Score from a pinned copy of the factors (default true). false reads the given array in place:
   * for a scorer used once, synchronously (topK), whose calls never outlive JavaScript's hold.
   */
  pin?: boolean;
}

/** A compact copy of item factors, as the addon's topK and topKBatch take it. */
type CompactCopy = { itemsInt8: Uint8Array; maxNorm: number } | { itemsHalf: Uint16Array; maxNorm: number };

/**
 * The compact copy of item factors for the scans: 8-bit where the scan runs on VNNI (and d ≤
 * 4,096), else half-float; null when neither fits (values beyond the half range, |v| > 65000),
 * and then the scans read the float32 factors.
 */
function compactCopy(items: Float32Array, dim: number): CompactCopy | null {
  if (native().cpuFeatures().int8ScanFast) {
    const i8 = native().int8Copy({ items, dim });
    if (i8) return { itemsInt8: i8.copy, maxNorm: i8.maxNorm };
  }
  const half = native().halfCopy({ items, dim });
  return half ? { itemsHalf: half.half, maxNorm: half.maxNorm } : null;
}

export class ItemScorer {
  readonly count: number;
  /**
   * The item factors the scorer reads: its own copy, in memory the addon owns (native pin), which
   * the asynchronous scans share instead of copying the matrix on every call.
   */
  readonly itemFactors: Float32Array;
  /** The compact copy the scans read (see ItemScorerOptions.compact), as the addon takes it. */
  private readonly copy: CompactCopy | null;

  constructor(
    itemFactors: Float32Array,
    readonly dim: number,
    options: ItemScorerOptions = {},
  ) {
    const check = new Check('ItemScorer');
    check.float32('itemFactors', itemFactors);
    check.integer('dim', dim, 1, 1 << 20);
    this.count = check.rows('itemFactors', itemFactors, dim, 'dim');
    const o = check.object('options', options);
    const compact = check.boolean('options.compact', o.compact, true);
    // Copied before the check, so the factors checked are the ones scored.
    this.itemFactors = check.boolean('options.pin', o.pin, true) ? native().pin(itemFactors) : itemFactors;
    check.finite('itemFactors', this.itemFactors);
    this.copy = compact && this.itemFactors.length > 0 ? compactCopy(this.itemFactors, dim) : null;
  }

  /** Top-k items for one query vector, synchronously (sub-millisecond at 100k × 64). */
  topK(query: Float32Array, options: TopKOptions): TopKResult {
    const check = new Check('topK');
    check.float32('query', query);
    const o = check.object('options', options);
    check.length('query', query, this.dim, 'dim');
    check.finite('query', query);
    const k = checkK(check, o.k);
    const exclude = o.exclude === undefined ? undefined : check.int32('options.exclude', o.exclude);
    let candidates: Int32Array | undefined;
    if (o.candidates !== undefined) {
      candidates = check.int32('options.candidates', o.candidates);
      check.indices('options.candidates', candidates, this.count, 'item count');
    }
    const kernel = check.oneOf('options.kernel', o.kernel, ['auto', 'portable', 'avx2'] as const, 'auto');
    const threads = check.integer('options.threads', o.threads, 0, 1024, 0);
    return native().topK({
      ...(this.copy && !candidates ? this.copy : {}),
      threads,
      query,
      items: this.itemFactors,
      dim: this.dim,
      k,
      kernel,
      ...(exclude ? { exclude } : {}),
      ...(candidates ? { candidates } : {}),
    });
  }

  /** Top-k for many queries (rows of a row-major matrix), off the event loop. */
  async topKBatch(queries: Float32Array, options: TopKBatchOptions): Promise<TopKBatchResult> {
    const check = new Check('topKBatch');
    check.float32('queries', queries);
    const o = check.object('options', options);
    const nq = check.rows('queries', queries, this.dim, 'dim');
    check.finite('queries', queries);
    const k = checkK(check, o.k);
    let rows: Int32Array | undefined;
    if (o.rows !== undefined) {
      rows = check.int32('options.rows', o.rows);
      check.indices('options.rows', rows, nq, 'query count');
    }
    const batch = rows ? rows.length : nq;
    let exclude: { excludeIndptr: Int32Array; excludeIndices: Int32Array } | undefined;
    if (o.exclude !== undefined) exclude = toCsr(check, o.exclude, batch);
    let candidates: Int32Array | undefined;
    if (o.candidates !== undefined) {
      candidates = check.int32('options.candidates', o.candidates);
      check.indices('options.candidates', candidates, this.count, 'item count');
    }
    const common = commonOptions(check, o);
    return runNative(o, (run) =>
      native().topKBatch({
        queries,
        items: this.itemFactors,
        dim: this.dim,
        k,
        ...(this.copy && !candidates ? this.copy : {}),
        ...(rows ? { rows } : {}),
        ...(exclude ?? {}),
        ...(candidates ? { candidates } : {}),
        ...common,
        ...run,
      }),
    );
  }

  /** Most similar items by cosine for each given item (the item itself excluded), off the event loop. */
  async similarItems(items: Int32Array, options: SimilarOptions): Promise<TopKBatchResult> {
    const check = new Check('similarItems');
    check.int32('items', items);
    check.indices('items', items, this.count, 'item count');
    const o = check.object('options', options);
    const k = checkK(check, o.k);
    let candidates: Int32Array | undefined;
    if (o.candidates !== undefined) {
      candidates = check.int32('options.candidates', o.candidates);
      check.indices('options.candidates', candidates, this.count, 'item count');
    }
    const common = commonOptions(check, o);
    return runNative(o, (run) =>
      native().similarItems({
        items: this.itemFactors,
        queries: items,
        dim: this.dim,
        k,
        ...(candidates ? { candidates } : {}),
        ...common,
        ...run,
      }),
    );
  }
}

function toCsr(check: Check, ex: BatchExclusions, batch: number): { excludeIndptr: Int32Array; excludeIndices: Int32Array } {
  if (Array.isArray(ex)) {
    const lists = ex as readonly Int32Array[];
    check.length('options.exclude', lists, batch, 'one list per query');
    const indptr = new Int32Array(batch + 1);
    let total = 0;
    lists.forEach((l, i) => {
      check.int32(`options.exclude[${i}]`, l);
      total += l.length;
      indptr[i + 1] = total;
    });
    const indices = new Int32Array(total);
    lists.forEach((l, i) => indices.set(l, indptr[i]!));
    return { excludeIndptr: indptr, excludeIndices: indices };
  }
  const csr = check.object('options.exclude', ex as { indptr: Int32Array; indices: Int32Array });
  const indptr = check.int32('options.exclude.indptr', csr.indptr);
  const indices = check.int32('options.exclude.indices', csr.indices);
  check.length('options.exclude.indptr', indptr, batch + 1, 'number of queries + 1');
  if (indptr[0] !== 0) throw check.rangeError('options.exclude.indptr', 'indptr[0] = 0', String(indptr[0]));
  for (let i = 0; i < batch; i++) {
    if (indptr[i + 1]! < indptr[i]!) throw check.rangeError('options.exclude.indptr', 'non-decreasing offsets', `a decrease at index ${i + 1}`);
  }
  check.length('options.exclude.indices', indices, indptr[batch]!, 'indptr[last]');
  return { excludeIndptr: indptr, excludeIndices: indices };
}

/** Top-k for one query vector against item factors (validates the whole matrix: prefer ItemScorer when serving). */
export function topK(query: Float32Array, itemFactors: Float32Array, options: TopKOptions & { dim?: number }): TopKResult {
  const check = new Check('topK');
  check.float32('query', query);
  const dim = options?.dim ?? query.length;
  return new ItemScorer(itemFactors, check.integer('options.dim', dim, 1, 1 << 20), { compact: false, pin: false }).topK(query, options);
}

export interface ScorePairsOptions extends RunOptions {
  dim: number;
  userBias?: Float32Array;
  itemBias?: Float32Array;
  globalMean?: number;
}

/** scores[i] = userFactors[users[i]] · itemFactors[items[i]] (+ biases and global mean when given). */
export async function scorePairs(
  userFactors: Float32Array,
  itemFactors: Float32Array,
  users: Int32Array,
  items: Int32Array,
  options: ScorePairsOptions,
): Promise<Float32Array> {
  const check = new Check('scorePairs');
  check.float32('userFactors', userFactors);
  check.float32('itemFactors', itemFactors);
  check.int32('users', users);
  check.int32('items', items);
  const o = check.object('options', options);
  const dim = check.integer('options.dim', o.dim, 1, 1 << 20);
  const nu = check.rows('userFactors', userFactors, dim, 'options.dim');
  const ni = check.rows('itemFactors', itemFactors, dim, 'options.dim');
  check.length('items', items, users.length, 'one per entry of users');
  check.indices('users', users, nu, 'user count');
  check.indices('items', items, ni, 'item count');
  check.finite('userFactors', userFactors);
  check.finite('itemFactors', itemFactors);
  let userBias: Float32Array | undefined;
  let itemBias: Float32Array | undefined;
  if (o.userBias !== undefined) {
    userBias = check.float32('options.userBias', o.userBias);
    check.length('options.userBias', userBias, nu, 'one per user');
    check.finite('options.userBias', userBias);
  }
  if (o.itemBias !== undefined) {
    itemBias = check.float32('options.itemBias', o.itemBias);
    check.length('options.itemBias', itemBias, ni, 'one per item');
    check.finite('options.itemBias', itemBias);
  }
  const globalMean = check.number('options.globalMean', o.globalMean, -1e30, 1e30, 0);
  const common = commonOptions(check, o);
  return runNative(o, (run) =>
    native().scorePairs({
      userFactors,
      itemFactors,
      dim,
      users,
      items,
      globalMean,
      ...(userBias ? { userBias } : {}),
      ...(itemBias ? { itemBias } : {}),
      ...common,
      ...run,
    }),
  );
}

/** Predicted ratings of an explicit model for (user, item) pairs. */
export async function predictRatings(
  model: {
    factors: number;
    userFactors: Float32Array;
    itemFactors: Float32Array;
    userBias: Float32Array;
    itemBias: Float32Array;
    globalMean: number;
  },
  users: Int32Array,
  items: Int32Array,
  options: RunOptions = {},
): Promise<Float32Array> {
  return scorePairs(model.userFactors, model.itemFactors, users, items, {
    ...options,
    dim: model.factors,
    userBias: model.userBias,
    itemBias: model.itemBias,
    globalMean: model.globalMean,
  });
}

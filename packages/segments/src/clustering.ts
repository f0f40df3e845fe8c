import { kmeans, silhouetteScore, type KmeansResult } from '@clientele/compute';
import { DomainError } from '@clientele/domain';
import { FEATURE_NAMES, type FeatureName, type FeatureTable, type FeatureTransform } from './features.js';
import { labelSegments, positionOf, type SegmentPosition } from './labels.js';
import { applyPreprocessing, column, fitPreprocessing, type Preprocessing } from './preprocess.js';
import { median, percentileRank, sampleIndices } from './stats.js';

// k-means segmentation of a feature table, without the database: preprocessing, the native
// k-means (k-means++ seeding, restarts, a seed), k chosen by silhouette when not given,
// segments ordered by revenue, profiles in the original units and plain-language labels.

export interface SegmentationSettings {
  features: FeatureName[];
  transforms: FeatureTransform[];
  /** A fixed k, or null to choose over [kMin, kMax] by silhouette. */
  k: number | null;
  kMin: number;
  kMax: number;
  restarts: number;
  seed: number;
  maxIterations: number;
  /** Native threads (0 = one per core). Results are reproducible for a given seed and thread count. */
  threads: number;
  /** Choosing k fits each candidate on at most this many customers (a seeded sample). */
  curveSampleSize: number;
  /** Customers the silhouette is computed on (a seeded sample). */
  silhouetteSampleSize: number;
}

export interface ProgressReport {
  stage: string;
  done: number;
  total: number;
  detail?: Record<string, unknown>;
}

export interface RunHooks {
  signal?: AbortSignal;
  onProgress?: (progress: ProgressReport) => void;
}

export interface CurvePoint {
  k: number;
  silhouette: number;
  inertia: number;
}

export interface SegmentProfile {
  /** 0-based; segments are numbered by revenue, largest first. */
  index: number;
  label: string;
  size: number;
  customerShare: number;
  revenue: number;
  revenueShare: number;
  /** Medians of every feature in its original unit (null when no customer has a value). */
  medians: Record<string, number | null>;
  position: SegmentPosition;
  /** Centre in the standardised space of the clustered features. */
  centroid: number[];
}

export interface SegmentationOutcome {
  k: number;
  chosenBy: 'given' | 'silhouette';
  /** Segment of each row of the table. */
  labels: Int32Array;
  /** Distance of each row to its segment's centre (standardised space). */
  distances: Float32Array;
  inertia: number;
  silhouette: number | null;
  curve: CurvePoint[];
  iterations: number;
  preprocessing: Preprocessing;
  profiles: SegmentProfile[];
  /** Medians of every feature over all customers of the run. */
  overall: Record<string, number | null>;
  timings: Record<string, number>;
}

export const SEGMENTATION_LIMITS = { kMax: 50, restartsMax: 50, iterationsMax: 1000 } as const;

function seconds(since: number): number {
  return Math.round((performance.now() - since) * 1000) / 1e6;
}

function kmeansOptions(settings: SegmentationSettings, dim: number, k: number, hooks: RunHooks, report: boolean) {
  return {
    dim,
    k,
    restarts: settings.restarts,
    seed: settings.seed,
    maxIterations: settings.maxIterations,
    threads: settings.threads,
    ...(hooks.signal ? { signal: hooks.signal } : {}),
    ...(report && hooks.onProgress
      ? {
          onProgress: (p: { stage: string; done: number; total: number; value: number }) =>
            hooks.onProgress?.({ stage: 'kmeans', done: p.done, total: p.total, detail: { k, phase: p.stage, inertia: p.value } }),
        }
      : {}),
  };
}

/** Rows of the data matrix picked by `rows`, as a new matrix. */
function takeRows(data: Float32Array, dim: number, rows: Int32Array): Float32Array {
  const out = new Float32Array(rows.length * dim);
  for (let r = 0; r < rows.length; r++) out.set(data.subarray(rows[r]! * dim, rows[r]! * dim + dim), r * dim);
  return out;
}

/** Checks the settings against the number of customers; the error names what to change. */
export function checkAgainstData(settings: SegmentationSettings, customers: number, window: string): void {
  if (customers === 0) {
    throw new DomainError('BAD_USER_INPUT', `no customer has an order in the window ${window}: there is nothing to segment (import purchases, or widen windowDays / move referenceDate)`, 'windowDays');
  }
  if (settings.k !== null && settings.k > customers) {
    throw new DomainError('BAD_USER_INPUT', `k: expected at most the number of customers with an order in the window (${customers}), got ${settings.k}`, 'k');
  }
  if (settings.k === null && settings.kMax >= customers) {
    throw new DomainError(
      'BAD_USER_INPUT',
      `kMax: choosing k up to ${settings.kMax} needs more than ${settings.kMax} customers with an order in the window, found ${customers}; lower kMax or give k`,
      'kMax',
    );
  }
}

/** Segments the table's customers. Deterministic for the same table, settings and thread count. */
export async function segmentTable(table: FeatureTable, settings: SegmentationSettings, hooks: RunHooks = {}): Promise<SegmentationOutcome> {
  const n = table.customerIds.length;
  checkAgainstData(settings, n, `ending ${table.referenceDate.toISOString()} (${table.windowDays} days)`);
  const timings: Record<string, number> = {};
  let started = performance.now();
  hooks.onProgress?.({ stage: 'prepare', done: 0, total: 1 });
  const preprocessing = fitPreprocessing(table, settings.features, settings.transforms);
  const dim = settings.features.length;
  const data = applyPreprocessing(table, preprocessing);
  hooks.onProgress?.({ stage: 'prepare', done: 1, total: 1 });
  timings['prepare'] = seconds(started);

  let result: KmeansResult | null = null;
  let silhouette: number | null = null;
  const curve: CurvePoint[] = [];
  let k = settings.k ?? settings.kMin;
  if (settings.k === null) {
    started = performance.now();
    const rows = n > settings.curveSampleSize ? sampleIndices(n, settings.curveSampleSize, settings.seed) : null;
    const sample = rows ? takeRows(data, dim, rows) : data;
    let best: { k: number; silhouette: number; result: KmeansResult } | null = null;
    const total = settings.kMax - settings.kMin + 1;
    for (let candidate = settings.kMin; candidate <= settings.kMax; candidate++) {
      const fit = await kmeans(sample, kmeansOptions(settings, dim, candidate, hooks, false));
      const score = await silhouetteScore(sample, fit.labels, {
        dim,
        sampleSize: settings.silhouetteSampleSize,
        seed: settings.seed,
        threads: settings.threads,
        ...(hooks.signal ? { signal: hooks.signal } : {}),
      });
      curve.push({ k: candidate, silhouette: score, inertia: fit.inertia });
      // Ties go to the smaller k (fewer segments are easier to act on).
      if (!best || score > best.silhouette + 1e-9) best = { k: candidate, silhouette: score, result: fit };
      hooks.onProgress?.({ stage: 'choose-k', done: candidate - settings.kMin + 1, total, detail: { k: candidate, silhouette: score } });
    }
    if (!best) throw new Error('no k tried');
    k = best.k;
    if (!rows) {
      result = best.result;
      silhouette = best.silhouette;
    }
    timings['chooseK'] = seconds(started);
  }

  started = performance.now();
  result ??= await kmeans(data, kmeansOptions(settings, dim, k, hooks, true));
  timings['kmeans'] = seconds(started);
  if (silhouette === null && k >= 2) {
    started = performance.now();
    silhouette = await silhouetteScore(data, result.labels, {
      dim,
      sampleSize: settings.silhouetteSampleSize,
      seed: settings.seed,
      threads: settings.threads,
      ...(hooks.signal ? { signal: hooks.signal } : {}),
    });
    timings['silhouette'] = seconds(started);
  }

  started = performance.now();
  hooks.onProgress?.({ stage: 'profiles', done: 0, total: 1 });
  const described = describe(table, data, dim, k, result);
  hooks.onProgress?.({ stage: 'profiles', done: 1, total: 1 });
  timings['profiles'] = seconds(started);
  return {
    k,
    chosenBy: settings.k === null ? 'silhouette' : 'given',
    labels: described.labels,
    distances: described.distances,
    inertia: result.inertia,
    silhouette,
    curve,
    iterations: result.iterations,
    preprocessing,
    profiles: described.profiles,
    overall: described.overall,
    timings,
  };
}

/** Renumbers segments by revenue (largest first), measures distances, builds profiles and labels. */
function describe(table: FeatureTable, data: Float32Array, dim: number, k: number, result: KmeansResult) {
  const n = table.customerIds.length;
  const monetary = table.names.includes('monetary') ? column(table, 'monetary') : new Float64Array(n);
  const revenueOf = new Float64Array(k);
  const sizeOf = new Int32Array(k);
  for (let i = 0; i < n; i++) {
    const s = result.labels[i]!;
    sizeOf[s] = sizeOf[s]! + 1;
    const m = monetary[i]!;
    if (!Number.isNaN(m)) revenueOf[s] = revenueOf[s]! + m;
  }
  const order = Array.from({ length: k }, (_, s) => s).sort((a, b) => revenueOf[b]! - revenueOf[a]! || sizeOf[b]! - sizeOf[a]! || a - b);
  const renumber = new Int32Array(k);
  order.forEach((old, index) => (renumber[old] = index));

  const labels = new Int32Array(n);
  const distances = new Float32Array(n);
  for (let i = 0; i < n; i++) {
    const old = result.labels[i]!;
    labels[i] = renumber[old]!;
    let d2 = 0;
    for (let f = 0; f < dim; f++) d2 += (data[i * dim + f]! - result.centroids[old * dim + f]!) ** 2;
    distances[i] = Math.sqrt(d2);
  }

  // Rows grouped by segment (a counting sort), so each segment's medians come from a slice.
  const start = new Int32Array(k + 1);
  for (let i = 0; i < n; i++) start[labels[i]! + 1] = start[labels[i]! + 1]! + 1;
  for (let s = 0; s < k; s++) start[s + 1] = start[s + 1]! + start[s]!;
  const fillAt = start.slice(0, k);
  const grouped = new Int32Array(n);
  for (let i = 0; i < n; i++) {
    const s = labels[i]!;
    grouped[fillAt[s]!] = i;
    fillAt[s] = fillAt[s]! + 1;
  }

  const medians: Record<string, number | null>[] = Array.from({ length: k }, () => ({}));
  const overall: Record<string, number | null> = {};
  const ranks: Partial<Record<FeatureName, number>>[] = Array.from({ length: k }, () => ({}));
  const ranked: FeatureName[] = ['recency_days', 'frequency', 'monetary', 'tenure_days', 'avg_order_value', 'views_30d', 'distinct_categories'];
  for (const name of FEATURE_NAMES) {
    if (!table.names.includes(name)) continue;
    const values = column(table, name);
    const whole = median(values);
    overall[name] = Number.isNaN(whole) ? null : whole;
    const byGroup = new Float64Array(n);
    for (let r = 0; r < n; r++) byGroup[r] = values[grouped[r]!]!;
    for (let s = 0; s < k; s++) {
      const m = median(byGroup.subarray(start[s]!, start[s + 1]!));
      medians[s]![name] = Number.isNaN(m) ? null : m;
      if (!Number.isNaN(m) && ranked.includes(name)) ranks[s]![name] = percentileRank(values, m);
    }
  }

  const totalRevenue = revenueOf.reduce((a, b) => a + b, 0);
  const positions = Array.from({ length: k }, (_, s) => positionOf(ranks[s]!, medians[s]!['frequency'] ?? 1));
  const names = labelSegments(positions);
  const profiles: SegmentProfile[] = order.map((old, index) => ({
    index,
    label: names[index] ?? `Segment ${index + 1}`,
    size: sizeOf[old]!,
    customerShare: n > 0 ? sizeOf[old]! / n : 0,
    revenue: revenueOf[old]!,
    revenueShare: totalRevenue > 0 ? revenueOf[old]! / totalRevenue : 0,
    medians: medians[index]!,
    position: positions[index]!,
    centroid: Array.from(result.centroids.subarray(old * dim, old * dim + dim)),
  }));
  return { labels, distances, profiles, overall };
}

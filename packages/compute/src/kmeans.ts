import { native } from './native.js';
import { commonOptions, runNative, type RunOptions } from './run.js';
import { Check } from './validate.js';

export interface KmeansOptions extends RunOptions {
  /** Dimension of each point (data is row-major n × dim). */
  dim: number;
  /** Number of clusters, 1 ≤ k ≤ n. */
  k: number;
  /** Lloyd iterations per restart (default 100). */
  maxIterations?: number;
  /** Stop when the relative inertia decrease is below this (default 1e-4; 0 runs every iteration). */
  tolerance?: number;
  /** Independent restarts (different seeds); the lowest inertia wins (default 1). */
  restarts?: number;
  seed?: number;
  /** 'kmeans++' (greedy, default) or 'random' distinct points. Ignored when centroids are given. */
  init?: 'kmeans++' | 'random';
  /** Initial centroids (k × dim). */
  centroids?: Float32Array;
  /** k-means++ candidates per step (default 2 + ⌊ln k⌋, at most 8). */
  candidates?: number;
  /** 'auto' uses a CUDA device for the assignment when one is present; 'cpu' never does. */
  device?: 'auto' | 'cpu';
}

export interface KmeansResult {
  labels: Int32Array;
  centroids: Float32Array;
  /** Sum of squared distances of points to their centroid. */
  inertia: number;
  /** Assignment steps run in the best restart. */
  iterations: number;
  bestRestart: number;
  /** Inertia after each assignment of the best restart (non-increasing). */
  history: Float64Array;
  seconds: number;
  /** Time of the k-means++ seeding (single-restart k-means++ runs only). */
  initSeconds?: number;
}

/** k-means: greedy k-means++ seeding, Lloyd iterations (blocked GEMM + running argmin), restarts. */
export async function kmeans(data: Float32Array, options: KmeansOptions): Promise<KmeansResult> {
  const check = new Check('kmeans');
  check.float32('data', data);
  const o = check.object('options', options);
  const dim = check.integer('options.dim', o.dim, 1, 1 << 20);
  const n = check.rows('data', data, dim, 'options.dim');
  if (n === 0) throw check.rangeError('data', 'at least one point', 'an empty array');
  const k = check.integer('options.k', o.k, 1, n, undefined, ` (k ≤ n, the number of points)`);
  check.finite('data', data);
  let centroids: Float32Array | undefined;
  if (o.centroids !== undefined) {
    centroids = check.float32('options.centroids', o.centroids);
    check.length('options.centroids', centroids, k * dim, 'k × dim');
    check.finite('options.centroids', centroids);
  }
  const params = {
    data,
    dim,
    k,
    maxIterations: check.integer('options.maxIterations', o.maxIterations, 1, 1_000_000, 100),
    tolerance: check.number('options.tolerance', o.tolerance, 0, 1, 1e-4),
    restarts: check.integer('options.restarts', o.restarts, 1, 1000, 1),
    seed: check.integer('options.seed', o.seed, 0, Number.MAX_SAFE_INTEGER, 0),
    init: check.oneOf('options.init', o.init, ['kmeans++', 'random'] as const, 'kmeans++'),
    candidates: check.integer('options.candidates', o.candidates, 0, 8, 0),
    device: check.oneOf('options.device', o.device, ['auto', 'cpu'] as const, 'auto'),
    ...(centroids ? { centroids } : {}),
    ...commonOptions(check, o),
  };
  return runNative(o, (run) => native().kmeans({ ...params, ...run }));
}

export interface SilhouetteOptions extends RunOptions {
  dim: number;
  /** Points sampled (default 2000; 0 = all). Cost grows with the square of the sample. */
  sampleSize?: number;
  seed?: number;
}

/** Mean silhouette coefficient (Euclidean) over a random sample, in [-1, 1]; for choosing k. */
export async function silhouetteScore(data: Float32Array, labels: Int32Array, options: SilhouetteOptions): Promise<number> {
  const check = new Check('silhouetteScore');
  check.float32('data', data);
  check.int32('labels', labels);
  const o = check.object('options', options);
  const dim = check.integer('options.dim', o.dim, 1, 1 << 20);
  const n = check.rows('data', data, dim, 'options.dim');
  if (n === 0) throw check.rangeError('data', 'at least one point', 'an empty array');
  check.length('labels', labels, n, 'one label per point');
  check.indices('labels', labels, 2 ** 31 - 1, 'max');
  check.finite('data', data);
  const params = {
    data,
    dim,
    labels,
    sampleSize: check.integer('options.sampleSize', o.sampleSize, 0, 2 ** 31 - 1, 2000),
    seed: check.integer('options.seed', o.seed, 0, Number.MAX_SAFE_INTEGER, 0),
    ...commonOptions(check, o),
  };
  return runNative(o, (run) => native().silhouette({ ...params, ...run }));
}

// The raw shape of the addon's exports. Every function takes one options object; the C++ side
// re-validates it. Use @clientele/compute rather than calling these directly.

export type KernelName = 'auto' | 'portable' | 'avx2';

export interface RawProgress {
  stage: string;
  done: number;
  total: number;
  value: number;
}

/** Options every long-running call accepts. */
export interface RawCommon {
  /** Worker threads; 0 or absent = all cores. */
  threads?: number;
  kernel?: KernelName;
  /**
   * A flag made by cancelFlag(): set element 0 to non-zero (Atomics.store) to cancel between
   * iterations. Any other Int32Array is refused (RangeError): the worker reads the flag while
   * the call runs, so its memory must be the addon's.
   */
  cancel?: Int32Array;
  onProgress?: (p: RawProgress) => void;
}

export interface RawCpuFeatures {
  avx2: boolean;
  fma: boolean;
  avx512vnni: boolean;
  int8ScanFast: boolean;
  kernel: 'avx2' | 'portable';
  threads: number;
  cuda: { compiled: boolean; devices: number; reason?: string };
}

export interface RawDotBatchOptions extends RawCommon {
  queries: Float32Array;
  matrix: Float32Array;
  dim: number;
}

export interface NativeBinding {
  abiVersion: number;
  cpuFeatures(): RawCpuFeatures;
  dotBatch(o: RawDotBatchOptions): Promise<Float32Array>;
}

export interface RawCsr {
  rows: number;
  cols: number;
  indptr: Int32Array;
  indices: Int32Array;
  data: Float32Array;
}

export interface RawBuildCsrOptions extends RawCommon {
  rows: Int32Array;
  cols: Int32Array;
  values?: Float32Array;
  nRows: number;
  nCols: number;
  duplicates?: 'sum' | 'reject';
  transpose?: boolean;
}

export interface RawExplicitOptions extends RawCommon {
  users: Int32Array;
  items: Int32Array;
  ratings: Float32Array;
  nUsers: number;
  nItems: number;
  factors?: number;
  iterations?: number;
  regularization?: number;
  biasRegularization?: number;
  initStd?: number;
  seed?: number;
  duplicates?: 'sum' | 'reject';
}

export interface RawExplicitResult {
  userFactors: Float32Array;
  itemFactors: Float32Array;
  userBias: Float32Array;
  itemBias: Float32Array;
  globalMean: number;
  loss: Float64Array;
  rmse: Float64Array;
}

export interface RawImplicitOptions extends RawCommon {
  users: Int32Array;
  items: Int32Array;
  values?: Float32Array;
  nUsers: number;
  nItems: number;
  factors?: number;
  iterations?: number;
  regularization?: number;
  /** λ of a row with n pairs: regularization·(n + regularizationOffset)^regularizationExponent (0: one λ). */
  regularizationExponent?: number;
  regularizationOffset?: number;
  alpha?: number;
  cgSteps?: number;
  solver?: 'cg' | 'cholesky';
  computeLoss?: boolean;
  initScale?: number;
  seed?: number;
  device?: 'auto' | 'cpu';
  duplicates?: 'sum' | 'reject';
  initialUserFactors?: Float32Array;
  initialItemFactors?: Float32Array;
}

export interface RawImplicitResult {
  userFactors: Float32Array;
  itemFactors: Float32Array;
  loss: Float64Array;
  secondsPerIteration: Float64Array;
}

export interface RawKmeansOptions extends RawCommon {
  data: Float32Array;
  dim: number;
  k: number;
  maxIterations?: number;
  tolerance?: number;
  restarts?: number;
  seed?: number;
  init?: 'kmeans++' | 'random';
  centroids?: Float32Array;
  candidates?: number;
  device?: 'auto' | 'cpu';
}

export interface RawKmeansResult {
  labels: Int32Array;
  centroids: Float32Array;
  inertia: number;
  iterations: number;
  bestRestart: number;
  history: Float64Array;
  seconds: number;
  initSeconds?: number;
}

export interface RawSilhouetteOptions extends RawCommon {
  data: Float32Array;
  dim: number;
  labels: Int32Array;
  sampleSize?: number;
  seed?: number;
}

export interface RawTopKOptions {
  query: Float32Array;
  items: Float32Array;
  dim: number;
  k: number;
  exclude?: Int32Array;
  candidates?: Int32Array;
  kernel?: KernelName;
  threads?: number;
  /** Half-float copy from halfCopy(): the scan reads it, the winners are rescored from items. */
  itemsHalf?: Uint16Array;
  /** 8-bit copy from int8Copy() (taken over itemsHalf): the scan reads it, the winners are rescored from items. */
  itemsInt8?: Uint8Array;
  maxNorm?: number;
}

export interface RawTopKResult {
  indices: Int32Array;
  scores: Float32Array;
}

export interface RawTopKBatchOptions extends RawCommon {
  queries: Float32Array;
  rows?: Int32Array;
  items: Float32Array;
  dim: number;
  k: number;
  excludeIndptr?: Int32Array;
  excludeIndices?: Int32Array;
  candidates?: Int32Array;
  /** Half-float copy from halfCopy() (not with candidates): the scan reads it, the winners are rescored from items. */
  itemsHalf?: Uint16Array;
  /** 8-bit copy from int8Copy() (not with candidates; taken over itemsHalf). */
  itemsInt8?: Uint8Array;
  maxNorm?: number;
}

export interface RawSimilarOptions extends RawCommon {
  items: Float32Array;
  queries: Int32Array;
  dim: number;
  k: number;
  candidates?: Int32Array;
}

export interface RawTopKBatchResult {
  indices: Int32Array;
  scores: Float32Array;
  counts: Int32Array;
  k: number;
}

export interface RawScorePairsOptions extends RawCommon {
  userFactors: Float32Array;
  itemFactors: Float32Array;
  dim: number;
  users: Int32Array;
  items: Int32Array;
  userBias?: Float32Array;
  itemBias?: Float32Array;
  globalMean?: number;
}

export interface NativeBinding {
  buildCsr(o: RawBuildCsrOptions): Promise<{ matrix: RawCsr; transpose?: RawCsr }>;
  trainExplicit(o: RawExplicitOptions): Promise<RawExplicitResult>;
  trainImplicit(o: RawImplicitOptions): Promise<RawImplicitResult>;
  kmeans(o: RawKmeansOptions): Promise<RawKmeansResult>;
  silhouette(o: RawSilhouetteOptions): Promise<number>;
  topK(o: RawTopKOptions): RawTopKResult;
  topKBatch(o: RawTopKBatchOptions): Promise<RawTopKBatchResult>;
  similarItems(o: RawSimilarOptions): Promise<RawTopKBatchResult>;
  scorePairs(o: RawScorePairsOptions): Promise<Float32Array>;
  crc32(data: Uint8Array, seed?: number): number;
  halfCopy(o: { items: Float32Array; dim: number }): { half: Uint16Array; maxNorm: number } | null;
  /** 8-bit copy (per-row scale); null for no rows, more than 4,096 dimensions or non-finite values. */
  int8Copy(o: { items: Float32Array; dim: number }): { copy: Uint8Array; maxNorm: number } | null;
  /**
   * A copy of the array in memory the addon owns. Asynchronous calls copy their typed-array
   * inputs when they start (so nothing JavaScript does to them later reaches the worker), except
   * float and byte data in memory made here, by halfCopy or by int8Copy, which they share
   * instead: use it for large data passed to many calls (an item matrix). Index arrays
   * (Int32Array) are copied whatever their memory.
   */
  pin<T extends Float32Array | Uint8Array | Uint16Array>(array: T): T;
  /** An Int32Array(1) for the `cancel` option. */
  cancelFlag(): Int32Array;
}

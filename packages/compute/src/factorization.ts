import { native } from './native.js';
import { commonOptions, runNative, type RunOptions } from './run.js';
import { checkTriplets } from './sparse.js';
import { Check } from './validate.js';

const MAX_SEED = Number.MAX_SAFE_INTEGER;

export interface Ratings {
  users: Int32Array;
  items: Int32Array;
  ratings: Float32Array;
}

export interface ExplicitOptions extends RunOptions {
  nUsers: number;
  nItems: number;
  /** Latent factors (default 32). */
  factors?: number;
  /** ALS sweeps (default 15). */
  iterations?: number;
  /** Factor regularisation λ, multiplied by each row's rating count (default 0.1). */
  regularization?: number;
  /** Bias regularisation (a constant, default 10). */
  biasRegularization?: number;
  /** Standard deviation of the initial factors (default 0.1). */
  initStd?: number;
  seed?: number;
  /** Repeated (user, item) pairs: rejected (default) or summed. */
  duplicates?: 'sum' | 'reject';
}

/** A biased MF model: rating ≈ globalMean + userBias[u] + itemBias[i] + userFactors[u]·itemFactors[i]. */
export interface ExplicitModel {
  factors: number;
  userFactors: Float32Array;
  itemFactors: Float32Array;
  userBias: Float32Array;
  itemBias: Float32Array;
  globalMean: number;
  /** Regularised objective / number of ratings, per iteration. */
  loss: Float64Array;
  /** Training RMSE per iteration. */
  rmse: Float64Array;
}

/** Explicit biased matrix factorization by alternating least squares (per-row Cholesky solves). */
export async function trainExplicit(data: Ratings, options: ExplicitOptions): Promise<ExplicitModel> {
  const check = new Check('trainExplicit');
  const d = check.object('data', data);
  const o = check.object('options', options);
  const coo = checkTriplets(
    check,
    { rows: 'data.users', cols: 'data.items', values: 'data.ratings', nRows: 'options.nUsers', nCols: 'options.nItems' },
    d.users,
    d.items,
    d.ratings,
    o.nUsers,
    o.nItems,
    { valuesRequired: true, nonNegative: false },
  );
  if (coo.rows.length === 0) throw check.rangeError('data.ratings', 'at least one rating', 'none');
  const factors = check.integer('options.factors', o.factors, 1, 1024, 32);
  const params = {
    users: coo.rows,
    items: coo.cols,
    ratings: coo.values!,
    nUsers: coo.nRows,
    nItems: coo.nCols,
    factors,
    iterations: check.integer('options.iterations', o.iterations, 1, 100000, 15),
    regularization: check.number('options.regularization', o.regularization, 0, 1e6, 0.1),
    biasRegularization: check.number('options.biasRegularization', o.biasRegularization, 0, 1e9, 10),
    initStd: check.number('options.initStd', o.initStd, 0, 10, 0.1),
    seed: check.integer('options.seed', o.seed, 0, MAX_SEED, 0),
    duplicates: check.oneOf('options.duplicates', o.duplicates, ['sum', 'reject'] as const, 'reject'),
    ...commonOptions(check, o),
  };
  const r = await runNative(o, (run) => native().trainExplicit({ ...params, ...run }));
  return { factors, ...r };
}

export interface Interactions {
  users: Int32Array;
  items: Int32Array;
  /** Strength of each interaction (≥ 0; default 1). Confidence = 1 + alpha·value. */
  values?: Float32Array;
}

export interface ImplicitOptions extends RunOptions {
  nUsers: number;
  nItems: number;
  /** Latent factors (default 64). */
  factors?: number;
  /** ALS sweeps (default 15). */
  iterations?: number;
  /**
   * λ (default 0.01). With `regularizationExponent` ν > 0 a row (user or item) with n
   * interactions gets λ·(n + regularizationOffset)^ν instead.
   */
  regularization?: number;
  /**
   * ν of the frequency-scaled regularisation (Rendle et al. 2021, "Revisiting the Performance
   * of iALS on Item Recommendation Benchmarks"), in [0, 2]; default 0 = the same λ for every row.
   * ν = 1 makes λ proportional to a row's interaction count, so rows with many interactions are
   * not under-regularised relative to rows with few. Runs on the CPU (the CUDA solver takes one λ).
   */
  regularizationExponent?: number;
  /** Added to each row's interaction count before the power (≥ 0, default 0). */
  regularizationOffset?: number;
  /** Confidence scale (default 1). */
  alpha?: number;
  /** Conjugate-gradient steps per row solve (default 3). */
  cgSteps?: number;
  /** 'cg' (default) or 'cholesky' (exact; for small factor counts). */
  solver?: 'cg' | 'cholesky';
  /** Compute the full loss after each iteration (costs about one extra half-sweep). */
  computeLoss?: boolean;
  /** Scale of the random initial factors (default 0.01). */
  initScale?: number;
  seed?: number;
  /** 'auto' uses a CUDA device when one is present; 'cpu' never does. */
  device?: 'auto' | 'cpu';
  /** Start from these factors instead of random ones (both or neither). */
  initialUserFactors?: Float32Array;
  initialItemFactors?: Float32Array;
}

export interface ImplicitModel {
  factors: number;
  userFactors: Float32Array;
  itemFactors: Float32Array;
  /** Loss per iteration (empty unless computeLoss). */
  loss: Float64Array;
  secondsPerIteration: Float64Array;
}

/** Implicit-feedback ALS (Hu, Koren, Volinsky 2008) with conjugate-gradient row solves. */
export async function trainImplicit(data: Interactions, options: ImplicitOptions): Promise<ImplicitModel> {
  const check = new Check('trainImplicit');
  const d = check.object('data', data);
  const o = check.object('options', options);
  const coo = checkTriplets(
    check,
    { rows: 'data.users', cols: 'data.items', values: 'data.values', nRows: 'options.nUsers', nCols: 'options.nItems' },
    d.users,
    d.items,
    d.values,
    o.nUsers,
    o.nItems,
    { valuesRequired: false, nonNegative: true },
  );
  const factors = check.integer('options.factors', o.factors, 1, 1024, 64);
  let initial: { initialUserFactors: Float32Array; initialItemFactors: Float32Array } | undefined;
  if (o.initialUserFactors !== undefined || o.initialItemFactors !== undefined) {
    const u = check.float32('options.initialUserFactors', o.initialUserFactors);
    const i = check.float32('options.initialItemFactors', o.initialItemFactors);
    check.length('options.initialUserFactors', u, coo.nRows * factors, 'nUsers × factors');
    check.length('options.initialItemFactors', i, coo.nCols * factors, 'nItems × factors');
    check.finite('options.initialUserFactors', u);
    check.finite('options.initialItemFactors', i);
    initial = { initialUserFactors: u, initialItemFactors: i };
  }
  const params = {
    users: coo.rows,
    items: coo.cols,
    ...(coo.values ? { values: coo.values } : {}),
    nUsers: coo.nRows,
    nItems: coo.nCols,
    factors,
    iterations: check.integer('options.iterations', o.iterations, 1, 100000, 15),
    regularization: check.number('options.regularization', o.regularization, 0, 1e9, 0.01),
    regularizationExponent: check.number('options.regularizationExponent', o.regularizationExponent, 0, 2, 0),
    regularizationOffset: check.number('options.regularizationOffset', o.regularizationOffset, 0, 1e9, 0),
    alpha: check.number('options.alpha', o.alpha, 0, 1e9, 1),
    cgSteps: check.integer('options.cgSteps', o.cgSteps, 1, 1000, 3),
    solver: check.oneOf('options.solver', o.solver, ['cg', 'cholesky'] as const, 'cg'),
    computeLoss: check.boolean('options.computeLoss', o.computeLoss, false),
    initScale: check.number('options.initScale', o.initScale, 0, 10, 0.01),
    seed: check.integer('options.seed', o.seed, 0, MAX_SEED, 0),
    device: check.oneOf('options.device', o.device, ['auto', 'cpu'] as const, 'auto'),
    ...(initial ?? {}),
    ...commonOptions(check, o),
  };
  const r = await runNative(o, (run) => native().trainImplicit({ ...params, ...run }));
  return { factors, ...r };
}

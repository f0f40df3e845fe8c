import { DomainError } from '@clientele/domain';

// Training settings as a caller gives them (GraphQL, CLI, job parameters: plain JSON), checked
// once into TrainingParams with every default filled in. Messages name the setting, what was
// expected and what was received.

export type ModelKind = 'explicit' | 'implicit';
export const MODEL_KINDS: readonly ModelKind[] = ['explicit', 'implicit'];

export type SplitMethod = 'random' | 'temporal' | 'leave-last-out';
export const SPLIT_METHODS: readonly SplitMethod[] = ['random', 'temporal', 'leave-last-out'];

export interface SplitParams {
  method: SplitMethod;
  /** random: share of the data held out for the test part (default 0.2). */
  testFraction: number;
  /** random: share held out for the validation part (default 0.1; 0 = none). */
  validationFraction: number;
  /** temporal: the last `days` days are the test part, the `days` before them validation (default 30). */
  days: number;
  seed: number;
}

export interface ModelParams {
  factors: number;
  iterations: number;
  regularization: number;
  /** implicit only: confidence = 1 + alpha × weight. */
  alpha: number;
  /**
   * implicit only: frequency-scaled regularisation (Rendle et al. 2021). A customer or item with
   * n training pairs gets λ·(n + regularizationOffset)^regularizationExponent; exponent 0 is the
   * same λ for every row. (explicit MF already scales λ by each row's rating count.)
   */
  regularizationExponent: number;
  regularizationOffset: number;
}

/** The model settings of a training run (what a search varies and a version records). */
export function modelParamsOf(p: ModelParams): ModelParams {
  return {
    factors: p.factors,
    iterations: p.iterations,
    regularization: p.regularization,
    alpha: p.alpha,
    regularizationExponent: p.regularizationExponent,
    regularizationOffset: p.regularizationOffset,
  };
}

export interface SearchParams {
  /** Random-search trials (0 = no search, train with the given settings). */
  trials: number;
  /** Stop starting new trials after this many seconds (0 = no limit). */
  maxSeconds: number;
  seed: number;
}

export interface TrainingParams extends ModelParams {
  kind: ModelKind;
  /** implicit: weight of each interaction type (types not listed are left out). */
  weights: Record<string, number>;
  /** implicit: an interaction's weight halves every this many days before the newest one (0 = no decay). */
  decayHalfLifeDays: number;
  split: SplitParams;
  search: SearchParams;
  /** k of the ranking metrics (precision@k and the others). */
  evaluationK: number;
  /** Activate the new version when it beats the active one on the primary metric. */
  autoActivate: boolean;
  seed: number;
}

export const DEFAULT_WEIGHTS: Readonly<Record<string, number>> = { view: 1, click: 1, add_to_cart: 3, purchase: 5, rating: 1 };

const DEFAULT_MODEL: Record<ModelKind, ModelParams> = {
  // Tuned on MovieLens latest-small (random 80/20): test RMSE about 0.86.
  explicit: { factors: 32, iterations: 20, regularization: 0.1, alpha: 0, regularizationExponent: 0, regularizationOffset: 0 },
  // Measured on MovieLens latest-small (random 80/20, ratings as weight-1 interactions):
  // precision@10 about 1.94× popularity with λ·(n + 100) per row, λ = 0.1, against 1.79–1.82×
  // with the earlier constant λ = 15 (which over-regularises customers and items with few
  // pairs relative to those with many) and 1.46× with λ = 0.05, α = 10.
  implicit: { factors: 64, iterations: 15, regularization: 0.1, alpha: 1, regularizationExponent: 1, regularizationOffset: 100 },
};

function bad(field: string, expected: string, received: unknown): DomainError {
  const shown = typeof received === 'string' ? `'${received}'` : JSON.stringify(received) ?? String(received);
  return new DomainError('BAD_USER_INPUT', `${field}: expected ${expected}, got ${shown}`, field);
}

function num(source: Record<string, unknown>, field: string, prefix: string, fallback: number, min: number, max: number, integer = false): number {
  const value = source[field];
  if (value === undefined || value === null) return fallback;
  const what = integer ? `a whole number from ${min} to ${max}` : `a number from ${min} to ${max}`;
  if (typeof value !== 'number' || !Number.isFinite(value) || value < min || value > max || (integer && !Number.isInteger(value))) {
    throw bad(`${prefix}${field}`, what, value);
  }
  return value;
}

function object(value: unknown, field: string): Record<string, unknown> {
  if (value === undefined || value === null) return {};
  if (typeof value !== 'object' || Array.isArray(value)) throw bad(field, 'an object', value);
  return value as Record<string, unknown>;
}

/** Reads weights as `{type: weight}` or `[{type, weight}]`. */
function weights(value: unknown, types: readonly string[] | undefined): Record<string, number> {
  if (value === undefined || value === null) return { ...DEFAULT_WEIGHTS };
  const entries: [unknown, unknown][] = Array.isArray(value)
    ? value.map((entry: unknown) => {
        const e = object(entry, 'weights[]');
        return [e['type'], e['weight']];
      })
    : Object.entries(object(value, 'weights'));
  const out: Record<string, number> = {};
  for (const [type, weight] of entries) {
    if (typeof type !== 'string' || (types && !types.includes(type))) {
      throw bad('weights', `interaction types from ${(types ?? []).join(', ')}`, type);
    }
    if (typeof weight !== 'number' || !Number.isFinite(weight) || weight < 0 || weight > 1000) throw bad(`weights.${type}`, 'a number from 0 to 1000', weight);
    out[type] = weight;
  }
  if (!Object.values(out).some((w) => w > 0)) throw bad('weights', 'at least one type with a weight above 0', value);
  return out;
}

/**
 * Checks training settings given as JSON and fills in the defaults. `interactionTypes` (the
 * accepted types) lets weights naming an unknown type be refused.
 */
export function parseTrainingParams(input: unknown, interactionTypes?: readonly string[]): TrainingParams {
  const o = object(input, 'params');
  const kind = o['kind'];
  if (typeof kind !== 'string' || !MODEL_KINDS.includes(kind as ModelKind)) throw bad('kind', `one of ${MODEL_KINDS.join(', ')}`, kind);
  const k = kind as ModelKind;
  const d = DEFAULT_MODEL[k];
  const seed = num(o, 'seed', '', 42, 0, 2 ** 31 - 1, true);
  const s = object(o['split'], 'split');
  const method = s['method'] ?? 'random';
  if (typeof method !== 'string' || !SPLIT_METHODS.includes(method as SplitMethod)) throw bad('split.method', `one of ${SPLIT_METHODS.join(', ')}`, method);
  const split: SplitParams = {
    method: method as SplitMethod,
    testFraction: num(s, 'testFraction', 'split.', 0.2, 0.01, 0.9),
    validationFraction: num(s, 'validationFraction', 'split.', 0.1, 0, 0.5),
    days: num(s, 'days', 'split.', 30, 1, 3650, true),
    seed: num(s, 'seed', 'split.', seed, 0, 2 ** 31 - 1, true),
  };
  if (split.testFraction + split.validationFraction >= 0.95) {
    throw bad('split.validationFraction', `at most ${(0.95 - split.testFraction).toFixed(2)} with testFraction ${split.testFraction}`, split.validationFraction);
  }
  const r = object(o['search'], 'search');
  const search: SearchParams = {
    trials: num(r, 'trials', 'search.', 0, 0, 200, true),
    maxSeconds: num(r, 'maxSeconds', 'search.', 0, 0, 86_400),
    seed: num(r, 'seed', 'search.', seed, 0, 2 ** 31 - 1, true),
  };
  if (search.trials > 0 && split.method === 'random' && split.validationFraction === 0) {
    throw bad('split.validationFraction', 'above 0 when a search runs (trials are compared on the validation part)', 0);
  }
  return {
    kind: k,
    factors: num(o, 'factors', '', d.factors, 1, 512, true),
    iterations: num(o, 'iterations', '', d.iterations, 1, 200, true),
    regularization: num(o, 'regularization', '', d.regularization, 0, 1000),
    alpha: num(o, 'alpha', '', d.alpha, 0, 10_000),
    regularizationExponent: num(o, 'regularizationExponent', '', d.regularizationExponent, 0, 2),
    regularizationOffset: num(o, 'regularizationOffset', '', d.regularizationOffset, 0, 1_000_000),
    weights: weights(o['weights'], interactionTypes),
    decayHalfLifeDays: num(o, 'decayHalfLifeDays', '', 0, 0, 36_500),
    split,
    search,
    evaluationK: num(o, 'evaluationK', '', 10, 1, 100, true),
    autoActivate: o['autoActivate'] === undefined || o['autoActivate'] === null ? false : o['autoActivate'] === true,
    seed,
  };
}

/** The metric that ranks versions of a kind, and whether lower is better. */
export function primaryMetric(kind: ModelKind, k: number): { name: string; lowerIsBetter: boolean } {
  return kind === 'explicit' ? { name: 'rmse', lowerIsBetter: true } : { name: `precision@${k}`, lowerIsBetter: false };
}

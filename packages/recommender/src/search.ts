import type { Dataset } from './data.js';
import type { ModelParams, TrainingParams } from './params.js';
import { modelParamsOf, primaryMetric } from './params.js';
import { random } from './split.js';
import { evaluate, fit, type Metrics, type RunControl } from './train.js';

// Random search over factors, regularisation (and its offset when scaled), alpha and iterations,
// judged on the validation part. The first trial is the given settings, so a search never picks
// worse than them.

export interface Trial {
  params: ModelParams;
  metrics: Metrics;
  seconds: number;
}

export interface SearchResult {
  best: ModelParams;
  trials: Trial[];
  metric: string;
  /** Why it stopped: all trials ran, or the time budget ran out. */
  stopped: 'trials' | 'time';
  seconds: number;
}

const FACTOR_CHOICES = [8, 16, 24, 32, 48, 64, 96, 128];

function logUniform(next: () => number, low: number, high: number): number {
  return Math.exp(Math.log(low) + next() * (Math.log(high) - Math.log(low)));
}

/** Settings for trial `i` (0: the given ones). */
export function sampleParams(kind: TrainingParams['kind'], given: ModelParams, next: () => number, i: number): ModelParams {
  if (i === 0) return { ...given };
  const factors = FACTOR_CHOICES[Math.floor(next() * FACTOR_CHOICES.length)] ?? given.factors;
  const iterations = 5 + Math.floor(next() * 26);
  const same = { regularizationExponent: given.regularizationExponent, regularizationOffset: given.regularizationOffset };
  if (kind === 'explicit') return { factors, iterations, regularization: Number(logUniform(next, 0.02, 0.5).toPrecision(3)), alpha: 0, ...same };
  const alpha = Number(logUniform(next, 0.1, 40).toPrecision(3));
  // The exponent stays as given (0: constant λ, 1: proportional to the row's pairs); the offset
  // is sampled when it scales. λ is drawn as the λ of a typical row (100 pairs), 1 to 100 (the
  // constant λ ≈ 15–25 and the scaled 0.1·(100 + 100) = 20 that are best on MovieLens are inside),
  // and converted back through the row scale so every exponent gets a comparable range.
  const nu = given.regularizationExponent;
  const offset = nu > 0 ? Number(logUniform(next, 10, 1000).toPrecision(3)) : given.regularizationOffset;
  const typical = Math.pow(100 + offset, nu);
  const regularization = Number((logUniform(next, 1, 100) / typical).toPrecision(3));
  return { factors, iterations, regularization, alpha, regularizationExponent: nu, regularizationOffset: offset };
}

export async function randomSearch(
  train: Dataset,
  validation: Dataset,
  params: TrainingParams,
  control: RunControl & { onTrial?: (done: number, total: number, trial: Trial) => void } = {},
): Promise<SearchResult> {
  const started = performance.now();
  const next = random(params.search.seed);
  const { name, lowerIsBetter } = primaryMetric(params.kind, params.evaluationK);
  const trials: Trial[] = [];
  let stopped: SearchResult['stopped'] = 'trials';
  const { onTrial, ...run } = control;
  for (let i = 0; i < params.search.trials; i++) {
    if (params.search.maxSeconds > 0 && (performance.now() - started) / 1000 >= params.search.maxSeconds && i > 0) {
      stopped = 'time';
      break;
    }
    const candidate = sampleParams(params.kind, params, next, i);
    const t0 = performance.now();
    const { onProgress: _ignored, ...quiet } = run;
    const model = await fit(train, { ...candidate, kind: params.kind, seed: params.seed }, quiet);
    const result = await evaluate(model, train, validation, params.evaluationK, quiet);
    const trial = { params: candidate, metrics: result.model, seconds: (performance.now() - t0) / 1000 };
    trials.push(trial);
    onTrial?.(i + 1, params.search.trials, trial);
  }
  const score = (t: Trial) => {
    const v = t.metrics[name];
    return v === undefined || Number.isNaN(v) ? (lowerIsBetter ? Infinity : -Infinity) : v;
  };
  const best = trials.reduce<Trial | null>((a, t) => (!a || (lowerIsBetter ? score(t) < score(a) : score(t) > score(a)) ? t : a), null);
  return {
    best: best ? best.params : modelParamsOf(params),
    trials,
    metric: name,
    stopped,
    seconds: (performance.now() - started) / 1000,
  };
}

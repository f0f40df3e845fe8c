import { attachedInteractionSegments, interactions, items, selectRows, type AuditActor, type Executor } from '@clientele/db';
import { sql } from 'drizzle-orm';
import { encodeArtifact, gramMatrix, type ModelArtifact } from './artifact.js';
import { checkEnoughData, InsufficientDataError, loadDataset, type Dataset } from './data.js';
import { modelParamsOf, primaryMetric, type ModelParams, type TrainingParams } from './params.js';
import { activateModelVersion, currentActivation, getModelVersion, saveModelVersion, type ModelVersion } from './registry.js';
import { randomSearch, type SearchResult } from './search.js';
import { concat, splitDataset } from './split.js';
import { evaluate, fit, popularityOrder, type FittedModel, type Metrics } from './train.js';

// A whole training run: read the data, split it, (optionally) search on the validation part,
// fit on train + validation and report the test figures next to the popularity baseline, fit
// the final model on all the data, store it as a new version, and auto-activate it if asked
// and it beats the active version of its kind.

export interface RunProgress {
  stage: 'extract' | 'search' | 'train' | 'evaluate' | 'final' | 'save';
  done: number;
  total: number;
  detail?: Record<string, unknown>;
}

export interface TrainingRunOptions {
  db: Executor;
  params: TrainingParams;
  actor: AuditActor;
  jobId?: string | null;
  signal?: AbortSignal;
  threads?: number;
  onProgress?: (progress: RunProgress) => void;
}

export interface TrainingRunResult {
  version: number;
  kind: TrainingParams['kind'];
  metrics: Metrics;
  baseline: Metrics;
  primaryMetric: string;
  primaryValue: number | null;
  trainingSeconds: number;
  data: Record<string, unknown>;
  activated: boolean;
  activation: string;
}

function check(signal: AbortSignal | undefined): void {
  if (signal?.aborted) throw signal.reason ?? new Error('cancelled');
}

/** The artifact of a model fitted on `data` (its own seen items, popularity and Gram matrix). */
export function buildArtifact(model: FittedModel, data: Dataset, params: Pick<ModelParams, 'alpha' | 'regularization' | 'regularizationExponent' | 'regularizationOffset'>): ModelArtifact {
  const nUsers = data.users.size;
  const nnz = data.userRows.length;
  const seenIndptr = new Int32Array(nUsers + 1);
  for (const u of data.userRows) seenIndptr[u + 1] = (seenIndptr[u + 1] ?? 0) + 1;
  for (let u = 0; u < nUsers; u++) seenIndptr[u + 1] = (seenIndptr[u + 1] ?? 0) + (seenIndptr[u] ?? 0);
  const fill = seenIndptr.slice(0, nUsers);
  const seenItems = new Int32Array(nnz);
  const seenValues = new Float32Array(nnz);
  const seenTypes = new Uint8Array(nnz);
  data.userRows.forEach((u, p) => {
    const at = fill[u]!++;
    seenItems[at] = data.itemRows[p] ?? 0;
    seenValues[at] = data.values[p] ?? 0;
    seenTypes[at] = data.typeCodes[p] ?? 0;
  });
  return {
    kind: model.kind,
    factors: model.factors,
    userFactors: model.userFactors,
    itemFactors: model.itemFactors,
    userBias: model.userBias,
    itemBias: model.itemBias,
    globalMean: model.globalMean,
    alpha: model.kind === 'implicit' ? params.alpha : 0,
    regularization: params.regularization,
    regularizationExponent: model.kind === 'implicit' ? params.regularizationExponent : 0,
    regularizationOffset: model.kind === 'implicit' ? params.regularizationOffset : 0,
    userIds: data.users.ids,
    itemIds: data.items.ids,
    seenIndptr,
    seenItems,
    seenValues,
    seenTypes,
    types: data.types.length > 0 ? data.types : ['rating'],
    popularity: popularityOrder(data).counts,
    gram: gramMatrix(model.itemFactors, model.factors),
  };
}

type Compared = Pick<ModelVersion, 'kind' | 'primaryMetric' | 'primaryValue' | 'data'>;

/**
 * Why two versions' test figures do not compare, or null when they do: another model kind,
 * another primary metric (precision@5 against precision@10), or another split (a leave-last-out
 * precision is a tenth of a random 80/20 one on the same data).
 */
export function incomparable(candidate: Compared, active: Compared & { version: number }): string | null {
  if (candidate.kind !== active.kind) return `the active version ${active.version} is ${active.kind}`;
  if (candidate.primaryMetric !== active.primaryMetric) return `the active version ${active.version} was measured by ${active.primaryMetric}, this one by ${candidate.primaryMetric}`;
  const split = (v: Compared) => String(v.data['split'] ?? 'unknown');
  if (split(candidate) !== split(active)) return `the active version ${active.version} was tested on "${split(active)}", this one on "${split(candidate)}"`;
  return null;
}

/** Whether `candidate` beats `active` on the primary metric; false when their figures do not compare. */
export function beats(candidate: Compared, active: Compared & { version: number }): boolean {
  if (incomparable(candidate, active) !== null || candidate.primaryValue === null) return false;
  if (active.primaryValue === null) return true;
  // The direction depends on the kind alone (RMSE down, precision@k up), not on k.
  const { lowerIsBetter } = primaryMetric(candidate.kind, 1);
  return lowerIsBetter ? candidate.primaryValue < active.primaryValue : candidate.primaryValue > active.primaryValue;
}

export async function runTraining(options: TrainingRunOptions): Promise<TrainingRunResult> {
  const { db, params, signal } = options;
  const report = options.onProgress ?? (() => undefined);
  const started = performance.now();
  const timings: Record<string, number> = {};
  const lap = (name: string, since: number) => {
    timings[name] = Number(((performance.now() - since) / 1000).toFixed(3));
  };
  const control = { ...(signal ? { signal } : {}), ...(options.threads !== undefined ? { threads: options.threads } : {}) };

  report({ stage: 'extract', done: 0, total: 1 });
  let t = performance.now();
  // Interactions after this id arrive after the snapshot; serving excludes them as seen.
  const [mark] = await selectRows<{ max: number | string | null }>(db, sql`SELECT max(id) AS max FROM ${interactions}`);
  const maxInteractionId = Number(mark?.max ?? 0);
  // Bulk-loaded partitions attached later hold lower ids: serving reads those by segment.
  const segments = await attachedInteractionSegments(db);
  const data = await loadDataset(db, params);
  checkEnoughData(data);
  const split = splitDataset(data, params.split);
  lap('extract', t);
  report({ stage: 'extract', done: 1, total: 1, detail: { pairs: data.userRows.length, customers: data.users.size, items: data.items.size } });
  if (split.test.userRows.length === 0 || split.train.userRows.length === 0) {
    throw new InsufficientDataError(
      `the ${split.description} split leaves ${split.train.userRows.length} training and ${split.test.userRows.length} test pairs; both need at least one (choose another split or more days)`,
    );
  }
  check(signal);

  let chosen: ModelParams = modelParamsOf(params);
  let search: SearchResult | null = null;
  if (params.search.trials > 0 && split.validation.userRows.length === 0) {
    // Asked for a search that has nothing to compare its trials on: say so rather than train
    // with the given settings as if they had been chosen.
    throw new InsufficientDataError(`the ${split.description} split leaves no validation pairs for the search's ${params.search.trials} trials (choose another split, more days, or no search)`);
  }
  if (params.search.trials > 0) {
    t = performance.now();
    report({ stage: 'search', done: 0, total: params.search.trials });
    search = await randomSearch(split.train, split.validation, params, {
      ...control,
      onTrial: (done, total, trial) => report({ stage: 'search', done, total, detail: { trial: done, params: trial.params, metrics: trial.metrics } }),
    });
    chosen = search.best;
    lap('search', t);
  }
  check(signal);

  const withParams = { ...chosen, kind: params.kind, seed: params.seed };
  const trainPart = concat(split.train, split.validation);
  t = performance.now();
  const tested = await fit(trainPart, withParams, {
    ...control,
    onProgress: (p) => report({ stage: 'train', done: p.done, total: p.total, detail: { iteration: p.done, loss: p.value } }),
  });
  lap('fit', t);
  t = performance.now();
  report({ stage: 'evaluate', done: 0, total: 1 });
  // Coverage is of the whole catalogue, items nobody has interacted with included.
  const [catalogue] = await selectRows<{ n: number | string }>(db, sql`SELECT count(*) AS n FROM ${items}`);
  const evaluation = await evaluate(tested, trainPart, split.test, params.evaluationK, control, Math.max(Number(catalogue?.n ?? 0), tested.nItems));
  lap('evaluate', t);
  report({ stage: 'evaluate', done: 1, total: 1, detail: evaluation.model });
  check(signal);

  t = performance.now();
  const final = await fit(data, withParams, {
    ...control,
    onProgress: (p) => report({ stage: 'final', done: p.done, total: p.total, detail: { iteration: p.done, loss: p.value } }),
  });
  lap('final', t);
  check(signal);

  report({ stage: 'save', done: 0, total: 1 });
  t = performance.now();
  const artifact = encodeArtifact(buildArtifact(final, data, chosen));
  const metric = primaryMetric(params.kind, params.evaluationK);
  const primaryValue = evaluation.model[metric.name] ?? null;
  const trainingSeconds = Number(((performance.now() - started) / 1000).toFixed(3));
  const snapshot = {
    customers: data.users.size,
    items: data.items.size,
    pairs: data.userRows.length,
    interactions: data.interactionCount,
    maxInteractionId,
    segments,
    split: split.description,
    parts: { train: split.train.userRows.length, validation: split.validation.userRows.length, test: split.test.userRows.length },
    timings,
  };
  const version = await saveModelVersion(
    db,
    {
      kind: params.kind,
      params: { ...params, ...chosen },
      data: snapshot,
      metrics: { test: evaluation.model, baseline: evaluation.baseline, baselineName: evaluation.baselineName, trainingLoss: final.loss.at(-1) ?? null },
      primaryMetric: metric.name,
      primaryValue: primaryValue === null || Number.isNaN(primaryValue) ? null : primaryValue,
      search: search ? { metric: search.metric, stopped: search.stopped, seconds: search.seconds, best: search.best, trials: search.trials } : null,
      trainingSeconds,
      jobId: options.jobId ?? null,
      createdBy: options.actor.name ?? options.actor.type,
    },
    artifact,
  );
  lap('save', t);
  report({ stage: 'save', done: 1, total: 1, detail: { version: version.version } });

  let activated = false;
  let activation = 'not requested';
  if (params.autoActivate) {
    const current = await currentActivation(db);
    const active = current ? await getModelVersion(db, current.version) : null;
    const mismatch = active ? incomparable(version, active) : null;
    if (!active) {
      activation = 'activated: no version was active';
      activated = true;
    } else if (mismatch !== null) {
      activation = `not activated: ${mismatch}, so the metrics do not compare`;
    } else if (beats(version, active)) {
      activation = `activated: ${metric.name} ${version.primaryValue?.toFixed(4)} beats version ${active.version}'s ${active.primaryValue?.toFixed(4)}`;
      activated = true;
    } else {
      activation = `not activated: ${metric.name} ${version.primaryValue?.toFixed(4)} does not beat version ${active.version}'s ${active.primaryValue?.toFixed(4)}`;
    }
    if (activated) await activateModelVersion(db, version.version, options.actor, { action: 'auto', reason: activation });
  }
  return {
    version: version.version,
    kind: params.kind,
    metrics: evaluation.model,
    baseline: evaluation.baseline,
    primaryMetric: metric.name,
    primaryValue: version.primaryValue,
    trainingSeconds,
    data: snapshot,
    activated,
    activation,
  };
}

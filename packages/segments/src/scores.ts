import { customers, interactions, recordAudit, schema, selectRows, type AuditActor, type Database, type Executor } from '@clientele/db';
import { DomainError, decodeCursor, encodeCursor, pageSize, type Page, type PageRequest } from '@clientele/domain';
import { and, count, desc, eq, inArray, isNotNull, lt, param, sql } from 'drizzle-orm';
import type { RunHooks } from './clustering.js';
import { FEATURES_VERSION, FEATURE_NAMES, computeFeatures, defaultReferenceDate, type FeatureName, type FeatureTable } from './features.js';
import { featureChoices, integer, number, oneOf, optionalDate, record, windowDays, type FeatureChoice } from './input.js';
import { applyPreprocessing, column, fitPreprocessing, standardise, type Preprocessing } from './preprocess.js';
import {
  calibrationTable,
  fitLinear,
  fitLogistic,
  linearPredict,
  logLoss,
  logisticPredict,
  rSquared,
  rmse,
  rocAuc,
  type LinearModel,
} from './regression.js';
import { isUuid } from './runs.js';

// Churn propensity and customer value. Both learn from history with a time-based split:
//
//   t1 = reference − 2·horizon     t2 = reference − horizon        reference
//   |--- features (window) ---| t1 |--- training labels ---| t2 |--- evaluation labels ---|
//
// Training rows are customers with an order in the window before t1, labelled by what they did
// in (t1, t2]; the evaluation rows are the same at t2, labelled by (t2, reference]. The model
// never sees anything after t2 when it is fitted, and the metrics are out of time. Every
// customer with an order in the window before the reference date then gets a score.
//
// Churn: label 1 when the customer places no order in the horizon; L2 logistic regression.
// Value: the net spend in the horizon (returns netted off, never below 0); ridge regression.

const { scoreModels, customerScores } = schema;

export type ScoreKind = 'churn' | 'value';
export type ScoreModelRecord = typeof scoreModels.$inferSelect;
export type Activation = 'always' | 'if-better' | 'never';

export const MIN_TRAINING_CUSTOMERS = 30;

export interface ScoreModelParams {
  kind: ScoreKind;
  features: FeatureChoice[];
  horizonDays: number;
  windowDays: number;
  referenceDate: string | null;
  /** L2 penalty on the standardised weights. */
  regularization: number;
  /** `if-better`: activate when there is no active model or the new one beats it (AUC for churn, R² for value). */
  activation: Activation;
}

export function validateScoreModelParams(kind: ScoreKind, input: unknown): ScoreModelParams {
  const o = record('input', input);
  const referenceDate = optionalDate('referenceDate', o['referenceDate']);
  return {
    kind,
    features: featureChoices('features', o['features'], FEATURE_NAMES),
    horizonDays: integer('horizonDays', o['horizonDays'], 7, 730, 90),
    windowDays: windowDays('windowDays', o['windowDays']),
    referenceDate: referenceDate ? referenceDate.toISOString() : null,
    regularization: number('regularization', o['regularization'], 0, 1e6, 1),
    activation: oneOf<Activation>('activation', typeof o['activation'] === 'string' ? o['activation'].replace('_', '-') : o['activation'], ['always', 'if-better', 'never'], 'if-better'),
  };
}

const DAY = 86_400_000;

/** Orders and net spend per customer in (from, to]. */
async function outcomes(db: Executor, from: Date, to: Date): Promise<Map<number, { orders: number; spend: number }>> {
  const rows = await selectRows<{ customer_id: number | string; orders: number; spend: number }>(
    db,
    sql`SELECT customer_id, count(DISTINCT occurred_at) FILTER (WHERE quantity IS NULL OR quantity > 0)::int AS orders,
               coalesce(sum(amount), 0)::float8 AS spend
        FROM ${interactions}
        WHERE type = 'purchase' AND occurred_at > ${from.toISOString()}::timestamptz AND occurred_at <= ${to.toISOString()}::timestamptz
        GROUP BY customer_id`,
  );
  return new Map(rows.map((r) => [Number(r.customer_id), { orders: Number(r.orders), spend: Number(r.spend) }]));
}

function labelsFor(kind: ScoreKind, table: FeatureTable, future: Map<number, { orders: number; spend: number }>): Float64Array {
  return Float64Array.from(table.customerIds, (id) => {
    const outcome = future.get(id);
    if (kind === 'churn') return outcome && outcome.orders > 0 ? 0 : 1;
    return Math.max(0, outcome?.spend ?? 0);
  });
}

/** The stored form of a fitted model: enough to score and explain a customer. */
export interface ScoreModelSpec {
  kind: ScoreKind;
  preprocessing: Preprocessing;
  /** One per feature (0 for a constant column). */
  weights: number[];
  intercept: number;
}

function standardiseTable(table: FeatureTable, prep: Preprocessing): Float64Array {
  return Float64Array.from(applyPreprocessing(table, prep));
}

function predict(spec: ScoreModelSpec, x: Float64Array, n: number): Float64Array {
  const model: LinearModel = { weights: Float64Array.from(spec.weights), intercept: spec.intercept };
  const d = spec.weights.length;
  return spec.kind === 'churn' ? logisticPredict(model, x, n, d) : linearPredict(model, x, n, d).map((v) => Math.max(0, v));
}

export interface ScoreContext extends RunHooks {
  actor: AuditActor;
  jobId?: string | null;
}

function tooLittle(what: string, needed: number, found: number, cutoff: Date, params: ScoreModelParams): DomainError {
  return new DomainError(
    'BAD_USER_INPUT',
    `too little history for a ${params.kind} model: the ${what} needs at least ${needed} customers with an order in the ${params.windowDays} days before ${cutoff.toISOString()} ` +
      `(reference date minus ${what === 'training set' ? 'two horizons' : 'one horizon'} of ${params.horizonDays} days), found ${found}; import more history or shorten horizonDays`,
    'horizonDays',
  );
}

/** Trains, evaluates, scores every customer and stores the model as the next version of its kind. */
export async function trainScoreModel(db: Database, input: ScoreModelParams, context: ScoreContext): Promise<ScoreModelRecord> {
  const params = validateScoreModelParams(input.kind, input);
  const started = performance.now();
  const timings: Record<string, number> = {};
  const lap = (name: string, since: number) => (timings[name] = Math.round(performance.now() - since) / 1000);
  const reference = params.referenceDate ? new Date(params.referenceDate) : await defaultReferenceDate(db);
  const evaluationCut = new Date(reference.getTime() - params.horizonDays * DAY);
  const trainingCut = new Date(evaluationCut.getTime() - params.horizonDays * DAY);
  const window = { windowDays: params.windowDays };

  let t = performance.now();
  context.onProgress?.({ stage: 'features', done: 0, total: 3 });
  const training = await computeFeatures(db, { referenceDate: trainingCut, ...window });
  if (training.customerIds.length < MIN_TRAINING_CUSTOMERS) throw tooLittle('training set', MIN_TRAINING_CUSTOMERS, training.customerIds.length, trainingCut, params);
  context.onProgress?.({ stage: 'features', done: 1, total: 3 });
  const evaluation = await computeFeatures(db, { referenceDate: evaluationCut, ...window });
  if (evaluation.customerIds.length < MIN_TRAINING_CUSTOMERS) throw tooLittle('evaluation set', MIN_TRAINING_CUSTOMERS, evaluation.customerIds.length, evaluationCut, params);
  context.onProgress?.({ stage: 'features', done: 2, total: 3 });
  const current = await computeFeatures(db, { referenceDate: reference, ...window });
  context.onProgress?.({ stage: 'features', done: 3, total: 3 });
  const yTrain = labelsFor(params.kind, training, await outcomes(db, trainingCut, evaluationCut));
  const yEval = labelsFor(params.kind, evaluation, await outcomes(db, evaluationCut, reference));
  lap('features', t);
  if (params.kind === 'churn') {
    const churned = yTrain.reduce((a, b) => a + b, 0);
    if (churned === 0 || churned === yTrain.length) {
      throw new DomainError(
        'BAD_USER_INPUT',
        `horizonDays: every training customer ${churned === 0 ? 'ordered again' : 'stopped ordering'} within ${params.horizonDays} days after ${trainingCut.toISOString()}, so there is nothing to tell apart; change horizonDays or referenceDate`,
        'horizonDays',
      );
    }
  }

  t = performance.now();
  context.onProgress?.({ stage: 'fit', done: 0, total: 1 });
  const names = params.features.map((f) => f.name);
  const prep = fitPreprocessing(training, names, params.features.map((f) => f.transform));
  const d = names.length;
  const xTrain = standardiseTable(training, prep);
  const nTrain = training.customerIds.length;
  let spec: ScoreModelSpec;
  let fitDetail: Record<string, unknown>;
  if (params.kind === 'churn') {
    const fit = fitLogistic(xTrain, yTrain, nTrain, d, { l2: params.regularization });
    spec = { kind: 'churn', preprocessing: prep, weights: Array.from(fit.weights), intercept: fit.intercept };
    fitDetail = { iterations: fit.iterations, converged: fit.converged, trainingLogLoss: fit.loss };
  } else {
    const fit = fitLinear(xTrain, yTrain, nTrain, d, { l2: params.regularization });
    spec = { kind: 'value', preprocessing: prep, weights: Array.from(fit.weights), intercept: fit.intercept };
    fitDetail = {};
  }
  lap('fit', t);
  context.onProgress?.({ stage: 'fit', done: 1, total: 1, detail: fitDetail });

  t = performance.now();
  const nEval = evaluation.customerIds.length;
  const evalPredictions = predict(spec, standardiseTable(evaluation, prep), nEval);
  const trainMean = yTrain.reduce((a, b) => a + b, 0) / nTrain;
  let metrics: Record<string, unknown>;
  let primary: number;
  if (params.kind === 'churn') {
    const auc = rocAuc(evalPredictions, yEval);
    const baseline = new Float64Array(nEval).fill(trainMean);
    metrics = {
      auc,
      logLoss: logLoss(evalPredictions, yEval),
      baselineLogLoss: logLoss(baseline, yEval),
      calibration: calibrationTable(evalPredictions, yEval, 10),
      trainingChurnRate: trainMean,
      evaluationChurnRate: yEval.reduce((a, b) => a + b, 0) / nEval,
      ...fitDetail,
    };
    primary = auc;
  } else {
    const baseline = new Float64Array(nEval).fill(trainMean);
    const r2 = rSquared(evalPredictions, yEval);
    metrics = {
      rmse: rmse(evalPredictions, yEval),
      r2,
      baselineRmse: rmse(baseline, yEval),
      meanActual: yEval.reduce((a, b) => a + b, 0) / nEval,
      meanPredicted: evalPredictions.reduce((a, b) => a + b, 0) / nEval,
    };
    primary = r2;
  }
  metrics = { ...metrics, primaryMetric: params.kind === 'churn' ? 'auc' : 'r2', trainingCutoff: trainingCut.toISOString(), evaluationCutoff: evaluationCut.toISOString() };
  lap('evaluate', t);

  t = performance.now();
  const nNow = current.customerIds.length;
  const scores = predict(spec, standardiseTable(current, prep), nNow);
  const featureColumns = names.map((name) => column(current, name));
  lap('score', t);

  t = performance.now();
  context.onProgress?.({ stage: 'store', done: 0, total: nNow });
  const stored = await db.transaction(async (tx) => {
    await tx.execute(sql`SELECT pg_advisory_xact_lock(hashtext('clientele.score_models'))`);
    const [last] = await tx
      .select({ version: sql<number>`coalesce(max(${scoreModels.version}), 0)::int` })
      .from(scoreModels)
      .where(eq(scoreModels.kind, params.kind));
    const [active] = await tx.select().from(scoreModels).where(and(eq(scoreModels.kind, params.kind), eq(scoreModels.active, true)));
    const activeValue = active ? Number(active.metrics[params.kind === 'churn' ? 'auc' : 'r2']) : Number.NaN;
    const activate = params.activation === 'always' || (params.activation === 'if-better' && (!active || !(activeValue >= primary)));
    const [row] = await tx
      .insert(scoreModels)
      .values({
        kind: params.kind,
        version: (last?.version ?? 0) + 1,
        jobId: context.jobId ?? null,
        featuresVersion: FEATURES_VERSION,
        features: names,
        referenceDate: reference,
        horizonDays: params.horizonDays,
        windowDays: params.windowDays,
        metrics: { ...metrics, activationDecision: activationReason(params.activation, active ?? null, activeValue, primary) },
        model: { ...spec, preprocessing: { ...spec.preprocessing } },
        params: { ...params, features: params.features.map((f) => ({ ...f })) },
        trainingCount: nTrain,
        evaluationCount: nEval,
        scoredCount: nNow,
        timings: {},
        createdBy: context.actor.name ?? context.actor.type,
      })
      .returning();
    if (!row) throw new Error('score model not inserted');
    const chunk = 20_000;
    for (let from = 0; from < nNow; from += chunk) {
      const to = Math.min(nNow, from + chunk);
      const featureRows: (number | null)[][] = [];
      for (let i = from; i < to; i++) featureRows.push(featureColumns.map((c) => (Number.isNaN(c[i]!) ? null : c[i]!)));
      // Features travel as one JSON array per row; erased customers are left out by the join.
      await tx.execute(sql`
        INSERT INTO ${customerScores} (model_id, customer_id, score, features)
        SELECT ${row.id}::uuid, t.customer_id, t.score, ARRAY(SELECT (e.value #>> '{}')::float8 FROM jsonb_array_elements(t.features) WITH ORDINALITY AS e(value, n) ORDER BY e.n)
        FROM unnest(${param(current.customerIds.slice(from, to))}::bigint[], ${param(Array.from(scores.subarray(from, to)))}::float8[],
                    ${param(featureRows.map((f) => JSON.stringify(f)))}::jsonb[]) AS t(customer_id, score, features)
        JOIN ${customers} c ON c.id = t.customer_id`);
      context.onProgress?.({ stage: 'store', done: to, total: nNow });
    }
    if (activate) await activateIn(tx, row);
    await recordAudit(tx, {
      actor: context.actor,
      operation: `score_model.train`,
      targetType: 'score_model',
      targetId: row.id,
      details: { kind: params.kind, version: row.version, activated: activate, [String(metrics['primaryMetric'])]: primary },
    });
    return row;
  });
  lap('store', t);
  timings['total'] = Math.round(performance.now() - started) / 1000;
  const [withTimings] = await db.update(scoreModels).set({ timings }).where(eq(scoreModels.id, stored.id)).returning();
  return withTimings ?? stored;
}

function activationReason(activation: Activation, active: ScoreModelRecord | null, activeValue: number, value: number): string {
  if (activation === 'never') return 'not activated (activation: never)';
  if (activation === 'always') return 'activated (activation: always)';
  if (!active) return 'activated: there was no active model';
  return activeValue >= value
    ? `not activated: the active version ${active.version} scores ${activeValue.toFixed(4)}, this one ${value.toFixed(4)}`
    : `activated: beats the active version ${active.version} (${activeValue.toFixed(4)} → ${value.toFixed(4)})`;
}

async function activateIn(tx: Executor, model: ScoreModelRecord): Promise<void> {
  await tx.update(scoreModels).set({ active: false }).where(and(eq(scoreModels.kind, model.kind), eq(scoreModels.active, true)));
  await tx.update(scoreModels).set({ active: true, activatedAt: new Date() }).where(eq(scoreModels.id, model.id));
}

export async function getScoreModel(db: Executor, id: string): Promise<ScoreModelRecord | null> {
  if (!isUuid(id)) return null;
  const [row] = await db.select().from(scoreModels).where(eq(scoreModels.id, id));
  return row ?? null;
}

export async function activeScoreModel(db: Executor, kind: ScoreKind): Promise<ScoreModelRecord | null> {
  const [row] = await db.select().from(scoreModels).where(and(eq(scoreModels.kind, kind), eq(scoreModels.active, true)));
  return row ?? null;
}

/** Makes a model version the active one of its kind (roll forward or back). */
export async function activateScoreModel(db: Database, id: string, actor: AuditActor): Promise<ScoreModelRecord> {
  return db.transaction(async (tx) => {
    const model = await getScoreModel(tx, id);
    if (!model) throw new DomainError('NOT_FOUND', `id: score model '${id}' does not exist`, 'id');
    await activateIn(tx, model);
    await recordAudit(tx, { actor, operation: 'score_model.activate', targetType: 'score_model', targetId: model.id, details: { kind: model.kind, version: model.version } });
    return (await getScoreModel(tx, model.id)) ?? model;
  });
}

/** Activates the version of the kind that was active before the current one. */
export async function rollbackScoreModel(db: Database, kind: ScoreKind, actor: AuditActor): Promise<ScoreModelRecord> {
  const current = await activeScoreModel(db, kind);
  if (!current) throw new DomainError('CONFLICT', `rollback: no ${kind} model is active, so there is nothing to roll back from`);
  // Each activation stamps activated_at, so the latest stamp among the others is the previous one.
  const [previous] = await db
    .select()
    .from(scoreModels)
    .where(and(eq(scoreModels.kind, kind), eq(scoreModels.active, false), isNotNull(scoreModels.activatedAt)))
    .orderBy(desc(scoreModels.activatedAt))
    .limit(1);
  if (!previous) throw new DomainError('CONFLICT', `rollback: ${kind} version ${current.version} is the only one ever activated; activate another version instead`);
  return activateScoreModel(db, previous.id, actor);
}

export type ScoreModelPage = Page<ScoreModelRecord>;

/** Versions of one kind, newest first. */
export async function listScoreModels(db: Executor, kind: ScoreKind, request: PageRequest): Promise<Page<ScoreModelRecord>> {
  const limit = pageSize(request.first);
  const cursorKind = `score-model-${kind}`;
  const after = request.after ? decodeCursor(cursorKind, request.after) : undefined;
  const rows = await db
    .select()
    .from(scoreModels)
    .where(and(eq(scoreModels.kind, kind), after === undefined ? undefined : lt(scoreModels.version, after)))
    .orderBy(desc(scoreModels.version))
    .limit(limit + 1);
  const nodes = rows.slice(0, limit);
  return {
    nodes,
    cursors: nodes.map((m) => encodeCursor(cursorKind, m.version)),
    hasNextPage: rows.length > limit,
    hasPreviousPage: after !== undefined,
    totalCount: async () => (await db.select({ n: count() }).from(scoreModels).where(eq(scoreModels.kind, kind)))[0]?.n ?? 0,
  };
}

const numberArray = (value: unknown): number[] => (Array.isArray(value) ? value.map((v) => (typeof v === 'number' ? v : 0)) : []);

/** The stored model read back from its JSON. */
export function specOf(model: ScoreModelRecord): ScoreModelSpec {
  const m = model.model;
  const stored = m['preprocessing'];
  const p: Record<string, unknown> = typeof stored === 'object' && stored !== null && !Array.isArray(stored) ? { ...stored } : {};
  const features = model.features.filter((f): f is FeatureName => (FEATURE_NAMES as readonly string[]).includes(f));
  const transforms = Array.isArray(p['transforms']) ? p['transforms'].map((t): 'log' | 'none' => (t === 'log' ? 'log' : 'none')) : [];
  return {
    kind: model.kind === 'churn' ? 'churn' : 'value',
    preprocessing: {
      features,
      transforms,
      fill: numberArray(p['fill']),
      mean: numberArray(p['mean']),
      scale: numberArray(p['scale']),
      constant: Array.isArray(p['constant']) ? p['constant'].map((c) => c === true) : [],
    },
    weights: numberArray(m['weights']),
    intercept: typeof m['intercept'] === 'number' ? m['intercept'] : 0,
  };
}

export interface Contribution {
  feature: FeatureName;
  /** The customer's raw value (null when missing; the model used the median). */
  value: number | null;
  /** Effect on the score's linear part: log-odds for churn, currency for value. */
  contribution: number;
}

/** Each feature's push on one customer's score, largest first. */
export function explain(spec: ScoreModelSpec, raw: (number | null)[]): Contribution[] {
  return spec.preprocessing.features
    .map((feature, f) => {
      // Missing values come back as null (or NaN: drizzle maps null array elements through parseFloat).
      const stored = raw[f];
      const value = stored === null || stored === undefined || Number.isNaN(stored) ? null : stored;
      const z = standardise(spec.preprocessing, f, value === null ? Number.NaN : value);
      return { feature, value, contribution: (spec.weights[f] ?? 0) * z };
    })
    .sort((a, b) => Math.abs(b.contribution) - Math.abs(a.contribution));
}

export interface CustomerScore {
  model: ScoreModelRecord;
  score: number;
  contributions: Contribution[];
}

/** Customers' scores from the active model of a kind (null when unscored), in the order asked. */
export async function customerScoresOf(db: Executor, customerIds: readonly number[], kind: ScoreKind): Promise<(CustomerScore | null)[]> {
  if (customerIds.length === 0) return [];
  const model = await activeScoreModel(db, kind);
  if (!model) return customerIds.map(() => null);
  const rows = await db
    .select({ customerId: customerScores.customerId, score: customerScores.score, features: customerScores.features })
    .from(customerScores)
    .where(and(eq(customerScores.modelId, model.id), inArray(customerScores.customerId, [...customerIds])));
  const spec = specOf(model);
  const byCustomer = new Map(rows.map((r) => [r.customerId, r]));
  return customerIds.map((id) => {
    const row = byCustomer.get(id);
    return row ? { model, score: row.score, contributions: explain(spec, row.features) } : null;
  });
}

/** A customer's score from the active model of a kind, with its explanation; null when unscored. */
export async function customerScore(db: Executor, customerId: number, kind: ScoreKind): Promise<CustomerScore | null> {
  return (await customerScoresOf(db, [customerId], kind))[0] ?? null;
}

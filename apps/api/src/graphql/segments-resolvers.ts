import { describePrincipal, requireScope } from '@clientele/auth';
import type { FeatureChoiceInput, Resolvers, ScoreDirection, ScoreKind as ScoreKindName, ScoreModelInput, SegmentationRunInput } from '@clientele/graphql';
import {
  FEATURE_DEFINITIONS,
  SCORE_JOB_KINDS,
  SEGMENTATION_JOB_KIND,
  activateScoreModel,
  activateSegmentationRun,
  activeScoreModel,
  activeSegmentationRun,
  compileSegment,
  createSegment,
  curveOf,
  customerScoresOf,
  customerSegments,
  deleteSegment,
  enqueueScoreModel,
  enqueueSegmentation,
  evaluateSegment,
  getScoreModel,
  getSegment,
  getSegmentationRun,
  listScoreModels,
  listSegmentationRuns,
  listSegments,
  previewRule,
  profileFeatures,
  profilesOf,
  registerSegmentsJobs,
  rollbackScoreModel,
  ruleMembers,
  segmentationRunMembers,
  specOf,
  updateSegment,
  type CustomerScore,
  type CustomerSegment,
  type ScoreKind,
  type ScoreModelRecord,
} from '@clientele/segments';
import DataLoader from 'dataloader';
import type { Context } from '../context.js';
import { connectionFields } from './connections.js';
import { addJobKinds } from '../jobs.js';

// Customer intelligence over GraphQL: segmentation runs (as jobs), rule segments, churn and value
// models (as jobs), and a customer's features, segment and scores. Reads need `read`; starting,
// creating, changing and activating need `write`.

addJobKinds((queue, services) => registerSegmentsJobs(queue, services.database, { threads: services.config.computeThreads }));

const kindOf = (kind: ScoreKindName): ScoreKind => (kind === 'CHURN' ? 'churn' : 'value');
const toKind = (kind: string): ScoreKindName => (kind === 'churn' ? 'CHURN' : 'VALUE');
const direction = (x: number): ScoreDirection => (x > 0 ? 'UP' : x < 0 ? 'DOWN' : 'NONE');

/** GraphQL input → the JSON request the package checks (absent and null fields left out). */
function request(input: Record<string, unknown>): Record<string, unknown> {
  return Object.fromEntries(Object.entries(input).filter(([, v]) => v !== undefined && v !== null));
}

const features = (list: FeatureChoiceInput[] | null | undefined) =>
  list?.map((f) => ({ name: f.name, ...(f.transform ? { transform: f.transform.toLowerCase() } : {}) })) ?? undefined;

function runRequest(input: SegmentationRunInput | null | undefined): Record<string, unknown> {
  if (!input) return {};
  return request({ ...input, features: features(input.features), referenceDate: input.referenceDate?.toISOString() });
}

function modelRequest(input: ScoreModelInput | null | undefined): Record<string, unknown> {
  const { autoActivate, ...rest } = input ?? {};
  return request({ ...rest, features: features(rest.features), referenceDate: rest.referenceDate?.toISOString(), activation: autoActivate ? 'if-better' : 'never' });
}


interface Loaders {
  segment: DataLoader<number, CustomerSegment | null>;
  churn: DataLoader<number, CustomerScore | null>;
  value: DataLoader<number, CustomerScore | null>;
}

const loaders = new WeakMap<Context, Loaders>();

/** Per-request batch loaders: a list of customers asking for segments or scores is one query each. */
function loadersFor(context: Context): Loaders {
  let found = loaders.get(context);
  if (!found) {
    const db = context.services.database.db;
    found = {
      segment: new DataLoader((ids: readonly number[]) => customerSegments(db, ids)),
      churn: new DataLoader((ids: readonly number[]) => customerScoresOf(db, ids, 'churn')),
      value: new DataLoader((ids: readonly number[]) => customerScoresOf(db, ids, 'value')),
    };
    loaders.set(context, found);
  }
  return found;
}

const num = (value: unknown): number | null => (typeof value === 'number' && Number.isFinite(value) ? value : null);

function metricsOf(model: ScoreModelRecord) {
  const m = model.metrics;
  const calibration = Array.isArray(m['calibration'])
    ? m['calibration'].map((bin: unknown) => {
        const b = typeof bin === 'object' && bin !== null ? new Map(Object.entries(bin)) : new Map<string, unknown>();
        return { lower: num(b.get('lower')) ?? 0, upper: num(b.get('upper')) ?? 0, count: num(b.get('count')) ?? 0, meanPredicted: num(b.get('meanPredicted')) ?? 0, observedRate: num(b.get('observedRate')) ?? 0 };
      })
    : null;
  const date = (value: unknown) => (typeof value === 'string' ? new Date(value) : model.referenceDate);
  return {
    primaryMetric: typeof m['primaryMetric'] === 'string' ? m['primaryMetric'] : model.kind === 'churn' ? 'auc' : 'r2',
    auc: num(m['auc']),
    logLoss: num(m['logLoss']),
    baselineLogLoss: num(m['baselineLogLoss']),
    calibration,
    trainingChurnRate: num(m['trainingChurnRate']),
    evaluationChurnRate: num(m['evaluationChurnRate']),
    rmse: num(m['rmse']),
    r2: num(m['r2']),
    baselineRmse: num(m['baselineRmse']),
    trainingCutoff: date(m['trainingCutoff']),
    evaluationCutoff: date(m['evaluationCutoff']),
    activationDecision: typeof m['activationDecision'] === 'string' ? m['activationDecision'] : null,
  };
}

export const segmentsResolvers: Resolvers<Context> = {
  Query: {
    customerFeatureDefinitions: (_root, _args, context) => {
      requireScope(context.principal, 'read');
      return FEATURE_DEFINITIONS.map((d) => ({ ...d, transform: d.transform === 'log' ? 'LOG' : 'NONE' }));
    },
    segmentationRun: async (_root, { id }, context) => {
      requireScope(context.principal, 'read');
      return getSegmentationRun(context.services.database.db, id);
    },
    segmentationRuns: async (_root, { first, after }, context) => {
      requireScope(context.principal, 'read');
      return listSegmentationRuns(context.services.database.db, { first, after });
    },
    activeSegmentationRun: async (_root, _args, context) => {
      requireScope(context.principal, 'read');
      return activeSegmentationRun(context.services.database.db);
    },
    segment: async (_root, { id }, context) => {
      requireScope(context.principal, 'read');
      return getSegment(context.services.database.db, id);
    },
    segments: async (_root, { first, after }, context) => {
      requireScope(context.principal, 'read');
      return listSegments(context.services.database.db, { first, after });
    },
    previewSegment: async (_root, { definition, referenceDate, windowDays, first }, context) => {
      requireScope(context.principal, 'read');
      return previewRule(context.services.database.db, definition, { referenceDate: referenceDate ?? null, windowDays, first });
    },
    scoreModel: async (_root, { id }, context) => {
      requireScope(context.principal, 'read');
      return getScoreModel(context.services.database.db, id);
    },
    scoreModels: async (_root, { kind, first, after }, context) => {
      requireScope(context.principal, 'read');
      return listScoreModels(context.services.database.db, kindOf(kind), { first, after });
    },
    activeScoreModel: async (_root, { kind }, context) => {
      requireScope(context.principal, 'read');
      return activeScoreModel(context.services.database.db, kindOf(kind));
    },
  },
  Mutation: {
    startSegmentationRun: async (_root, { input }, context) => {
      requireScope(context.principal, 'write');
      return enqueueSegmentation(context.services.jobs, context.services.database, runRequest(input), describePrincipal(context.principal));
    },
    activateSegmentationRun: async (_root, { id }, context) => {
      requireScope(context.principal, 'write');
      return activateSegmentationRun(context.services.database.db, id, describePrincipal(context.principal));
    },
    createSegment: async (_root, { input }, context) => {
      requireScope(context.principal, 'write');
      return createSegment(context.services.database.db, { ...input, referenceDate: input.referenceDate ?? null }, describePrincipal(context.principal));
    },
    updateSegment: async (_root, { id, input }, context) => {
      requireScope(context.principal, 'write');
      return updateSegment(context.services.database.db, id, request({ ...input }), describePrincipal(context.principal));
    },
    deleteSegment: async (_root, { id }, context) => {
      requireScope(context.principal, 'write');
      return deleteSegment(context.services.database.db, id, describePrincipal(context.principal));
    },
    trainChurnModel: async (_root, { input }, context) => {
      requireScope(context.principal, 'write');
      return enqueueScoreModel(context.services.jobs, 'churn', modelRequest(input), describePrincipal(context.principal));
    },
    trainValueModel: async (_root, { input }, context) => {
      requireScope(context.principal, 'write');
      return enqueueScoreModel(context.services.jobs, 'value', modelRequest(input), describePrincipal(context.principal));
    },
    activateScoreModel: async (_root, { id }, context) => {
      requireScope(context.principal, 'write');
      return activateScoreModel(context.services.database.db, id, describePrincipal(context.principal));
    },
    rollbackScoreModel: async (_root, { kind }, context) => {
      requireScope(context.principal, 'write');
      return rollbackScoreModel(context.services.database.db, kindOf(kind), describePrincipal(context.principal));
    },
  },
  SegmentationRun: {
    kChosenBy: (run) => (run.kChosenBy === 'given' ? 'GIVEN' : 'SILHOUETTE'),
    silhouetteCurve: (run) => curveOf(run),
    segments: (run) => profilesOf(run),
    members: (run, { segment, first, after }, context) => {
      requireScope(context.principal, 'read');
      return segmentationRunMembers(context.services.database.db, run, { segment, first, after });
    },
    params: (run) => run.params,
    timings: (run) => run.timings,
    job: (run, _args, context) => (run.jobId ? context.services.jobs.get(run.jobId) : null),
  },
  SegmentProfile: {
    medianRecencyDays: (p) => p.medians['recency_days'] ?? null,
    medianFrequency: (p) => p.medians['frequency'] ?? null,
    medianMonetary: (p) => p.medians['monetary'] ?? null,
    medianTenureDays: (p) => p.medians['tenure_days'] ?? null,
    medians: (p) => p.medians,
    ranks: (p) => p.position.ranks,
  },
  SegmentationRunConnection: connectionFields(),
  Segment: {
    count: async (segment, _args, context) => {
      requireScope(context.principal, 'read');
      return (await evaluateSegment(context.services.database.db, segment)).count;
    },
    members: async (segment, { first, after }, context) => {
      requireScope(context.principal, 'read');
      const db = context.services.database.db;
      return ruleMembers(db, await compileSegment(db, segment), { first, after });
    },
    definition: (segment) => segment.definition,
  },
  SegmentConnection: connectionFields(),
  ScoreModel: {
    kind: (model) => toKind(model.kind),
    metrics: (model) => metricsOf(model),
    coefficients: (model) => {
      const spec = specOf(model);
      return spec.preprocessing.features.map((feature, f) => {
        const weight = spec.weights[f] ?? 0;
        return { feature, weight, direction: direction(weight), constant: spec.preprocessing.constant[f] ?? false };
      });
    },
    intercept: (model) => specOf(model).intercept,
    params: (model) => model.params,
    timings: (model) => model.timings,
    job: (model, _args, context) => (model.jobId ? context.services.jobs.get(model.jobId) : null),
  },
  ScoreModelConnection: connectionFields(),
  Customer: {
    features: async (customer, { referenceDate, windowDays }, context) => {
      requireScope(context.principal, 'read');
      return profileFeatures(context.services.database.db, customer.id, { referenceDate, windowDays });
    },
    segment: (customer, _args, context) => {
      requireScope(context.principal, 'read');
      return loadersFor(context).segment.load(customer.id);
    },
    churnScore: (customer, _args, context) => {
      requireScope(context.principal, 'read');
      return loadersFor(context).churn.load(customer.id);
    },
    valueScore: (customer, _args, context) => {
      requireScope(context.principal, 'read');
      return loadersFor(context).value.load(customer.id);
    },
  },
  CustomerSegment: {
    index: (s) => s.segment,
  },
  CustomerScore: {
    kind: (s) => toKind(s.model.kind),
    explanation: (s) => s.contributions.map((c) => ({ ...c, direction: direction(c.contribution) })),
  },
  Job: {
    segmentationRun: (job, _args, context) => {
      const id = job.result?.['runId'];
      return job.kind === SEGMENTATION_JOB_KIND && typeof id === 'string' ? getSegmentationRun(context.services.database.db, id) : null;
    },
    scoreModel: (job, _args, context) => {
      const id = job.result?.['modelId'];
      return (job.kind === SCORE_JOB_KINDS.churn || job.kind === SCORE_JOB_KINDS.value) && typeof id === 'string' ? getScoreModel(context.services.database.db, id) : null;
    },
  },
};

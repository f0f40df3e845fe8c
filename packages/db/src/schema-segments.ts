import { sql } from 'drizzle-orm';
import {
  bigint,
  boolean,
  check,
  doublePrecision,
  index,
  integer,
  jsonb,
  pgTable,
  primaryKey,
  real,
  text,
  timestamp,
  uniqueIndex,
  uuid,
} from 'drizzle-orm/pg-core';
import { customers } from './schema.js';

// Customer intelligence: k-means segmentation runs with their memberships, rule-based
// segments, and the churn/value score models with each customer's score. Runs and models are
// versioned; at most one run, and one model per kind, is active.

/** One k-means segmentation of the customers, with its profiles and the model to reuse. */
export const segmentationRuns = pgTable(
  'segmentation_runs',
  {
    id: uuid('id').primaryKey().defaultRandom(),
    version: integer('version').notNull(),
    active: boolean('active').notNull().default(false),
    /** The job that produced it (null when run from the CLI). */
    jobId: uuid('job_id'),
    /** Version of the feature definitions the run used (see @clientele/segments). */
    featuresVersion: integer('features_version').notNull(),
    features: text('features').array().notNull(),
    k: integer('k').notNull(),
    /** `given` or `silhouette` (chosen automatically over a range). */
    kChosenBy: text('k_chosen_by').notNull(),
    seed: bigint('seed', { mode: 'number' }).notNull(),
    referenceDate: timestamp('reference_date', { withTimezone: true }).notNull(),
    windowDays: integer('window_days').notNull(),
    customerCount: integer('customer_count').notNull(),
    silhouette: doublePrecision('silhouette'),
    /** `[{k, silhouette, inertia}]` over the range tried (empty when k was given). */
    silhouetteCurve: jsonb('silhouette_curve').$type<Record<string, unknown>[]>().notNull().default([]),
    inertia: doublePrecision('inertia').notNull(),
    /** Per segment: label, size, shares and medians in the original units. */
    profiles: jsonb('profiles').$type<Record<string, unknown>[]>().notNull(),
    /** Transforms, scaling, imputation and centroids: enough to place a new customer. */
    model: jsonb('model').$type<Record<string, unknown>>().notNull(),
    /** The request as given (features, transforms, k or range, restarts, threads…). */
    params: jsonb('params').$type<Record<string, unknown>>().notNull().default({}),
    /** Seconds per stage and in total. */
    timings: jsonb('timings').$type<Record<string, number>>().notNull().default({}),
    createdBy: text('created_by'),
    createdAt: timestamp('created_at', { withTimezone: true }).notNull().defaultNow(),
    activatedAt: timestamp('activated_at', { withTimezone: true }),
  },
  (t) => [
    uniqueIndex('segmentation_runs_version_key').on(t.version),
    uniqueIndex('segmentation_runs_one_active').on(t.active).where(sql`${t.active}`),
    index('segmentation_runs_created_idx').on(t.createdAt),
  ],
);

/** Which segment of a run each customer fell in. */
export const segmentMemberships = pgTable(
  'segment_memberships',
  {
    runId: uuid('run_id')
      .notNull()
      .references(() => segmentationRuns.id, { onDelete: 'cascade' }),
    customerId: bigint('customer_id', { mode: 'number' })
      .notNull()
      .references(() => customers.id, { onDelete: 'cascade' }),
    segment: integer('segment').notNull(),
    /** Distance to the segment's centroid in the standardised feature space. */
    distance: real('distance').notNull(),
  },
  (t) => [
    primaryKey({ columns: [t.runId, t.customerId] }),
    index('segment_memberships_customer_idx').on(t.customerId),
    index('segment_memberships_segment_idx').on(t.runId, t.segment, t.customerId),
  ],
);

/** A rule-based segment: a condition tree evaluated on demand. */
export const segments = pgTable(
  'segments',
  {
    id: uuid('id').primaryKey().defaultRandom(),
    name: text('name').notNull(),
    description: text('description'),
    /** The validated condition tree (AND/OR/NOT over fields, features, behaviour, scores). */
    definition: jsonb('definition').$type<Record<string, unknown>>().notNull(),
    /** "Now" for features and "in the last D days" conditions; null means the time of evaluation. */
    referenceDate: timestamp('reference_date', { withTimezone: true }),
    /** Window for feature values. */
    windowDays: integer('window_days').notNull().default(365),
    lastCount: integer('last_count'),
    lastEvaluatedAt: timestamp('last_evaluated_at', { withTimezone: true }),
    createdBy: text('created_by'),
    createdAt: timestamp('created_at', { withTimezone: true }).notNull().defaultNow(),
    updatedAt: timestamp('updated_at', { withTimezone: true }).notNull().defaultNow(),
  },
  (t) => [uniqueIndex('segments_name_key').on(t.name), index('segments_created_idx').on(t.createdAt)],
);

/** A trained churn or value model: a version with its metrics and coefficients. */
export const scoreModels = pgTable(
  'score_models',
  {
    id: uuid('id').primaryKey().defaultRandom(),
    /** `churn` (probability of no purchase in the horizon) or `value` (spend in the horizon). */
    kind: text('kind').notNull(),
    version: integer('version').notNull(),
    active: boolean('active').notNull().default(false),
    jobId: uuid('job_id'),
    featuresVersion: integer('features_version').notNull(),
    features: text('features').array().notNull(),
    referenceDate: timestamp('reference_date', { withTimezone: true }).notNull(),
    horizonDays: integer('horizon_days').notNull(),
    windowDays: integer('window_days').notNull(),
    /** AUC, log loss and calibration (churn); RMSE and R² (value); counts and baselines. */
    metrics: jsonb('metrics').$type<Record<string, unknown>>().notNull(),
    /** Coefficients, intercept, transforms, scaling and imputation. */
    model: jsonb('model').$type<Record<string, unknown>>().notNull(),
    params: jsonb('params').$type<Record<string, unknown>>().notNull().default({}),
    trainingCount: integer('training_count').notNull(),
    evaluationCount: integer('evaluation_count').notNull(),
    scoredCount: integer('scored_count').notNull(),
    timings: jsonb('timings').$type<Record<string, number>>().notNull().default({}),
    createdBy: text('created_by'),
    createdAt: timestamp('created_at', { withTimezone: true }).notNull().defaultNow(),
    activatedAt: timestamp('activated_at', { withTimezone: true }),
  },
  (t) => [
    uniqueIndex('score_models_kind_version_key').on(t.kind, t.version),
    uniqueIndex('score_models_one_active').on(t.kind).where(sql`${t.active}`),
    check('score_models_kind_known', sql`${t.kind} IN ('churn', 'value')`),
  ],
);

/** Each customer's score from a model, with the feature values it was computed from. */
export const customerScores = pgTable(
  'customer_scores',
  {
    modelId: uuid('model_id')
      .notNull()
      .references(() => scoreModels.id, { onDelete: 'cascade' }),
    customerId: bigint('customer_id', { mode: 'number' })
      .notNull()
      .references(() => customers.id, { onDelete: 'cascade' }),
    score: doublePrecision('score').notNull(),
    /** Raw feature values in the model's feature order (null where missing). */
    features: doublePrecision('features').array().notNull(),
  },
  (t) => [primaryKey({ columns: [t.modelId, t.customerId] }), index('customer_scores_customer_idx').on(t.customerId)],
);

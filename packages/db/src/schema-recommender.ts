import { sql } from 'drizzle-orm';
import { bigint, check, customType, doublePrecision, index, integer, jsonb, pgTable, text, timestamp, uuid } from 'drizzle-orm/pg-core';

// The recommender's model registry: one row per trained version (parameters, data snapshot
// counts, metrics), its artifact (factors and index maps, binary, checksummed) in a table of
// its own so listing versions never reads the large values, and the activation history — the
// newest activation names the version every API process serves.

/** Binary column: Uint8Array in, Uint8Array (a Buffer on node-postgres) out. */
const bytea = customType<{ data: Uint8Array; driverData: Uint8Array }>({
  dataType: () => 'bytea',
  toDriver: (value) => (Buffer.isBuffer(value) ? value : Buffer.from(value.buffer, value.byteOffset, value.byteLength)),
});

export const recommenderModels = pgTable(
  'recommender_models',
  {
    /** The version number users see (1, 2, 3, …). */
    version: integer('version').primaryKey().generatedAlwaysAsIdentity(),
    /** explicit (biased MF on ratings) or implicit (ALS on behaviour). */
    kind: text('kind').notNull(),
    /** Training settings as used (after search), including interaction weights and decay. */
    params: jsonb('params').$type<Record<string, unknown>>().notNull(),
    /** Data snapshot: customers, items, interactions used; the split and its part sizes. */
    data: jsonb('data').$type<Record<string, unknown>>().notNull(),
    /** Test-part metrics of the model and of the popularity baseline on the same split. */
    metrics: jsonb('metrics').$type<Record<string, unknown>>().notNull(),
    /** The metric that decides auto-activation (rmse: lower is better; others: higher). */
    primaryMetric: text('primary_metric').notNull(),
    primaryValue: doublePrecision('primary_value'),
    /** Random-search trials on the validation part, when a search ran. */
    search: jsonb('search').$type<Record<string, unknown>>(),
    trainingSeconds: doublePrecision('training_seconds').notNull(),
    jobId: uuid('job_id'),
    createdBy: text('created_by'),
    createdAt: timestamp('created_at', { withTimezone: true }).notNull().defaultNow(),
  },
  (t) => [
    index('recommender_models_kind_idx').on(t.kind, t.version),
    check('recommender_models_kind_known', sql`${t.kind} IN ('explicit', 'implicit')`),
  ],
);

export const recommenderArtifacts = pgTable('recommender_artifacts', {
  version: integer('version')
    .primaryKey()
    .references(() => recommenderModels.version, { onDelete: 'cascade' }),
  /** Container format version of `bytes`. */
  format: integer('format').notNull(),
  bytes: bytea('bytes').notNull(),
  /** SHA-256 (hex) of `bytes`, checked before a process serves the version. */
  sha256: text('sha256').notNull(),
  size: bigint('size', { mode: 'number' }).notNull(),
});

export const recommenderActivations = pgTable(
  'recommender_activations',
  {
    id: bigint('id', { mode: 'number' }).primaryKey().generatedAlwaysAsIdentity(),
    version: integer('version')
      .notNull()
      .references(() => recommenderModels.version, { onDelete: 'cascade' }),
    /** activate, rollback or auto (after training, because it beat the active version). */
    action: text('action').notNull(),
    actor: text('actor'),
    reason: text('reason'),
    activatedAt: timestamp('activated_at', { withTimezone: true }).notNull().defaultNow(),
  },
  (t) => [check('recommender_activations_action_known', sql`${t.action} IN ('activate', 'rollback', 'auto')`)],
);

import { sql } from 'drizzle-orm';
import {
  bigint,
  boolean,
  check,
  doublePrecision,
  index,
  integer,
  jsonb,
  numeric,
  pgEnum,
  pgTable,
  primaryKey,
  text,
  timestamp,
  uniqueIndex,
  uuid,
} from 'drizzle-orm/pg-core';

// The one schema for both backends (embedded PGlite and PostgreSQL). Change it, then run
// `pnpm --filter @clientele/db db:generate --name <change>` to write the migration.

const createdAt = () => timestamp('created_at', { withTimezone: true }).notNull().defaultNow();
const updatedAt = () => timestamp('updated_at', { withTimezone: true }).notNull().defaultNow();

export const customers = pgTable(
  'customers',
  {
    id: bigint('id', { mode: 'number' }).primaryKey().generatedAlwaysAsIdentity(),
    /** The partner's own id for the customer; what the API accepts and returns as `id`. */
    externalId: text('external_id').notNull(),
    // Contact data is encrypted at rest (AES-256-GCM, see @clientele/privacy): the
    // ciphertext, and a keyed blind index (HMAC) of the normalised value for exact lookup.
    emailCiphertext: text('email_ciphertext'),
    emailIndex: text('email_index'),
    phoneCiphertext: text('phone_ciphertext'),
    phoneIndex: text('phone_index'),
    name: text('name'),
    /** ISO 3166-1 alpha-2 code when known. */
    country: text('country'),
    attributes: jsonb('attributes').$type<Record<string, unknown>>().notNull().default({}),
    /** Current consent per channel (null: never stated); history in consent_events. */
    emailConsent: boolean('email_consent'),
    emailConsentAt: timestamp('email_consent_at', { withTimezone: true }),
    emailConsentSource: text('email_consent_source'),
    smsConsent: boolean('sms_consent'),
    smsConsentAt: timestamp('sms_consent_at', { withTimezone: true }),
    smsConsentSource: text('sms_consent_source'),
    createdAt: createdAt(),
    updatedAt: updatedAt(),
  },
  (t) => [
    uniqueIndex('customers_external_id_key').on(t.externalId),
    index('customers_created_at_idx').on(t.createdAt),
    index('customers_email_index_idx').on(t.emailIndex),
    index('customers_phone_index_idx').on(t.phoneIndex),
  ],
);

/** Every consent change, for proof of consent: what, when, and where it came from. */
export const consentEvents = pgTable(
  'consent_events',
  {
    id: bigint('id', { mode: 'number' }).primaryKey().generatedAlwaysAsIdentity(),
    customerId: bigint('customer_id', { mode: 'number' })
      .notNull()
      .references(() => customers.id, { onDelete: 'cascade' }),
    channel: text('channel').notNull(),
    granted: boolean('granted').notNull(),
    source: text('source').notNull(),
    occurredAt: timestamp('occurred_at', { withTimezone: true }).notNull(),
    recordedAt: timestamp('recorded_at', { withTimezone: true }).notNull().defaultNow(),
  },
  (t) => [
    index('consent_events_customer_idx').on(t.customerId, t.occurredAt),
    check('consent_events_channel_known', sql`${t.channel} IN ('email', 'sms')`),
  ],
);

/** External ids of customers merged into another: writes naming them reach the survivor. */
export const customerAliases = pgTable('customer_aliases', {
  externalId: text('external_id').primaryKey(),
  customerId: bigint('customer_id', { mode: 'number' })
    .notNull()
    .references(() => customers.id, { onDelete: 'cascade' }),
  createdAt: createdAt(),
});

export const items = pgTable(
  'items',
  {
    id: bigint('id', { mode: 'number' }).primaryKey().generatedAlwaysAsIdentity(),
    externalId: text('external_id').notNull(),
    title: text('title').notNull(),
    categories: text('categories').array().notNull().default(sql`'{}'::text[]`),
    price: numeric('price', { precision: 14, scale: 2 }),
    currency: text('currency'),
    inStock: boolean('in_stock').notNull().default(true),
    attributes: jsonb('attributes').$type<Record<string, unknown>>().notNull().default({}),
    createdAt: createdAt(),
    updatedAt: updatedAt(),
  },
  (t) => [
    uniqueIndex('items_external_id_key').on(t.externalId),
    check('items_price_non_negative', sql`${t.price} IS NULL OR ${t.price} >= 0`),
  ],
);

/**
 * Interactions, partitioned by list on `segment`: `interactions_live` (segment 0) takes the
 * API's writes, small imports and demo data; each large import on PostgreSQL is loaded into a
 * table of its own and attached as one more partition (migration 0006, @clientele/ingest).
 * Read and update through this table; write new rows into `interactions_live` (see
 * `insertInteractions` in @clientele/domain), which keeps event ids unique across partitions.
 */
export const interactions = pgTable(
  'interactions',
  {
    // A plain sequence, not an identity column: PostgreSQL 15 has no identity on partitioned tables.
    id: bigint('id', { mode: 'number' })
      .notNull()
      .default(sql`nextval('interactions_id_seq')`),
    customerId: bigint('customer_id', { mode: 'number' })
      .notNull()
      .references(() => customers.id, { onDelete: 'cascade' }),
    itemId: bigint('item_id', { mode: 'number' })
      .notNull()
      .references(() => items.id, { onDelete: 'cascade' }),
    /** view, click, add_to_cart, purchase, rating, or a custom type from configuration. */
    type: text('type').notNull(),
    /** A rating (0.5–5) or another numeric signal, depending on the type. */
    value: doublePrecision('value'),
    quantity: integer('quantity'),
    /** Revenue of a purchase line in the item's currency. */
    amount: numeric('amount', { precision: 14, scale: 2 }),
    occurredAt: timestamp('occurred_at', { withTimezone: true }).notNull(),
    /**
     * Makes a write idempotent: the sender's event id, or one derived from the row's content
     * (API) or from the file and line content (imports). Unique across all partitions.
     * Collation "C" (migration 0006; drizzle has no way to say it): compared for equality only.
     */
    eventId: text('event_id'),
    /** Where the row came from: `api`, `import:<job id>`, `demo`. */
    source: text('source'),
    createdAt: createdAt(),
    /** The partition: 0 for live writes, the bulk import's segment number otherwise. */
    segment: integer('segment').notNull().default(0),
  },
  (t) => [
    primaryKey({ name: 'interactions_id_segment_pk', columns: [t.id, t.segment] }),
    uniqueIndex('interactions_event_id_segment_key').on(t.eventId, t.segment),
    index('interactions_customer_time_idx').on(t.customerId, t.occurredAt),
    index('interactions_item_idx').on(t.itemId),
    index('interactions_occurred_at_idx').on(t.occurredAt),
  ],
);

export const adminRole = pgEnum('admin_role', ['admin', 'marketer', 'viewer']);

export const adminUsers = pgTable(
  'admin_users',
  {
    id: bigint('id', { mode: 'number' }).primaryKey().generatedAlwaysAsIdentity(),
    /** Stored lower-cased; sign-in compares lower-cased input. */
    email: text('email').notNull(),
    displayName: text('display_name'),
    passwordHash: text('password_hash').notNull(),
    role: adminRole('role').notNull(),
    disabledAt: timestamp('disabled_at', { withTimezone: true }),
    lastSignInAt: timestamp('last_sign_in_at', { withTimezone: true }),
    createdAt: createdAt(),
    updatedAt: updatedAt(),
  },
  (t) => [uniqueIndex('admin_users_email_key').on(t.email)],
);

export const sessions = pgTable(
  'sessions',
  {
    /** SHA-256 of the session token; the token itself only lives in the user's cookie. */
    tokenHash: text('token_hash').primaryKey(),
    userId: bigint('user_id', { mode: 'number' })
      .notNull()
      .references(() => adminUsers.id, { onDelete: 'cascade' }),
    userAgent: text('user_agent'),
    createdAt: createdAt(),
    lastSeenAt: timestamp('last_seen_at', { withTimezone: true }).notNull().defaultNow(),
    expiresAt: timestamp('expires_at', { withTimezone: true }).notNull(),
  },
  (t) => [index('sessions_user_idx').on(t.userId), index('sessions_expires_idx').on(t.expiresAt)],
);

export const apiKeys = pgTable(
  'api_keys',
  {
    id: bigint('id', { mode: 'number' }).primaryKey().generatedAlwaysAsIdentity(),
    /** Public, non-secret part of the key, shown in lists and logs (`clt_<prefix>_…`). */
    prefix: text('prefix').notNull(),
    /** SHA-256 of the whole key. Keys are 256-bit random, so a fast hash is enough. */
    keyHash: text('key_hash').notNull(),
    name: text('name').notNull(),
    scopes: text('scopes').array().notNull(),
    createdBy: text('created_by'),
    createdAt: createdAt(),
    lastUsedAt: timestamp('last_used_at', { withTimezone: true }),
    expiresAt: timestamp('expires_at', { withTimezone: true }),
    revokedAt: timestamp('revoked_at', { withTimezone: true }),
  },
  (t) => [
    uniqueIndex('api_keys_prefix_key').on(t.prefix),
    uniqueIndex('api_keys_key_hash_key').on(t.keyHash),
    check(
      'api_keys_scopes_known',
      sql`${t.scopes} <@ ARRAY['read','write','admin']::text[] AND cardinality(${t.scopes}) > 0`,
    ),
  ],
);

export const auditLog = pgTable(
  'audit_log',
  {
    id: bigint('id', { mode: 'number' }).primaryKey().generatedAlwaysAsIdentity(),
    occurredAt: timestamp('occurred_at', { withTimezone: true }).notNull().defaultNow(),
    /** user, api_key, cli or system. */
    actorType: text('actor_type').notNull(),
    actorId: text('actor_id'),
    actorName: text('actor_name'),
    operation: text('operation').notNull(),
    targetType: text('target_type'),
    targetId: text('target_id'),
    details: jsonb('details').$type<Record<string, unknown>>().notNull().default({}),
  },
  (t) => [
    index('audit_log_occurred_at_idx').on(t.occurredAt),
    index('audit_log_target_idx').on(t.targetType, t.targetId),
  ],
);

export const importJobs = pgTable(
  'import_jobs',
  {
    id: uuid('id').primaryKey().defaultRandom(),
    /** customers, items, interactions, or a preset such as online-retail. */
    kind: text('kind').notNull(),
    format: text('format').notNull(),
    fileName: text('file_name'),
    /** running, completed, failed or cancelled. */
    status: text('status').notNull().default('running'),
    stage: text('stage').notNull().default('read'),
    rowsRead: bigint('rows_read', { mode: 'number' }).notNull().default(0),
    accepted: bigint('accepted', { mode: 'number' }).notNull().default(0),
    rejected: bigint('rejected', { mode: 'number' }).notNull().default(0),
    bytesRead: bigint('bytes_read', { mode: 'number' }).notNull().default(0),
    totalBytes: bigint('total_bytes', { mode: 'number' }),
    options: jsonb('options').$type<Record<string, unknown>>().notNull().default({}),
    error: text('error'),
    createdBy: text('created_by'),
    startedAt: timestamp('started_at', { withTimezone: true }).notNull().defaultNow(),
    updatedAt: updatedAt(),
    finishedAt: timestamp('finished_at', { withTimezone: true }),
  },
  (t) => [
    index('import_jobs_started_idx').on(t.startedAt),
    check('import_jobs_status_known', sql`${t.status} IN ('running', 'completed', 'failed', 'cancelled')`),
  ],
);

/** Rejected rows of an import: where and why. Capped per job; the job counts them all. */
export const importRejections = pgTable(
  'import_rejections',
  {
    id: bigint('id', { mode: 'number' }).primaryKey().generatedAlwaysAsIdentity(),
    jobId: uuid('job_id')
      .notNull()
      .references(() => importJobs.id, { onDelete: 'cascade' }),
    line: bigint('line', { mode: 'number' }).notNull(),
    column: text('column'),
    code: text('code').notNull(),
    reason: text('reason').notNull(),
  },
  (t) => [index('import_rejections_job_idx').on(t.jobId, t.line), index('import_rejections_code_idx').on(t.code)],
);

/**
 * Background jobs (training, segmentation, imports): the record clients see. Execution goes
 * through pg-boss on PostgreSQL or an in-process runner on the embedded database.
 */
export const jobs = pgTable(
  'jobs',
  {
    id: uuid('id').primaryKey().defaultRandom(),
    kind: text('kind').notNull(),
    /** queued, running, completed, failed or cancelled. */
    status: text('status').notNull().default('queued'),
    params: jsonb('params').$type<Record<string, unknown>>().notNull().default({}),
    result: jsonb('result').$type<Record<string, unknown>>(),
    error: text('error'),
    /** `{stage, done, total, detail?}`. */
    progress: jsonb('progress').$type<{ stage: string; done: number; total: number; detail?: Record<string, unknown> }>(),
    attempts: integer('attempts').notNull().default(0),
    maxAttempts: integer('max_attempts').notNull().default(2),
    /** Jobs of a singleton kind with the same key are not duplicated while queued or running. */
    dedupeKey: text('dedupe_key'),
    cancelRequested: boolean('cancel_requested').notNull().default(false),
    createdBy: text('created_by'),
    createdAt: createdAt(),
    startedAt: timestamp('started_at', { withTimezone: true }),
    heartbeatAt: timestamp('heartbeat_at', { withTimezone: true }),
    finishedAt: timestamp('finished_at', { withTimezone: true }),
  },
  (t) => [
    index('jobs_kind_created_idx').on(t.kind, t.createdAt),
    index('jobs_status_idx').on(t.status),
    uniqueIndex('jobs_active_dedupe_key').on(t.kind, t.dedupeKey).where(sql`${t.status} IN ('queued', 'running') AND ${t.dedupeKey} IS NOT NULL`),
    check('jobs_status_known', sql`${t.status} IN ('queued', 'running', 'completed', 'failed', 'cancelled')`),
  ],
);
export * from './schema-recommender.js';
export * from './schema-segments.js';

import { createHash } from 'node:crypto';
import { recordAudit, schema, selectRows, type AuditActor, type Executor } from '@clientele/db';
import { decodeCursor, DomainError, encodeCursor, pageSize, type Page } from '@clientele/domain';
import { and, count, desc, eq, lt, sql, type SQL } from 'drizzle-orm';
import { ARTIFACT_FORMAT, ArtifactError, decodeArtifact, sha256, type ModelArtifact } from './artifact.js';
import { yieldToEventLoop } from './event-loop.js';
import type { ModelKind } from './params.js';

// The model registry: versions with their parameters, data counts, metrics and training time;
// binary artifacts; and the activation history, whose newest row names the version served.
// Activation is announced with NOTIFY on this channel (PostgreSQL) and found by polling anyway.

const { recommenderActivations, recommenderArtifacts, recommenderModels } = schema;

export const ACTIVATION_CHANNEL = 'clientele_recommender';

export interface ModelVersion {
  version: number;
  kind: ModelKind;
  params: Record<string, unknown>;
  data: Record<string, unknown>;
  metrics: Record<string, unknown>;
  primaryMetric: string;
  primaryValue: number | null;
  search: Record<string, unknown> | null;
  trainingSeconds: number;
  jobId: string | null;
  createdBy: string | null;
  createdAt: Date;
  artifactBytes: number;
  artifactSha256: string;
}

export type ModelVersionPage = Page<ModelVersion>;

export interface Activation {
  id: number;
  version: number;
  action: 'activate' | 'rollback' | 'auto';
  actor: string | null;
  reason: string | null;
  activatedAt: Date;
}

const versionColumns = {
  version: recommenderModels.version,
  kind: recommenderModels.kind,
  params: recommenderModels.params,
  data: recommenderModels.data,
  metrics: recommenderModels.metrics,
  primaryMetric: recommenderModels.primaryMetric,
  primaryValue: recommenderModels.primaryValue,
  search: recommenderModels.search,
  trainingSeconds: recommenderModels.trainingSeconds,
  jobId: recommenderModels.jobId,
  createdBy: recommenderModels.createdBy,
  createdAt: recommenderModels.createdAt,
  artifactBytes: recommenderArtifacts.size,
  artifactSha256: recommenderArtifacts.sha256,
};

function toVersion(row: Omit<ModelVersion, 'kind'> & { kind: string }): ModelVersion {
  return { ...row, kind: row.kind === 'explicit' ? 'explicit' : 'implicit' };
}

function toActivation(row: typeof recommenderActivations.$inferSelect): Activation {
  const action = row.action === 'rollback' || row.action === 'auto' ? row.action : 'activate';
  return { id: row.id, version: row.version, action, actor: row.actor, reason: row.reason, activatedAt: row.activatedAt };
}

export interface NewModelVersion {
  kind: ModelKind;
  params: Record<string, unknown>;
  data: Record<string, unknown>;
  metrics: Record<string, unknown>;
  primaryMetric: string;
  primaryValue: number | null;
  search: Record<string, unknown> | null;
  trainingSeconds: number;
  jobId: string | null;
  createdBy: string | null;
}

/** Stores a trained version and its artifact in one transaction. */
export async function saveModelVersion(db: Executor, input: NewModelVersion, artifact: Uint8Array): Promise<ModelVersion> {
  return db.transaction(async (tx) => {
    const [row] = await tx.insert(recommenderModels).values(input).returning({ version: recommenderModels.version });
    if (!row) throw new Error('the model version was not stored');
    await tx.insert(recommenderArtifacts).values({ version: row.version, format: ARTIFACT_FORMAT, bytes: artifact, sha256: sha256(artifact), size: artifact.length });
    const saved = await getModelVersion(tx, row.version);
    if (!saved) throw new Error('the model version was not stored');
    return saved;
  });
}

export async function getModelVersion(db: Executor, version: number): Promise<ModelVersion | null> {
  const [row] = await db
    .select(versionColumns)
    .from(recommenderModels)
    .innerJoin(recommenderArtifacts, eq(recommenderArtifacts.version, recommenderModels.version))
    .where(eq(recommenderModels.version, version));
  return row ? toVersion(row) : null;
}

export async function requireModelVersion(db: Executor, version: number): Promise<ModelVersion> {
  const found = Number.isSafeInteger(version) ? await getModelVersion(db, version) : null;
  if (!found) throw new DomainError('NOT_FOUND', `version: no recommender model version ${version}`, 'version');
  return found;
}

/** Versions, newest first, keyset-paginated on the version number. */
export async function listModelVersions(db: Executor, request: { first?: number | null; after?: string | null; kind?: ModelKind | null }): Promise<Page<ModelVersion>> {
  const limit = pageSize(request.first);
  const conditions: SQL[] = [];
  if (request.kind) conditions.push(eq(recommenderModels.kind, request.kind));
  const after = request.after ? decodeCursor('model', request.after) : undefined;
  const rows = await db
    .select(versionColumns)
    .from(recommenderModels)
    .innerJoin(recommenderArtifacts, eq(recommenderArtifacts.version, recommenderModels.version))
    .where(and(...conditions, ...(after !== undefined ? [lt(recommenderModels.version, after)] : [])))
    .orderBy(desc(recommenderModels.version))
    .limit(limit + 1);
  const nodes = rows.slice(0, limit).map(toVersion);
  return {
    nodes,
    cursors: nodes.map((n) => encodeCursor('model', n.version)),
    hasNextPage: rows.length > limit,
    hasPreviousPage: after !== undefined,
    totalCount: async () => {
      const [c] = await db.select({ n: count() }).from(recommenderModels).where(and(...conditions));
      return c?.n ?? 0;
    },
  };
}

/** The newest activation: the version every API process should serve (null: none yet). */
export async function currentActivation(db: Executor): Promise<Activation | null> {
  const [row] = await db.select().from(recommenderActivations).orderBy(desc(recommenderActivations.id)).limit(1);
  return row ? toActivation(row) : null;
}

export async function activationHistory(db: Executor, limit = 50): Promise<Activation[]> {
  const rows = await db.select().from(recommenderActivations).orderBy(desc(recommenderActivations.id)).limit(Math.min(limit, 500));
  return rows.map(toActivation);
}

/** Artifact bytes read per statement (hex on the wire: twice that). */
const ARTIFACT_CHUNK = 256 * 1024;

/**
 * Reads and verifies a version's artifact. In slices of 256 KiB, hashed as they come, with
 * the event loop free in between: a serving process loads a new version while it answers
 * requests, and one 36 MB bytea value took ~2 s of parsing on the event loop (the driver
 * re-merges its buffer for every network chunk of a large message).
 */
export async function loadArtifact(db: Executor, version: number): Promise<ModelArtifact> {
  const [row] = await db.select({ size: recommenderArtifacts.size, sha256: recommenderArtifacts.sha256 }).from(recommenderArtifacts).where(eq(recommenderArtifacts.version, version));
  if (!row) throw new ArtifactError(`model artifact: version ${version} has none`);
  const bytes = new Uint8Array(row.size);
  const hash = createHash('sha256');
  for (let at = 0; at < row.size; at += ARTIFACT_CHUNK) {
    const [slice] = await selectRows<{ part: Uint8Array }>(
      db,
      sql`SELECT substring(bytes FROM ${at + 1} FOR ${ARTIFACT_CHUNK}) AS part FROM ${recommenderArtifacts} WHERE version = ${version}`,
    );
    const part = slice?.part;
    const expected = Math.min(ARTIFACT_CHUNK, row.size - at);
    if (!part || part.length !== expected || at + part.length > bytes.length) {
      throw new ArtifactError(`model artifact of version ${version}: ${at + (part?.length ?? 0)} bytes where ${row.size} were recorded (the artifact is corrupt)`);
    }
    bytes.set(part, at);
    hash.update(part);
    await yieldToEventLoop();
  }
  const actual = hash.digest('hex');
  if (actual !== row.sha256) throw new ArtifactError(`model artifact of version ${version}: checksum ${actual.slice(0, 12)}… differs from the stored ${row.sha256.slice(0, 12)}… (the artifact is corrupt)`);
  return decodeArtifact(bytes);
}

/**
 * Makes a version the one served, after checking its artifact reads back (a corrupt one is
 * refused and the current version stays). Announced with NOTIFY at commit.
 */
export async function activateModelVersion(
  db: Executor,
  version: number,
  actor: AuditActor,
  options: { action?: Activation['action']; reason?: string | null } = {},
): Promise<{ model: ModelVersion; activation: Activation }> {
  const model = await requireModelVersion(db, version);
  try {
    await loadArtifact(db, version);
  } catch (error) {
    if (error instanceof ArtifactError) throw new DomainError('CONFLICT', `version ${version} cannot be activated: ${error.message}; the active version is unchanged`, 'version');
    throw error;
  }
  return db.transaction(async (tx) => {
    const [row] = await tx
      .insert(recommenderActivations)
      .values({ version, action: options.action ?? 'activate', actor: actor.name ?? actor.type, reason: options.reason ?? null })
      .returning();
    if (!row) throw new Error('the activation was not stored');
    await recordAudit(tx, { actor, operation: `recommender.${options.action ?? 'activate'}`, targetType: 'recommender_model', targetId: String(version), details: { reason: options.reason ?? null } });
    await tx.execute(sql`SELECT pg_notify(${ACTIVATION_CHANNEL}, ${String(version)})`);
    return { model, activation: toActivation(row) };
  });
}

/** Activates the version that was active before the current one. */
export async function rollbackModelVersion(db: Executor, actor: AuditActor): Promise<{ model: ModelVersion; activation: Activation }> {
  const history = await activationHistory(db, 500);
  const current = history[0];
  if (!current) throw new DomainError('CONFLICT', 'rollback: no recommender model has been activated yet, so there is nothing to roll back to');
  const previous = history.find((a) => a.version !== current.version);
  if (!previous) throw new DomainError('CONFLICT', `rollback: version ${current.version} is the only one ever activated; activate another version instead`);
  return activateModelVersion(db, previous.version, actor, { action: 'rollback', reason: `rolled back from version ${current.version}` });
}

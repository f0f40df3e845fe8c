import { customers, interactions, recordAudit, schema, selectRows, type AuditActor, type Database, type Executor } from '@clientele/db';
import { DomainError, decodeCursor, encodeCursor, pageSize, type CustomerRecord, type Page, type PageRequest } from '@clientele/domain';
import { and, asc, count, desc, eq, getTableColumns, gt, inArray, lt, param, sql } from 'drizzle-orm';
import { checkAgainstData, SEGMENTATION_LIMITS, segmentTable, type CurvePoint, type RunHooks, type SegmentProfile, type SegmentationSettings } from './clustering.js';
import { FEATURES_VERSION, computeFeatures, defaultReferenceDate, type FeatureName } from './features.js';
import { boolean, featureChoices, integer, optionalDate, optionalInteger, record, windowDays } from './input.js';

// Segmentation runs in the database: validated parameters, features computed in SQL, the
// k-means segmentation, and the run stored with its memberships as the next version (one run
// is active). Nothing is stored when any step fails.

const { segmentationRuns, segmentMemberships } = schema;

export type SegmentationRunRecord = typeof segmentationRuns.$inferSelect;

export const DEFAULT_SEGMENTATION_FEATURES: readonly FeatureName[] = ['recency_days', 'frequency', 'monetary', 'tenure_days'];

/** Validated parameters of a run; JSON-safe (they travel as job parameters). */
export interface SegmentationParams {
  features: { name: FeatureName; transform: 'log' | 'none' }[];
  k: number | null;
  kMin: number;
  kMax: number;
  restarts: number;
  seed: number;
  maxIterations: number;
  /** ISO date, or null for the time of the latest interaction. */
  referenceDate: string | null;
  windowDays: number;
  activate: boolean;
  curveSampleSize: number;
  silhouetteSampleSize: number;
}

/** Checks a run request (GraphQL input, CLI options or job parameters); errors name the field. */
export function validateSegmentationParams(input: unknown): SegmentationParams {
  const o = record('input', input);
  const k = optionalInteger('k', o['k'], 1, SEGMENTATION_LIMITS.kMax);
  // Silhouette tends to prefer a two-way split (buyers vs. the rest), which a marketer can
  // rarely act on; the automatic search starts at 3 unless asked otherwise.
  const kMin = integer('kMin', o['kMin'], 2, SEGMENTATION_LIMITS.kMax, 3);
  const kMax = integer('kMax', o['kMax'], 2, SEGMENTATION_LIMITS.kMax, Math.max(kMin, 8));
  if (kMax < kMin) throw new DomainError('BAD_USER_INPUT', `kMax: expected at least kMin (${kMin}), got ${kMax}`, 'kMax');
  const referenceDate = optionalDate('referenceDate', o['referenceDate']);
  return {
    features: featureChoices('features', o['features'], DEFAULT_SEGMENTATION_FEATURES),
    k,
    kMin,
    kMax,
    restarts: integer('restarts', o['restarts'], 1, SEGMENTATION_LIMITS.restartsMax, 3),
    seed: integer('seed', o['seed'], 0, 2 ** 31 - 1, 1),
    maxIterations: integer('maxIterations', o['maxIterations'], 1, SEGMENTATION_LIMITS.iterationsMax, 100),
    referenceDate: referenceDate ? referenceDate.toISOString() : null,
    windowDays: windowDays('windowDays', o['windowDays']),
    activate: boolean('activate', o['activate'], true),
    curveSampleSize: integer('curveSampleSize', o['curveSampleSize'], 100, 1_000_000, 50_000),
    silhouetteSampleSize: integer('silhouetteSampleSize', o['silhouetteSampleSize'], 100, 20_000, 2_000),
  };
}

function windowText(reference: Date, days: number): string {
  return `of ${days} days ending ${reference.toISOString()}`;
}

/** Customers with an order in the window (cheap; used to refuse a hopeless run before it is queued). */
export async function customersWithOrders(db: Executor, reference: Date, days: number): Promise<number> {
  const [row] = await selectRows<{ n: number }>(
    db,
    sql`SELECT count(DISTINCT customer_id)::int AS n FROM ${interactions}
        WHERE type = 'purchase' AND (quantity IS NULL OR quantity > 0)
          AND occurred_at > ${reference.toISOString()}::timestamptz - make_interval(days => ${days})
          AND occurred_at <= ${reference.toISOString()}::timestamptz`,
  );
  return row?.n ?? 0;
}

/** Refuses parameters the data cannot satisfy (no customers, k too large) with a clear error. */
export async function checkSegmentationData(db: Executor, params: SegmentationParams): Promise<number> {
  const reference = params.referenceDate ? new Date(params.referenceDate) : await defaultReferenceDate(db);
  const n = await customersWithOrders(db, reference, params.windowDays);
  checkAgainstData(settingsOf(params, 0), n, windowText(reference, params.windowDays));
  return n;
}

function settingsOf(params: SegmentationParams, threads: number): SegmentationSettings {
  return {
    features: params.features.map((f) => f.name),
    transforms: params.features.map((f) => f.transform),
    k: params.k,
    kMin: params.kMin,
    kMax: params.kMax,
    restarts: params.restarts,
    seed: params.seed,
    maxIterations: params.maxIterations,
    threads,
    curveSampleSize: params.curveSampleSize,
    silhouetteSampleSize: params.silhouetteSampleSize,
  };
}

export interface RunContext extends RunHooks {
  actor: AuditActor;
  jobId?: string | null;
  /** Native threads (0 = one per core). */
  threads?: number;
}

const MEMBERSHIP_CHUNK = 50_000;

/** Computes features, segments the customers and stores the run (activating it unless told not to). */
export async function runSegmentation(db: Database, input: SegmentationParams, context: RunContext): Promise<SegmentationRunRecord> {
  const params = validateSegmentationParams(input);
  const started = performance.now();
  context.onProgress?.({ stage: 'features', done: 0, total: 1 });
  const referenceDate = params.referenceDate ? new Date(params.referenceDate) : await defaultReferenceDate(db);
  const table = await computeFeatures(db, { referenceDate, windowDays: params.windowDays });
  const featureSeconds = (performance.now() - started) / 1000;
  context.onProgress?.({ stage: 'features', done: 1, total: 1, detail: { customers: table.customerIds.length } });
  const threads = context.threads ?? 0;
  const outcome = await segmentTable(table, settingsOf(params, threads), context);

  context.onProgress?.({ stage: 'store', done: 0, total: 1 });
  const storeStarted = performance.now();
  const run = await db.transaction(async (tx) => {
    await tx.execute(sql`SELECT pg_advisory_xact_lock(hashtext('clientele.segmentation_runs'))`);
    const [last] = await tx.select({ version: sql<number>`coalesce(max(${segmentationRuns.version}), 0)::int` }).from(segmentationRuns);
    const [inserted] = await tx
      .insert(segmentationRuns)
      .values({
        version: (last?.version ?? 0) + 1,
        jobId: context.jobId ?? null,
        featuresVersion: FEATURES_VERSION,
        features: params.features.map((f) => f.name),
        k: outcome.k,
        kChosenBy: outcome.chosenBy,
        seed: params.seed,
        referenceDate,
        windowDays: params.windowDays,
        customerCount: table.customerIds.length,
        silhouette: outcome.silhouette,
        silhouetteCurve: outcome.curve.map((p) => ({ ...p })),
        inertia: outcome.inertia,
        profiles: outcome.profiles.map((p) => ({ ...p, position: { ...p.position } })),
        model: { preprocessing: { ...outcome.preprocessing }, overall: outcome.overall, iterations: outcome.iterations, threads },
        params: { ...params },
        timings: {},
        createdBy: context.actor.name ?? context.actor.type,
      })
      .returning();
    if (!inserted) throw new Error('segmentation run not inserted');
    const n = table.customerIds.length;
    for (let from = 0; from < n; from += MEMBERSHIP_CHUNK) {
      const to = Math.min(n, from + MEMBERSHIP_CHUNK);
      // Joined with customers: one erased while the run was computing is simply left out.
      await tx.execute(sql`
        INSERT INTO ${segmentMemberships} (run_id, customer_id, segment, distance)
        SELECT ${inserted.id}::uuid, t.customer_id, t.segment, t.distance
        FROM unnest(${param(table.customerIds.slice(from, to))}::bigint[], ${param(Array.from(outcome.labels.subarray(from, to)))}::int[],
                    ${param(Array.from(outcome.distances.subarray(from, to)))}::real[]) AS t(customer_id, segment, distance)
        JOIN ${customers} c ON c.id = t.customer_id`);
      context.onProgress?.({ stage: 'store', done: to, total: n });
    }
    if (params.activate) await activate(tx, inserted.id);
    await recordAudit(tx, {
      actor: context.actor,
      operation: 'segmentation.run',
      targetType: 'segmentation_run',
      targetId: inserted.id,
      details: { version: inserted.version, k: outcome.k, customers: n, activated: params.activate },
    });
    return inserted;
  });
  const timings = {
    features: round(featureSeconds),
    ...outcome.timings,
    store: round((performance.now() - storeStarted) / 1000),
    total: round((performance.now() - started) / 1000),
  };
  const [stored] = await db.update(segmentationRuns).set({ timings }).where(eq(segmentationRuns.id, run.id)).returning();
  return stored ?? run;
}

const round = (x: number) => Math.round(x * 1e6) / 1e6;

async function activate(tx: Executor, id: string): Promise<void> {
  await tx.update(segmentationRuns).set({ active: false }).where(eq(segmentationRuns.active, true));
  await tx.update(segmentationRuns).set({ active: true, activatedAt: new Date() }).where(eq(segmentationRuns.id, id));
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

export function isUuid(value: string): boolean {
  return UUID.test(value);
}

export async function getSegmentationRun(db: Executor, id: string): Promise<SegmentationRunRecord | null> {
  if (!isUuid(id)) return null;
  const [row] = await db.select().from(segmentationRuns).where(eq(segmentationRuns.id, id));
  return row ?? null;
}

export async function requireSegmentationRun(db: Executor, id: string, field = 'id'): Promise<SegmentationRunRecord> {
  const run = await getSegmentationRun(db, id);
  if (!run) throw new DomainError('NOT_FOUND', `${field}: segmentation run '${id}' does not exist`, field);
  return run;
}

export async function activeSegmentationRun(db: Executor): Promise<SegmentationRunRecord | null> {
  const [row] = await db.select().from(segmentationRuns).where(eq(segmentationRuns.active, true));
  return row ?? null;
}

/** Makes a run the active one (the one customers' profiles and rules use). */
export async function activateSegmentationRun(db: Database, id: string, actor: AuditActor): Promise<SegmentationRunRecord> {
  return db.transaction(async (tx) => {
    const run = await requireSegmentationRun(tx, id);
    await activate(tx, run.id);
    await recordAudit(tx, { actor, operation: 'segmentation.activate', targetType: 'segmentation_run', targetId: run.id, details: { version: run.version } });
    return (await getSegmentationRun(tx, run.id)) ?? run;
  });
}

export type SegmentationRunPage = Page<SegmentationRunRecord>;

/** Runs, newest version first. */
export async function listSegmentationRuns(db: Executor, request: PageRequest): Promise<Page<SegmentationRunRecord>> {
  const limit = pageSize(request.first);
  const after = request.after ? decodeCursor('segmentation-run', request.after) : undefined;
  const rows = await db
    .select()
    .from(segmentationRuns)
    .where(after === undefined ? undefined : lt(segmentationRuns.version, after))
    .orderBy(desc(segmentationRuns.version))
    .limit(limit + 1);
  const nodes = rows.slice(0, limit);
  return {
    nodes,
    cursors: nodes.map((r) => encodeCursor('segmentation-run', r.version)),
    hasNextPage: rows.length > limit,
    hasPreviousPage: after !== undefined,
    totalCount: async () => (await db.select({ n: count() }).from(segmentationRuns))[0]?.n ?? 0,
  };
}

/** Customers of a run (optionally of one segment), by internal id. */
export async function segmentationRunMembers(
  db: Executor,
  run: SegmentationRunRecord,
  request: PageRequest & { segment?: number | null | undefined },
): Promise<Page<CustomerRecord>> {
  const limit = pageSize(request.first);
  const segment = request.segment ?? null;
  if (segment !== null && (!Number.isInteger(segment) || segment < 0 || segment >= run.k)) {
    throw new DomainError('BAD_USER_INPUT', `segment: expected a segment index from 0 to ${run.k - 1}, got ${segment}`, 'segment');
  }
  const after = request.after ? decodeCursor('run-member', request.after) : undefined;
  const conditions = [eq(segmentMemberships.runId, run.id), ...(segment === null ? [] : [eq(segmentMemberships.segment, segment)])];
  const rows = await db
    .select(getTableColumns(customers))
    .from(segmentMemberships)
    .innerJoin(customers, eq(customers.id, segmentMemberships.customerId))
    .where(and(...conditions, ...(after === undefined ? [] : [gt(segmentMemberships.customerId, after)])))
    .orderBy(asc(segmentMemberships.customerId))
    .limit(limit + 1);
  const nodes = rows.slice(0, limit);
  return {
    nodes,
    cursors: nodes.map((r) => encodeCursor('run-member', r.id)),
    hasNextPage: rows.length > limit,
    hasPreviousPage: after !== undefined,
    totalCount: async () => (await db.select({ n: count() }).from(segmentMemberships).where(and(...conditions)))[0]?.n ?? 0,
  };
}

export interface CustomerSegment {
  run: SegmentationRunRecord;
  segment: number;
  label: string;
  distance: number;
}

/** Each customer's segment in the active run (null: no active run, or not part of it), in the order asked. */
export async function customerSegments(db: Executor, customerIds: readonly number[]): Promise<(CustomerSegment | null)[]> {
  if (customerIds.length === 0) return [];
  const run = await activeSegmentationRun(db);
  if (!run) return customerIds.map(() => null);
  const rows = await db
    .select({ customerId: segmentMemberships.customerId, segment: segmentMemberships.segment, distance: segmentMemberships.distance })
    .from(segmentMemberships)
    .where(and(eq(segmentMemberships.runId, run.id), inArray(segmentMemberships.customerId, [...customerIds])));
  const profiles = profilesOf(run);
  const byCustomer = new Map(rows.map((r) => [r.customerId, r]));
  return customerIds.map((id) => {
    const row = byCustomer.get(id);
    return row ? { run, segment: row.segment, label: profiles[row.segment]?.label ?? `Segment ${row.segment + 1}`, distance: row.distance } : null;
  });
}

/** The customer's segment in the active run, or null (no active run, or not part of it). */
export async function customerSegment(db: Executor, customerId: number): Promise<CustomerSegment | null> {
  return (await customerSegments(db, [customerId]))[0] ?? null;
}

const num = (value: unknown, fallback = 0): number => (typeof value === 'number' ? value : fallback);
const obj = (value: unknown): Record<string, unknown> => (typeof value === 'object' && value !== null && !Array.isArray(value) ? { ...value } : {});
const numbersOf = (value: unknown): Record<string, number> =>
  Object.fromEntries(Object.entries(obj(value)).filter((e): e is [string, number] => typeof e[1] === 'number'));

/** The stored profiles of a run, read back from their JSON. */
export function profilesOf(run: SegmentationRunRecord): SegmentProfile[] {
  return run.profiles.map((p, i) => {
    const position = obj(p['position']);
    const medians = Object.fromEntries(Object.entries(obj(p['medians'])).map(([k, v]) => [k, typeof v === 'number' ? v : null]));
    return {
      index: num(p['index'], i),
      label: typeof p['label'] === 'string' ? p['label'] : `Segment ${i + 1}`,
      size: num(p['size']),
      customerShare: num(p['customerShare']),
      revenue: num(p['revenue']),
      revenueShare: num(p['revenueShare']),
      medians,
      position: {
        recency: position['recency'] === 'recent' || position['recency'] === 'dormant' ? position['recency'] : 'lapsing',
        value: position['value'] === 'high' || position['value'] === 'low' ? position['value'] : 'mid',
        onePurchase: position['onePurchase'] === true,
        isNew: position['isNew'] === true,
        ranks: numbersOf(position['ranks']),
      },
      centroid: Array.isArray(p['centroid']) ? p['centroid'].map((v) => num(v)) : [],
    };
  });
}

export function curveOf(run: SegmentationRunRecord): CurvePoint[] {
  return run.silhouetteCurve.map((p) => ({ k: Number(p['k']), silhouette: Number(p['silhouette']), inertia: Number(p['inertia']) }));
}

import { customers, recordAudit, schema, selectRows, type AuditActor, type Database, type Executor } from '@clientele/db';
import { DomainError, decodeCursor, decodeKeyCursor, encodeCursor, encodeKeyCursor, pageSize, type CustomerRecord, type Page, type PageRequest } from '@clientele/domain';
import { and, asc, count, eq, gt, sql } from 'drizzle-orm';
import { defaultReferenceDate } from './features.js';
import { optionalDate, record, show, windowDays } from './input.js';
import { isUuid } from './runs.js';
import { compileRule, ruleSource, validateRule, type CompiledRule } from './rules.js';

// Saved rule-based segments (create, update, delete, list) and their evaluation on demand: a
// live count, a preview of members, members as pages, and every member's id for a campaign.

const { segments } = schema;

export type SegmentRecord = typeof segments.$inferSelect;

export interface RuleOptions {
  /** "Now" for the rule; null or absent means the time of the latest interaction. */
  referenceDate?: Date | null;
  windowDays?: number;
}

/** Checks a definition and compiles it against the database (runs, models, items it names). */
export async function prepareRule(db: Executor, definition: unknown, options: RuleOptions = {}, root = 'conditions'): Promise<CompiledRule> {
  const tree = validateRule(definition, root);
  const days = windowDays('windowDays', options.windowDays);
  const referenceDate = options.referenceDate ?? (await defaultReferenceDate(db));
  return compileRule(db, tree, { referenceDate, windowDays: days });
}

/** How many customers match. */
export async function countRule(db: Executor, rule: CompiledRule): Promise<number> {
  const [row] = await selectRows<{ n: number }>(db, sql`SELECT count(*)::int AS n FROM ${ruleSource(rule)} WHERE ${rule.where}`);
  return row?.n ?? 0;
}

/** Matching customers by internal id, as a page. */
export async function ruleMembers(db: Executor, rule: CompiledRule, request: PageRequest): Promise<Page<CustomerRecord>> {
  const limit = pageSize(request.first);
  const after = request.after ? decodeCursor('segment-member', request.after) : undefined;
  const matching = sql`${customers.id} IN (SELECT c.id FROM ${ruleSource(rule)} WHERE ${rule.where})`;
  const rows = await db
    .select()
    .from(customers)
    .where(and(matching, after === undefined ? undefined : gt(customers.id, after)))
    .orderBy(asc(customers.id))
    .limit(limit + 1);
  const nodes = rows.slice(0, limit);
  return {
    nodes,
    cursors: nodes.map((c) => encodeCursor('segment-member', c.id)),
    hasNextPage: rows.length > limit,
    hasPreviousPage: after !== undefined,
    totalCount: () => countRule(db, rule),
  };
}

/** Internal ids of every matching customer, ascending (what a campaign sends to). */
export async function ruleCustomerIds(db: Executor, rule: CompiledRule): Promise<number[]> {
  const rows = await selectRows<{ id: number | string }>(db, sql`SELECT c.id FROM ${ruleSource(rule)} WHERE ${rule.where} ORDER BY c.id`);
  return rows.map((r) => Number(r.id));
}

export interface RulePreview {
  count: number;
  members: CustomerRecord[];
  referenceDate: Date;
}

/** A live count and the first members of a definition that is not saved. */
export async function previewRule(db: Executor, definition: unknown, options: RuleOptions & { first?: number | null } = {}): Promise<RulePreview> {
  const rule = await prepareRule(db, definition, options);
  const [total, page] = await Promise.all([countRule(db, rule), ruleMembers(db, rule, { first: options.first ?? 10 })]);
  return { count: total, members: page.nodes, referenceDate: rule.context.referenceDate };
}

// ---- saved segments ----------------------------------------------------------------------

export interface SegmentInput {
  name?: unknown;
  description?: unknown;
  definition?: unknown;
  referenceDate?: unknown;
  windowDays?: unknown;
}

function segmentName(value: unknown): string {
  if (typeof value !== 'string' || value.trim().length === 0 || value.trim().length > 200) {
    throw new DomainError('BAD_USER_INPUT', `name: expected a name of 1 to 200 characters, got ${show(value)}`, 'name');
  }
  return value.trim();
}

function description(value: unknown): string | null {
  if (value === undefined || value === null) return null;
  if (typeof value !== 'string' || value.length > 2000) throw new DomainError('BAD_USER_INPUT', `description: expected text of at most 2,000 characters, got ${show(value)}`, 'description');
  return value;
}

export function ruleOptionsOf(segment: Pick<SegmentRecord, 'referenceDate' | 'windowDays'>): RuleOptions {
  return { referenceDate: segment.referenceDate, windowDays: segment.windowDays };
}

async function checkedDefinition(db: Executor, definition: unknown, options: RuleOptions): Promise<Record<string, unknown>> {
  // Compiling resolves what the tree names, so a segment naming a missing item is refused now.
  await prepareRule(db, definition, options, 'definition');
  return record('definition', definition);
}

/** Saves a rule segment after checking its definition; the name must be unused. */
export async function createSegment(db: Database, input: SegmentInput, actor: AuditActor): Promise<SegmentRecord> {
  const name = segmentName(input.name);
  const options = { referenceDate: optionalDate('referenceDate', input.referenceDate), windowDays: windowDays('windowDays', input.windowDays) };
  const definition = await checkedDefinition(db, input.definition, options);
  return db.transaction(async (tx) => {
    const [row] = await tx
      .insert(segments)
      .values({ name, description: description(input.description), definition, referenceDate: options.referenceDate, windowDays: options.windowDays, createdBy: actor.name ?? actor.type })
      .onConflictDoNothing({ target: segments.name })
      .returning();
    if (!row) throw new DomainError('CONFLICT', `name: a segment named '${name}' already exists`, 'name');
    await recordAudit(tx, { actor, operation: 'segment.create', targetType: 'segment', targetId: row.id, details: { name } });
    return row;
  });
}

export async function getSegment(db: Executor, id: string): Promise<SegmentRecord | null> {
  if (!isUuid(id)) return null;
  const [row] = await db.select().from(segments).where(eq(segments.id, id));
  return row ?? null;
}

export async function requireSegment(db: Executor, id: string): Promise<SegmentRecord> {
  const row = await getSegment(db, id);
  if (!row) throw new DomainError('NOT_FOUND', `id: segment '${id}' does not exist`, 'id');
  return row;
}

/** Changes what is given (name, description, definition, reference date, window). */
export async function updateSegment(db: Database, id: string, input: SegmentInput, actor: AuditActor): Promise<SegmentRecord> {
  const current = await requireSegment(db, id);
  const changes: Partial<typeof segments.$inferInsert> = {};
  if (input.name !== undefined) changes.name = segmentName(input.name);
  if (input.description !== undefined) changes.description = description(input.description);
  if (input.referenceDate !== undefined) changes.referenceDate = optionalDate('referenceDate', input.referenceDate);
  if (input.windowDays !== undefined) changes.windowDays = windowDays('windowDays', input.windowDays);
  const options = { referenceDate: changes.referenceDate !== undefined ? changes.referenceDate : current.referenceDate, windowDays: changes.windowDays ?? current.windowDays };
  if (input.definition !== undefined) changes.definition = await checkedDefinition(db, input.definition, options);
  return db.transaction(async (tx) => {
    if (changes.name !== undefined && changes.name !== current.name) {
      const [taken] = await tx.select({ id: segments.id }).from(segments).where(eq(segments.name, changes.name));
      if (taken) throw new DomainError('CONFLICT', `name: a segment named '${changes.name}' already exists`, 'name');
    }
    const [row] = await tx
      .update(segments)
      .set({ ...changes, updatedAt: new Date(), lastCount: null, lastEvaluatedAt: null })
      .where(eq(segments.id, current.id))
      .returning();
    if (!row) throw new DomainError('NOT_FOUND', `id: segment '${id}' does not exist`, 'id');
    await recordAudit(tx, { actor, operation: 'segment.update', targetType: 'segment', targetId: row.id, details: { fields: Object.keys(changes) } });
    return row;
  });
}

export async function deleteSegment(db: Database, id: string, actor: AuditActor): Promise<SegmentRecord> {
  return db.transaction(async (tx) => {
    const [row] = await tx.delete(segments).where(eq(segments.id, (await requireSegment(tx, id)).id)).returning();
    if (!row) throw new DomainError('NOT_FOUND', `id: segment '${id}' does not exist`, 'id');
    await recordAudit(tx, { actor, operation: 'segment.delete', targetType: 'segment', targetId: row.id, details: { name: row.name } });
    return row;
  });
}

export type SegmentPage = Page<SegmentRecord>;

/** Saved segments by name. */
export async function listSegments(db: Executor, request: PageRequest): Promise<Page<SegmentRecord>> {
  const limit = pageSize(request.first);
  const after = request.after ? decodeKeyCursor('segment-name', request.after).key : undefined;
  const rows = await db
    .select()
    .from(segments)
    .where(after === undefined ? undefined : gt(segments.name, after))
    .orderBy(asc(segments.name))
    .limit(limit + 1);
  const nodes = rows.slice(0, limit);
  return {
    nodes,
    cursors: nodes.map((s) => encodeKeyCursor('segment-name', s.name, 0)),
    hasNextPage: rows.length > limit,
    hasPreviousPage: after !== undefined,
    totalCount: async () => (await db.select({ n: count() }).from(segments))[0]?.n ?? 0,
  };
}

/** Compiles a saved segment as of now (or its fixed reference date). */
export async function compileSegment(db: Executor, segment: SegmentRecord): Promise<CompiledRule> {
  return prepareRule(db, segment.definition, ruleOptionsOf(segment), 'definition');
}

/** Counts a saved segment now and remembers the count and when. */
export async function evaluateSegment(db: Executor, segment: SegmentRecord): Promise<{ count: number; evaluatedAt: Date }> {
  const n = await countRule(db, await compileSegment(db, segment));
  const evaluatedAt = new Date();
  await db.update(segments).set({ lastCount: n, lastEvaluatedAt: evaluatedAt }).where(eq(segments.id, segment.id));
  return { count: n, evaluatedAt };
}

/** Every member's internal id, for a campaign; evaluated now. */
export async function segmentCustomerIds(db: Executor, segmentId: string): Promise<number[]> {
  return ruleCustomerIds(db, await compileSegment(db, await requireSegment(db, segmentId)));
}


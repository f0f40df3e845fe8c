import { customerAliases, customers, interactions, items, recordAudit, selectRows, type AuditActor, type Executor } from '@clientele/db';
import { and, asc, count, desc, eq, gte, inArray, lt, param, sql, type SQL } from 'drizzle-orm';
import { checkBatchSize, rejected, summarise, type BatchResult, type RowResult } from './batch.js';
import { DomainError } from './errors.js';
import { decodeKeyCursor, encodeKeyCursor, pageSize, type Page, type PageRequest } from './pagination.js';
import type { Store } from './store.js';

export type InteractionRecord = typeof interactions.$inferSelect;
export type InteractionPage = Page<InteractionRecord>;

/** What to do with an interaction naming a customer or item that does not exist yet. */
export type UnknownReferences = 'create' | 'reject';

export { contentEventId, RATING_MAX, RATING_MIN, validateInteraction, type InteractionInput, type InteractionRow } from './interaction-rules.js';
import { RATING_MAX, RATING_MIN, validateInteraction, type InteractionInput, type InteractionRow } from './interaction-rules.js';

/**
 * Internal ids for customer external ids (following merge aliases), creating stubs for the
 * missing ones when asked. Missing ids are absent from the map when not created.
 */
export async function resolveCustomerIds(tx: Executor, externalIds: readonly string[], create: boolean): Promise<Map<string, number>> {
  const wanted = [...new Set(externalIds)];
  const map = new Map<string, number>();
  if (wanted.length === 0) return map;
  const load = async (ids: string[]) => {
    for (const row of await tx.select({ id: customers.id, externalId: customers.externalId }).from(customers).where(inArray(customers.externalId, ids))) {
      map.set(row.externalId, row.id);
    }
    const missing = ids.filter((id) => !map.has(id));
    if (missing.length > 0) {
      for (const row of await tx.select({ id: customerAliases.customerId, externalId: customerAliases.externalId }).from(customerAliases).where(inArray(customerAliases.externalId, missing))) {
        map.set(row.externalId, row.id);
      }
    }
  };
  await load(wanted);
  // Sorted: concurrent batches then take the unique-index locks of shared new ids in the same
  // order, so they wait for each other instead of deadlocking.
  const missing = wanted.filter((id) => !map.has(id)).sort();
  if (create && missing.length > 0) {
    await tx.execute(sql`
      INSERT INTO ${customers} (external_id, attributes)
      SELECT unnest(${param(missing)}::text[]), '{"stub": true}'::jsonb
      ON CONFLICT (external_id) DO NOTHING`);
    await load(missing);
  }
  return map;
}

/** Internal ids for item external ids, creating stub items (title = id) when asked. */
export async function resolveItemIds(tx: Executor, externalIds: readonly string[], create: boolean): Promise<Map<string, number>> {
  const wanted = [...new Set(externalIds)];
  const map = new Map<string, number>();
  if (wanted.length === 0) return map;
  const load = async (ids: string[]) => {
    for (const row of await tx.select({ id: items.id, externalId: items.externalId }).from(items).where(inArray(items.externalId, ids))) {
      map.set(row.externalId, row.id);
    }
  };
  await load(wanted);
  const missing = wanted.filter((id) => !map.has(id)).sort(); // sorted: see resolveCustomerIds
  if (create && missing.length > 0) {
    await tx.execute(sql`
      INSERT INTO ${items} (external_id, title, attributes)
      SELECT id, id, '{"stub": true}'::jsonb FROM unnest(${param(missing)}::text[]) AS t(id)
      ON CONFLICT (external_id) DO NOTHING`);
    await load(missing);
  }
  return map;
}

/**
 * Inserts resolved interactions, skipping event ids already stored. Returns the event ids
 * that were new. One statement for the whole list (arrays through `unnest`).
 *
 * New rows go into the live partition. Its unique index catches an event id already stored
 * there (ON CONFLICT); one stored by a bulk load, in another partition, is caught by the NOT
 * EXISTS. A bulk load attaching at the same time holds `interactions_live` in SHARE mode
 * while it removes event ids stored here and attaches, so this statement either commits
 * before that (and the bulk load drops its copy) or starts after it (and sees the partition).
 */
export async function insertInteractions(
  tx: Executor,
  rows: readonly { eventId: string; customerId: number; itemId: number; type: string; value: number | null; quantity: number | null; amount: number | null; occurredAt: Date }[],
  source: string,
): Promise<Set<string>> {
  if (rows.length === 0) return new Set();
  const inserted = await selectRows<{ event_id: string }>(
    tx,
    sql`
      INSERT INTO interactions_live (event_id, customer_id, item_id, type, value, quantity, amount, occurred_at, source)
      SELECT t.*, ${source} FROM unnest(
        ${param(rows.map((r) => r.eventId))}::text[],
        ${param(rows.map((r) => r.customerId))}::bigint[],
        ${param(rows.map((r) => r.itemId))}::bigint[],
        ${param(rows.map((r) => r.type))}::text[],
        ${param(rows.map((r) => r.value))}::float8[],
        ${param(rows.map((r) => r.quantity))}::int[],
        ${param(rows.map((r) => r.amount))}::numeric[],
        ${param(rows.map((r) => r.occurredAt.toISOString()))}::timestamptz[]
      ) AS t(event_id, customer_id, item_id, type, value, quantity, amount, occurred_at)
      WHERE NOT EXISTS (SELECT 1 FROM ${interactions} i WHERE i.event_id = t.event_id AND i.segment <> 0)
      ON CONFLICT (event_id, segment) DO NOTHING
      RETURNING event_id`,
  );
  return new Set(inserted.map((r) => r.event_id));
}

/**
 * Records up to 1,000 interactions. Idempotent: an event id (given, or derived from the
 * content) already stored leaves the row UNCHANGED. Unknown customers or items become
 * stubs, or the row is rejected, as `unknownReferences` says.
 */
export async function trackInteractions(
  store: Store,
  inputs: readonly InteractionInput[],
  options: { actor: AuditActor; unknownReferences?: UnknownReferences; source?: string },
): Promise<BatchResult> {
  checkBatchSize('interactions', inputs.length);
  const results: RowResult[] = new Array(inputs.length);
  const valid: { index: number; row: InteractionRow }[] = [];
  const seen = new Map<string, number>();
  const now = Date.now();
  inputs.forEach((input, index) => {
    const checked = validateInteraction(input, store.interactionTypes, now);
    if (!checked.ok) {
      results[index] = rejected(index, typeof input.eventId === 'string' ? input.eventId : null, checked.code, checked.field, checked.message);
      return;
    }
    const first = seen.get(checked.row.eventId);
    if (first !== undefined) {
      results[index] = rejected(index, null, 'DUPLICATE_IN_BATCH', 'eventId', `the same event already appears at index ${first} of this batch`);
      return;
    }
    seen.set(checked.row.eventId, index);
    valid.push({ index, row: checked.row });
  });
  const create = (options.unknownReferences ?? 'create') === 'create';
  await store.db.transaction(async (tx) => {
    const customerIds = await resolveCustomerIds(tx, valid.map((v) => v.row.customerExternalId), create);
    const itemIds = await resolveItemIds(tx, valid.map((v) => v.row.itemExternalId), create);
    const writable: (InteractionRow & { customerId: number; itemId: number; index: number })[] = [];
    for (const { index, row } of valid) {
      const customerId = customerIds.get(row.customerExternalId);
      const itemId = itemIds.get(row.itemExternalId);
      const id = row.eventId.startsWith('e:') ? row.eventId.slice(2) : null;
      if (customerId === undefined) {
        results[index] = rejected(index, id, 'UNKNOWN_CUSTOMER', 'customerId', `customerId: no customer '${row.customerExternalId}' (send it with upsertCustomers first, or use unknownReferences: CREATE)`);
      } else if (itemId === undefined) {
        results[index] = rejected(index, id, 'UNKNOWN_ITEM', 'itemId', `itemId: no item '${row.itemExternalId}' (send it with upsertItems first, or use unknownReferences: CREATE)`);
      } else {
        writable.push({ ...row, customerId, itemId, index });
      }
    }
    const inserted = await insertInteractions(tx, writable, options.source ?? 'api');
    for (const row of writable) {
      results[row.index] = {
        index: row.index,
        id: row.eventId.startsWith('e:') ? row.eventId.slice(2) : row.eventId,
        status: inserted.has(row.eventId) ? 'CREATED' : 'UNCHANGED',
        error: null,
      };
    }
    if (inserted.size > 0) {
      await recordAudit(tx, {
        actor: options.actor,
        operation: 'interactions.track',
        targetType: 'interaction',
        details: { created: inserted.size, rejected: results.filter((r) => r.status === 'REJECTED').length },
      });
    }
  });
  return summarise(results);
}

export interface InteractionFilter {
  customerIds?: readonly string[] | null | undefined;
  itemIds?: readonly string[] | null | undefined;
  types?: readonly string[] | null | undefined;
  occurredAfter?: Date | null | undefined;
  occurredBefore?: Date | null | undefined;
}

export type InteractionOrder = 'OCCURRED_AT_DESC' | 'OCCURRED_AT_ASC';

/** Interactions, keyset-paginated on (occurred_at, id). Customer and item ids are external. */
export async function listInteractions(
  store: Pick<Store, 'db'>,
  request: PageRequest & { filter?: InteractionFilter | null | undefined; orderBy?: InteractionOrder | null | undefined; customerId?: number },
): Promise<InteractionPage> {
  const db = store.db;
  const limit = pageSize(request.first);
  const filter = request.filter;
  const conditions: SQL[] = [];
  if (request.customerId !== undefined) conditions.push(eq(interactions.customerId, request.customerId));
  if (filter?.customerIds) {
    conditions.push(inArray(interactions.customerId, db.select({ id: customers.id }).from(customers).where(inArray(customers.externalId, [...filter.customerIds]))));
  }
  if (filter?.itemIds) {
    conditions.push(inArray(interactions.itemId, db.select({ id: items.id }).from(items).where(inArray(items.externalId, [...filter.itemIds]))));
  }
  if (filter?.types) conditions.push(inArray(interactions.type, [...filter.types]));
  if (filter?.occurredAfter) conditions.push(gte(interactions.occurredAt, filter.occurredAfter));
  if (filter?.occurredBefore) conditions.push(lt(interactions.occurredAt, filter.occurredBefore));
  const ascending = request.orderBy === 'OCCURRED_AT_ASC';
  const after = request.after ? decodeKeyCursor('interaction', request.after) : undefined;
  const page = [...conditions];
  if (after) {
    const at = new Date(Number(after.key));
    if (Number.isNaN(at.getTime())) throw new DomainError('BAD_USER_INPUT', `after: expected a cursor returned by this list, got '${request.after}'`, 'after');
    page.push(ascending ? sql`(${interactions.occurredAt}, ${interactions.id}) > (${at.toISOString()}::timestamptz, ${after.id})` : sql`(${interactions.occurredAt}, ${interactions.id}) < (${at.toISOString()}::timestamptz, ${after.id})`);
  }
  const rows = await db
    .select()
    .from(interactions)
    .where(and(...page))
    .orderBy(ascending ? asc(interactions.occurredAt) : desc(interactions.occurredAt), ascending ? asc(interactions.id) : desc(interactions.id))
    .limit(limit + 1);
  const nodes = rows.slice(0, limit);
  return {
    nodes,
    cursors: nodes.map((row) => encodeKeyCursor('interaction', row.occurredAt.getTime(), row.id)),
    hasNextPage: rows.length > limit,
    hasPreviousPage: after !== undefined,
    totalCount: async () => {
      const [row] = await db.select({ n: count() }).from(interactions).where(and(...conditions));
      return row?.n ?? 0;
    },
  };
}

export function isRatingOutlier(row: Pick<InteractionRecord, 'type' | 'value'>): boolean {
  return row.type === 'rating' && (row.value === null || row.value < RATING_MIN || row.value > RATING_MAX);
}

import { items, recordAudit, type AuditActor, type Database } from '@clientele/db';
import { and, arrayContains, count, desc, eq, getTableColumns, ilike, inArray, lt, type SQL } from 'drizzle-orm';
import { checkBatchSize, rejected, summarise, validateBatch, type BatchResult, type RowResult, type ValidRow } from './batch.js';
import * as field from './fields.js';
import { decodeCursor, pageSize, toPage, type Page, type PageRequest } from './pagination.js';
import { upsertByExternalId } from './upsert.js';

export type ItemPage = Page<ItemRecord>;

export type ItemRecord = typeof items.$inferSelect;

export interface ItemInput {
  id: unknown;
  title?: unknown;
  categories?: unknown;
  price?: unknown;
  currency?: unknown;
  inStock?: unknown;
  attributes?: unknown;
}

const CHECKS = {
  categories: field.categories,
  price: field.money,
  currency: field.currencyCode,
  inStock: field.bool,
  attributes: field.attributes,
} as const;

export function validateItem(input: ItemInput, index: number): ValidRow | RowResult {
  const id = field.externalId(input.id);
  if (!id.ok) return rejected(index, null, 'INVALID_VALUE', 'id', `id: ${id.message}`);
  const values: Record<string, unknown> = { externalId: id.value };
  if (input.title !== undefined) {
    const title = field.optionalText(input.title, 500);
    if (!title.ok || title.value === null) {
      return rejected(index, id.value, 'INVALID_VALUE', 'title', `title: ${title.ok ? 'expected a non-empty title' : title.message}`);
    }
    values['title'] = title.value;
  }
  for (const [name, check] of Object.entries(CHECKS)) {
    const raw = (input as unknown as Record<string, unknown>)[name];
    if (raw === undefined) continue;
    const result = check(raw);
    if (!result.ok) return rejected(index, id.value, 'INVALID_VALUE', name, `${name}: ${result.message}`);
    values[name] = result.value;
  }
  return { index, id: id.value, values };
}

/** Creates or updates items by external id. A new item needs a title. */
export async function upsertItems(db: Database, inputs: readonly ItemInput[], actor: AuditActor): Promise<BatchResult> {
  checkBatchSize('items', inputs.length);
  const { valid, results } = validateBatch(inputs, validateItem);
  await db.transaction(async (tx) => {
    // Rows without a title can only update existing items. PostgreSQL checks NOT NULL on the
    // proposed row before resolving the conflict, so such rows carry the stored title along.
    const untitled = valid.filter((row) => row.values['title'] === undefined).map((row) => row.id);
    const storedTitles = new Map(
      untitled.length === 0
        ? []
        : (await tx.select({ id: items.externalId, title: items.title }).from(items).where(inArray(items.externalId, untitled))).map(
            (r) => [r.id, r.title] as const,
          ),
    );
    const writable = valid.filter((row) => {
      if (row.values['title'] !== undefined) return true;
      const title = storedTitles.get(row.id);
      if (title !== undefined) {
        row.values['title'] = title;
        return true;
      }
      results[row.index] = rejected(row.index, row.id, 'MISSING_FIELD', 'title', `title: required for a new item ('${row.id}' is not in the catalogue)`);
      return false;
    });
    await upsertByExternalId(tx, items, getTableColumns(items), items.externalId, writable, results);
    const summary = summarise(results);
    if (summary.createdCount + summary.updatedCount > 0) {
      await recordAudit(tx, {
        actor,
        operation: 'items.upsert',
        targetType: 'item',
        details: { created: summary.createdCount, updated: summary.updatedCount, rejected: summary.rejectedCount },
      });
    }
  });
  return summarise(results);
}

export async function getItem(db: Database, externalId: string): Promise<ItemRecord | null> {
  const [row] = await db.select().from(items).where(eq(items.externalId, externalId));
  return row ?? null;
}

export interface ItemFilter {
  ids?: readonly string[] | null | undefined;
  search?: string | null | undefined;
  category?: string | null | undefined;
  inStock?: boolean | null | undefined;
}

export async function listItems(
  db: Database,
  request: PageRequest & { filter?: ItemFilter | null | undefined },
): Promise<ItemPage> {
  const limit = pageSize(request.first);
  const conditions: SQL[] = [];
  const filter = request.filter;
  if (filter?.ids) conditions.push(inArray(items.externalId, [...filter.ids]));
  if (filter?.search) conditions.push(ilike(items.title, `%${filter.search.trim().replace(/[\\%_]/g, (c) => `\\${c}`)}%`));
  if (filter?.category) conditions.push(arrayContains(items.categories, [filter.category]));
  if (filter?.inStock !== undefined && filter?.inStock !== null) conditions.push(eq(items.inStock, filter.inStock));
  const after = request.after ? decodeCursor('item', request.after) : undefined;
  const pageConditions = after === undefined ? conditions : [...conditions, lt(items.id, after)];
  const rows = await db.select().from(items).where(and(...pageConditions)).orderBy(desc(items.id)).limit(limit + 1);
  return {
    ...toPage(rows, limit, 'item', (row) => row.id, after !== undefined),
    totalCount: async () => {
      const [row] = await db.select({ n: count() }).from(items).where(and(...conditions));
      return row?.n ?? 0;
    },
  };
}

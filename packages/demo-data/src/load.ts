import { customers, items, recordAudit, refreshStatistics, selectRows, type Database } from '@clientele/db';
import { count, param, sql } from 'drizzle-orm';
import type { ContactCipher } from '@clientele/privacy';
import { generateDemoData, INTERACTION_TYPES, type DemoData, type DemoOptions } from './generate.js';

/** Progress in the one shape used everywhere: `{stage, done, total}`. */
export interface Progress {
  stage: string;
  done: number;
  total: number;
}

export interface LoadResult {
  loaded: boolean;
  customers: number;
  items: number;
  interactions: number;
}

const CHUNK = 20_000;

/** True when the database holds no customers and no items. */
export async function isEmpty(db: Database): Promise<boolean> {
  const [c] = await db.select({ n: count() }).from(customers);
  const [i] = await db.select({ n: count() }).from(items);
  return (c?.n ?? 0) === 0 && (i?.n ?? 0) === 0;
}

/**
 * Generates the demo data set and writes it in one transaction: either all of it is there
 * afterwards or none (a crash mid-load leaves an empty database, and the next start retries).
 * Does nothing when the database already has customers or items, unless `force`.
 */
export async function loadDemoData(
  db: Database,
  cipher: ContactCipher,
  options: DemoOptions & { force?: boolean; onProgress?: (progress: Progress) => void } = {},
): Promise<LoadResult> {
  if (!options.force && !(await isEmpty(db))) {
    return { loaded: false, customers: 0, items: 0, interactions: 0 };
  }
  options.onProgress?.({ stage: 'generate', done: 0, total: 1 });
  const data: DemoData = generateDemoData(options);
  options.onProgress?.({ stage: 'generate', done: 1, total: 1 });
  const total = data.interactions.length;

  await db.transaction(async (tx) => {
    const customerRows = await selectRows<IdRow>(tx, sql`
      INSERT INTO ${customers} (external_id, name, email_ciphertext, email_index, country, attributes, created_at, updated_at)
      SELECT t.external_id, t.name, t.email_ciphertext, t.email_index, t.country, t.attributes, t.created_at, t.created_at
      FROM unnest(
        ${param(data.customers.map((c) => c.externalId))}::text[],
        ${param(data.customers.map((c) => c.name))}::text[],
        ${param(data.customers.map((c) => cipher.encrypt('email', c.email)))}::text[],
        ${param(data.customers.map((c) => cipher.blindIndex('email', c.email)))}::text[],
        ${param(data.customers.map((c) => c.country))}::text[],
        ${param(data.customers.map((c) => JSON.stringify(c.attributes)))}::jsonb[],
        ${param(data.customers.map((c) => c.signupAt.toISOString()))}::timestamptz[]
      ) AS t(external_id, name, email_ciphertext, email_index, country, attributes, created_at)
      ON CONFLICT (external_id) DO NOTHING
      RETURNING id, external_id`);
    const itemRows = await selectRows<IdRow>(tx, sql`
      INSERT INTO ${items} (external_id, title, categories, price, currency, in_stock)
      SELECT t.external_id, t.title, string_to_array(t.categories, '|'), t.price, 'GBP', t.in_stock
      FROM unnest(
        ${param(data.items.map((i) => i.externalId))}::text[],
        ${param(data.items.map((i) => i.title))}::text[],
        ${param(data.items.map((i) => i.categories.join('|')))}::text[],
        ${param(data.items.map((i) => i.price))}::numeric[],
        ${param(data.items.map((i) => i.inStock))}::boolean[]
      ) AS t(external_id, title, categories, price, in_stock)
      ON CONFLICT (external_id) DO NOTHING
      RETURNING id, external_id`);
    const customerId = idMap(customerRows);
    const itemId = idMap(itemRows);
    const customerIds = data.customers.map((c) => customerId.get(c.externalId) ?? null);
    const itemIds = data.items.map((i) => itemId.get(i.externalId) ?? null);

    const x = data.interactions;
    for (let from = 0; from < total; from += CHUNK) {
      const to = Math.min(total, from + CHUNK);
      const cust: number[] = [];
      const item: number[] = [];
      const type: string[] = [];
      const value: (number | null)[] = [];
      const quantity: (number | null)[] = [];
      const amount: (number | null)[] = [];
      const at: string[] = [];
      for (let i = from; i < to; i++) {
        const c = customerIds[x.customer[i] ?? -1];
        const it = itemIds[x.item[i] ?? -1];
        if (c === null || c === undefined || it === null || it === undefined) continue;
        cust.push(c);
        item.push(it);
        type.push(INTERACTION_TYPES[x.type[i] ?? 0] ?? 'view');
        const v = x.value[i] ?? Number.NaN;
        value.push(Number.isNaN(v) ? null : v);
        const q = x.quantity[i] ?? 0;
        quantity.push(q === 0 ? null : q);
        const a = x.amount[i] ?? Number.NaN;
        amount.push(Number.isNaN(a) ? null : a);
        at.push(new Date(x.occurredAt[i] ?? 0).toISOString());
      }
      // Into the live partition, where every write but a bulk import's goes. Demo rows carry no
      // event id, so there is nothing to deduplicate.
      await tx.execute(sql`
        INSERT INTO interactions_live (customer_id, item_id, type, value, quantity, amount, occurred_at, source)
        SELECT *, 'demo' FROM unnest(
          ${param(cust)}::bigint[], ${param(item)}::bigint[], ${param(type)}::text[],
          ${param(value)}::float8[], ${param(quantity)}::int[], ${param(amount)}::numeric[],
          ${param(at)}::timestamptz[])`);
      options.onProgress?.({ stage: 'interactions', done: to, total });
    }
    await recordAudit(tx, {
      actor: { type: 'system', name: 'demo-data' },
      operation: 'demo_data.load',
      details: { customers: data.customers.length, items: data.items.length, interactions: total },
    });
  });
  await refreshStatistics(db);
  return { loaded: true, customers: data.customers.length, items: data.items.length, interactions: total };
}

interface IdRow {
  id: number | string;
  external_id: string;
}

function idMap(rows: IdRow[]): Map<string, number> {
  return new Map(rows.map((row) => [row.external_id, Number(row.id)]));
}

import { readFileSync, existsSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { customers, interactions, items, selectRows, type Database } from '@clientele/db';
import { param, sql } from 'drizzle-orm';
import { seededRandom } from '../src/stats.js';

export const actor = { type: 'system' as const, name: 'segments-test' };

export interface SeedCustomer {
  id: string;
  name?: string | null;
  country?: string | null;
  attributes?: Record<string, unknown>;
  emailConsent?: boolean | null;
}

export interface SeedEvent {
  customer: string;
  item: string;
  type: string;
  quantity?: number | null;
  amount?: number | null;
  at: Date;
}

export interface SeedData {
  customers: SeedCustomer[];
  items: { id: string; categories?: string[] }[];
  events: SeedEvent[];
}

/** Writes customers, items and interactions straight into the tables (fast, for fixtures). */
export async function seed(db: Database, data: SeedData): Promise<void> {
  const customerRows = await selectRows<{ id: string | number; external_id: string }>(
    db,
    sql`INSERT INTO ${customers} (external_id, name, country, attributes, email_consent)
        SELECT * FROM unnest(${param(data.customers.map((c) => c.id))}::text[], ${param(data.customers.map((c) => c.name ?? null))}::text[],
                             ${param(data.customers.map((c) => c.country ?? null))}::text[],
                             ${param(data.customers.map((c) => JSON.stringify(c.attributes ?? {})))}::jsonb[],
                             ${param(data.customers.map((c) => c.emailConsent ?? null))}::boolean[])
        RETURNING id, external_id`,
  );
  const itemRows = await selectRows<{ id: string | number; external_id: string }>(
    db,
    sql`INSERT INTO ${items} (external_id, title, categories)
        SELECT t.id, t.id, string_to_array(t.categories, '|')
        FROM unnest(${param(data.items.map((i) => i.id))}::text[], ${param(data.items.map((i) => (i.categories ?? []).join('|')))}::text[]) AS t(id, categories)
        RETURNING id, external_id`,
  );
  const customerId = new Map(customerRows.map((r) => [r.external_id, Number(r.id)]));
  const itemId = new Map(itemRows.map((r) => [r.external_id, Number(r.id)]));
  const chunk = 20_000;
  for (let from = 0; from < data.events.length; from += chunk) {
    const part = data.events.slice(from, from + chunk);
    await db.execute(sql`
      INSERT INTO ${interactions} (customer_id, item_id, type, quantity, amount, occurred_at, source)
      SELECT c, i, t, q, a, o, 'test'
      FROM unnest(${param(part.map((e) => customerId.get(e.customer) ?? null))}::bigint[], ${param(part.map((e) => itemId.get(e.item) ?? null))}::bigint[],
                  ${param(part.map((e) => e.type))}::text[], ${param(part.map((e) => e.quantity ?? null))}::int[],
                  ${param(part.map((e) => e.amount ?? null))}::numeric[], ${param(part.map((e) => e.at.toISOString()))}::timestamptz[]) AS x(c, i, t, q, a, o)`);
  }
}

export const DAY = 86_400_000;

export interface PlantedGroup {
  name: string;
  count: number;
  /** Days from the last order to the reference date. */
  recency: number;
  orders: number;
  spendPerOrder: number;
  tenure: number;
}

/**
 * Customers in planted groups with distinct recency, frequency, spend and tenure (each
 * customer jittered around the group's values), for a reference date. Returns the data and
 * each customer's group.
 */
export function plantedData(groups: PlantedGroup[], reference: Date, seed = 7): { data: SeedData; groupOf: Map<string, number> } {
  const random = seededRandom(seed);
  const jitter = (value: number, spread = 0.15) => value * (1 + spread * (random() * 2 - 1));
  const data: SeedData = { customers: [], items: [{ id: 'sku-1', categories: ['home'] }, { id: 'sku-2', categories: ['garden', 'home'] }], events: [] };
  const groupOf = new Map<string, number>();
  groups.forEach((group, g) => {
    for (let i = 0; i < group.count; i++) {
      const id = `${group.name}-${i}`;
      groupOf.set(id, g);
      data.customers.push({ id });
      const orders = Math.max(1, Math.round(jitter(group.orders)));
      const last = jitter(group.recency);
      const first = Math.max(last, jitter(group.tenure, 0.05));
      for (let o = 0; o < orders; o++) {
        const daysAgo = orders === 1 ? last : last + ((first - last) * o) / (orders - 1);
        data.events.push({
          customer: id,
          item: o % 2 === 0 ? 'sku-1' : 'sku-2',
          type: 'purchase',
          quantity: 1,
          amount: Math.round(jitter(group.spendPerOrder) * 100) / 100,
          at: new Date(reference.getTime() - daysAgo * DAY),
        });
      }
    }
  });
  return { data, groupOf };
}

/** The shared data sets folder, or null (tests using it then skip with a message). */
export function datasetsFolder(): string | null {
  const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../..');
  const folder = path.resolve(root, '../shared/datasets');
  return existsSync(path.join(folder, 'online-retail-sample', 'OnlineRetail.csv')) ? folder : null;
}

/** Splits one CSV line (quoted fields with doubled quotes allowed). */
function csvFields(line: string): string[] {
  const fields: string[] = [];
  let current = '';
  let quoted = false;
  for (let i = 0; i < line.length; i++) {
    const ch = line[i];
    if (quoted) {
      if (ch === '"' && line[i + 1] === '"') {
        current += '"';
        i++;
      } else if (ch === '"') quoted = false;
      else current += ch;
    } else if (ch === '"') quoted = true;
    else if (ch === ',') {
      fields.push(current);
      current = '';
    } else current += ch;
  }
  fields.push(current);
  return fields;
}

/**
 * The Online Retail sample as the import preset maps it: each line with a customer id is a
 * purchase of StockCode by CustomerID (cancellations, invoices starting with C, as negative
 * quantities), amount = quantity × unit price.
 */
export function onlineRetailRows(file: string): SeedData {
  const lines = readFileSync(file, 'utf8').split(/\r?\n/).filter((l) => l.length > 0);
  const header = csvFields(lines[0] ?? '');
  const at = (name: string) => header.indexOf(name);
  const [inv, stock, qty, date, price, cust, country] = ['InvoiceNo', 'StockCode', 'Quantity', 'InvoiceDate', 'UnitPrice', 'CustomerID', 'Country'].map(at);
  const data: SeedData = { customers: [], items: [], events: [] };
  const seenCustomers = new Set<string>();
  const seenItems = new Set<string>();
  for (const line of lines.slice(1)) {
    const f = csvFields(line);
    const customer = (f[cust ?? -1] ?? '').trim().replace(/\.0$/, '');
    if (!customer) continue;
    const item = (f[stock ?? -1] ?? '').trim();
    const invoice = (f[inv ?? -1] ?? '').trim();
    const raw = Number(f[qty ?? -1]);
    const quantity = invoice.toUpperCase().startsWith('C') ? -Math.abs(raw) : raw;
    const amount = Math.round(quantity * Number(f[price ?? -1]) * 100) / 100;
    if (!seenCustomers.has(customer)) {
      seenCustomers.add(customer);
      data.customers.push({ id: customer, country: (f[country ?? -1] ?? '') === 'United Kingdom' ? 'GB' : null });
    }
    if (!seenItems.has(item)) {
      seenItems.add(item);
      data.items.push({ id: item });
    }
    data.events.push({ customer, item, type: 'purchase', quantity, amount, at: new Date(`${(f[date ?? -1] ?? '').replace(' ', 'T')}Z`) });
  }
  return data;
}

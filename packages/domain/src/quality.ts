import { customers, importRejections, interactions, items, selectRows, type Database } from '@clientele/db';
import { sql } from 'drizzle-orm';
import { RATING_MAX, RATING_MIN } from './interactions.js';

export interface Distribution {
  min: number;
  median: number;
  p90: number;
  max: number;
  mean: number;
}

export interface DataQualityReport {
  generatedAt: Date;
  customers: number;
  items: number;
  interactions: number;
  interactionsByType: { type: string; count: number }[];
  /** Import rejections by reason code (stored per import job). */
  rejectedRowsByReason: { code: string; count: number }[];
  /** Rows without a customer id seen by imports (they cannot be stored). */
  missingCustomerIds: number;
  /** Interactions identical in customer, item, type, time and values except for their event id. */
  duplicateEvents: number;
  /** Purchases with a quantity below zero (returns, Online Retail's cancelled invoices). */
  cancelledPurchases: number;
  /** Ratings outside the 0.5–5 scale or without a value. */
  ratingOutliers: number;
  /** Customers and items with no usable interaction; training leaves them out. */
  customersWithoutUsableInteractions: number;
  itemsWithoutUsableInteractions: number;
  stubCustomers: number;
  stubItems: number;
  /** Share of the customer × item matrix that holds at least one usable interaction. */
  density: number;
  interactionsPerCustomer: Distribution;
  interactionsPerItem: Distribution;
}

// A usable interaction: not a return and, for ratings, on the scale. Training uses these.
const USABLE = sql`(i.quantity IS NULL OR i.quantity > 0) AND (i.type <> 'rating' OR (i.value BETWEEN ${RATING_MIN} AND ${RATING_MAX}))`;

async function distribution(db: Database, column: 'customer_id' | 'item_id', population: 'customers' | 'items'): Promise<Distribution> {
  const table = population === 'customers' ? customers : items;
  const [row] = await selectRows<{ min: number | null; median: number | null; p90: number | null; max: number | null; mean: number | null }>(
    db,
    sql`WITH counts AS (
          SELECT coalesce(c.n, 0) AS n FROM ${table} t
          LEFT JOIN (SELECT ${sql.raw(column)} AS id, count(*) AS n FROM ${interactions} i WHERE ${USABLE} GROUP BY 1) c ON c.id = t.id)
        SELECT min(n)::float8 AS min, percentile_cont(0.5) WITHIN GROUP (ORDER BY n)::float8 AS median,
               percentile_cont(0.9) WITHIN GROUP (ORDER BY n)::float8 AS p90, max(n)::float8 AS max, avg(n)::float8 AS mean
        FROM counts`,
  );
  return { min: row?.min ?? 0, median: row?.median ?? 0, p90: row?.p90 ?? 0, max: row?.max ?? 0, mean: row?.mean ?? 0 };
}

/** The data-quality report: what is held, what was rejected, and what training will use. */
export async function dataQualityReport(db: Database): Promise<DataQualityReport> {
  const [totals] = await selectRows<Record<string, number>>(
    db,
    sql`SELECT
      (SELECT count(*) FROM ${customers})::int AS customers,
      (SELECT count(*) FROM ${items})::int AS items,
      (SELECT count(*) FROM ${interactions})::int AS interactions,
      (SELECT count(*) FROM ${interactions} WHERE type = 'purchase' AND quantity < 0)::int AS cancelled,
      (SELECT count(*) FROM ${interactions} WHERE type = 'rating' AND (value IS NULL OR value < ${RATING_MIN} OR value > ${RATING_MAX}))::int AS rating_outliers,
      (SELECT count(*) FROM ${customers} c WHERE NOT EXISTS (SELECT 1 FROM ${interactions} i WHERE i.customer_id = c.id AND ${USABLE}))::int AS idle_customers,
      (SELECT count(*) FROM ${items} t WHERE NOT EXISTS (SELECT 1 FROM ${interactions} i WHERE i.item_id = t.id AND ${USABLE}))::int AS idle_items,
      (SELECT count(*) FROM ${customers} WHERE attributes @> '{"stub": true}')::int AS stub_customers,
      (SELECT count(*) FROM ${items} WHERE attributes @> '{"stub": true}')::int AS stub_items,
      (SELECT count(*) FROM (SELECT DISTINCT customer_id, item_id FROM ${interactions} i WHERE ${USABLE}) p)::int AS pairs,
      (SELECT coalesce(sum(n - 1), 0) FROM (
         SELECT count(*) AS n FROM ${interactions}
         GROUP BY customer_id, item_id, type, occurred_at, value, quantity, amount HAVING count(*) > 1) d)::int AS duplicates,
      (SELECT count(*) FROM ${importRejections} WHERE code = 'MISSING_CUSTOMER_ID')::int AS missing_customer`,
  );
  const byType = await selectRows<{ type: string; count: number }>(db, sql`SELECT type, count(*)::int AS count FROM ${interactions} GROUP BY type ORDER BY count(*) DESC`);
  const rejections = await selectRows<{ code: string; count: number }>(db, sql`SELECT code, count(*)::int AS count FROM ${importRejections} GROUP BY code ORDER BY count(*) DESC`);
  const t = totals ?? {};
  const cells = (t['customers'] ?? 0) * (t['items'] ?? 0);
  return {
    generatedAt: new Date(),
    customers: t['customers'] ?? 0,
    items: t['items'] ?? 0,
    interactions: t['interactions'] ?? 0,
    interactionsByType: byType,
    rejectedRowsByReason: rejections,
    missingCustomerIds: t['missing_customer'] ?? 0,
    duplicateEvents: t['duplicates'] ?? 0,
    cancelledPurchases: t['cancelled'] ?? 0,
    ratingOutliers: t['rating_outliers'] ?? 0,
    customersWithoutUsableInteractions: t['idle_customers'] ?? 0,
    itemsWithoutUsableInteractions: t['idle_items'] ?? 0,
    stubCustomers: t['stub_customers'] ?? 0,
    stubItems: t['stub_items'] ?? 0,
    density: cells === 0 ? 0 : (t['pairs'] ?? 0) / cells,
    interactionsPerCustomer: await distribution(db, 'customer_id', 'customers'),
    interactionsPerItem: await distribution(db, 'item_id', 'items'),
  };
}

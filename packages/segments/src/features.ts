import { customers, interactions, items, selectRows, type Executor } from '@clientele/db';
import { sql, type SQL } from 'drizzle-orm';

// Behavioural features per customer, computed in SQL over a window that ends at a reference
// date. The definitions are versioned: a segmentation run or a score model stores the version
// it was computed with, so a later change of definition never silently mixes meanings.
//
// Definitions (version 1):
// - An order is a purchase with quantity null or > 0; purchase lines of one customer at the
//   same moment are one order (an invoice's lines share its timestamp).
// - A return is a purchase with a negative quantity; its (negative) amount nets off revenue.
// - The window is (reference − windowDays, reference]; engagement looks at the last 30 days.

/** Bumped whenever a definition below changes meaning. */
export const FEATURES_VERSION = 1;

export const FEATURE_NAMES = [
  'recency_days',
  'frequency',
  'monetary',
  'tenure_days',
  'avg_order_value',
  'distinct_categories',
  'top_category_share',
  'views_30d',
  'clicks_30d',
  'days_between_purchases',
] as const;

export type FeatureName = (typeof FEATURE_NAMES)[number];

/** How a feature is reshaped before standardising: `log` is log(1 + max(0, x)) for skewed counts and money. */
export type FeatureTransform = 'log' | 'none';

export interface FeatureDefinition {
  name: FeatureName;
  description: string;
  unit: 'days' | 'orders' | 'currency' | 'categories' | 'share' | 'events';
  transform: FeatureTransform;
  /** When the value is null, and what a model uses instead (the population median). */
  missing: string | null;
}

export const FEATURE_DEFINITIONS: readonly FeatureDefinition[] = [
  {
    name: 'recency_days',
    description: 'Days from the last order in the window to the reference date.',
    unit: 'days',
    transform: 'log',
    missing: 'no order in the window',
  },
  { name: 'frequency', description: 'Orders in the window.', unit: 'orders', transform: 'log', missing: null },
  {
    name: 'monetary',
    description: 'Revenue in the window: order amounts with returns netted off.',
    unit: 'currency',
    transform: 'log',
    missing: null,
  },
  {
    name: 'tenure_days',
    description: 'Days from the first interaction of any kind (no window) to the reference date.',
    unit: 'days',
    transform: 'none',
    missing: 'no interaction before the reference date',
  },
  {
    name: 'avg_order_value',
    description: 'Order revenue (before returns) divided by the number of orders in the window.',
    unit: 'currency',
    transform: 'log',
    missing: 'no order in the window',
  },
  {
    name: 'distinct_categories',
    description: 'Distinct item categories among the items ordered in the window.',
    unit: 'categories',
    transform: 'log',
    missing: null,
  },
  {
    name: 'top_category_share',
    description: "Share (0–1) of the order revenue on categorised items that went to the customer's own top category.",
    unit: 'share',
    transform: 'none',
    missing: 'no order of a categorised item in the window',
  },
  { name: 'views_30d', description: 'Item views in the 30 days up to the reference date.', unit: 'events', transform: 'log', missing: null },
  { name: 'clicks_30d', description: 'Clicks in the 30 days up to the reference date.', unit: 'events', transform: 'log', missing: null },
  {
    name: 'days_between_purchases',
    description: 'Mean days between consecutive orders in the window: (last − first) / (orders − 1).',
    unit: 'days',
    transform: 'log',
    missing: 'fewer than two orders in the window',
  },
];

const DEFINITION_BY_NAME = new Map(FEATURE_DEFINITIONS.map((d) => [d.name, d]));

export function featureDefinition(name: FeatureName): FeatureDefinition {
  const definition = DEFINITION_BY_NAME.get(name);
  if (!definition) throw new Error(`no definition for feature '${name}'`);
  return definition;
}

export function isFeatureName(name: unknown): name is FeatureName {
  return typeof name === 'string' && (FEATURE_NAMES as readonly string[]).includes(name);
}

export const DEFAULT_WINDOW_DAYS = 365;
export const MAX_WINDOW_DAYS = 3650;
const ENGAGEMENT_DAYS = 30;

/** Which customers a feature table covers. */
export type FeaturePopulation =
  /** Customers with at least one order in the window (what segmentation and scores use). */
  | { kind: 'ordered' }
  /** One customer, whatever their history. */
  | { kind: 'customer'; customerId: number };

export interface FeatureOptions {
  referenceDate: Date;
  windowDays: number;
}

/** Feature values of many customers: row i belongs to customerIds[i]; NaN marks a null. */
export interface FeatureTable {
  featuresVersion: number;
  referenceDate: Date;
  windowDays: number;
  customerIds: number[];
  names: readonly FeatureName[];
  /** Row-major, customerIds.length × names.length. */
  values: Float64Array;
}

const iso = (date: Date) => date.toISOString();

/**
 * The SELECT computing every feature for customers with an interaction up to the reference
 * date: one row per customer, `customer_id` plus one float8 column per feature (null where the
 * definition says so). `only` narrows it to one customer; `ordered` keeps those with an order
 * in the window.
 */
export function featureSelect(options: FeatureOptions, scope: { only?: number; ordered?: boolean } = {}): SQL {
  const ref = sql`${iso(options.referenceDate)}::timestamptz`;
  const start = sql`(${ref} - make_interval(days => ${options.windowDays}))`;
  const engagementStart = sql`(${ref} - make_interval(days => ${ENGAGEMENT_DAYS}))`;
  const only = scope.only === undefined ? sql`` : sql` AND customer_id = ${scope.only}::bigint`;
  const ordered = scope.ordered ? sql` WHERE o.customer_id IS NOT NULL` : sql``;
  return sql`
    WITH lines AS (
      SELECT customer_id, item_id, occurred_at, quantity, coalesce(amount, 0)::float8 AS amount
      FROM ${interactions}
      WHERE type = 'purchase' AND occurred_at > ${start} AND occurred_at <= ${ref}${only}
    ),
    orders AS (
      SELECT customer_id, occurred_at, sum(amount) AS amount
      FROM lines WHERE quantity IS NULL OR quantity > 0
      GROUP BY customer_id, occurred_at
    ),
    order_stats AS (
      SELECT customer_id, count(*)::float8 AS frequency, min(occurred_at) AS first_order,
             max(occurred_at) AS last_order, sum(amount) AS gross
      FROM orders GROUP BY customer_id
    ),
    returns AS (
      SELECT customer_id, sum(amount) AS returned FROM lines WHERE quantity < 0 GROUP BY customer_id
    ),
    categorised AS (
      SELECT l.customer_id, l.amount, it.categories
      FROM lines l JOIN ${items} it ON it.id = l.item_id
      WHERE (l.quantity IS NULL OR l.quantity > 0) AND cardinality(it.categories) > 0
    ),
    category_spend AS (
      SELECT customer_id, category, sum(amount) AS spend
      FROM categorised CROSS JOIN LATERAL unnest(categories) AS t(category)
      GROUP BY customer_id, category
    ),
    category_stats AS (
      SELECT s.customer_id, count(*)::float8 AS categories, max(s.spend) AS top_spend, min(c.total) AS total
      FROM category_spend s
      JOIN (SELECT customer_id, sum(amount) AS total FROM categorised GROUP BY customer_id) c USING (customer_id)
      GROUP BY s.customer_id
    ),
    engagement AS (
      SELECT customer_id, count(*) FILTER (WHERE type = 'view')::float8 AS views,
             count(*) FILTER (WHERE type = 'click')::float8 AS clicks
      FROM ${interactions}
      WHERE type IN ('view', 'click') AND occurred_at > ${engagementStart} AND occurred_at <= ${ref}${only}
      GROUP BY customer_id
    ),
    first_seen AS (
      SELECT customer_id, min(occurred_at) AS first_at FROM ${interactions}
      WHERE occurred_at <= ${ref}${only} GROUP BY customer_id
    )
    SELECT f.customer_id,
      extract(epoch FROM (${ref} - o.last_order))::float8 / 86400 AS recency_days,
      coalesce(o.frequency, 0) AS frequency,
      (coalesce(o.gross, 0) + coalesce(r.returned, 0))::float8 AS monetary,
      extract(epoch FROM (${ref} - f.first_at))::float8 / 86400 AS tenure_days,
      (o.gross / o.frequency)::float8 AS avg_order_value,
      coalesce(cs.categories, 0) AS distinct_categories,
      CASE WHEN cs.total > 0 THEN (cs.top_spend / cs.total)::float8 END AS top_category_share,
      coalesce(e.views, 0) AS views_30d,
      coalesce(e.clicks, 0) AS clicks_30d,
      CASE WHEN o.frequency > 1 THEN extract(epoch FROM (o.last_order - o.first_order))::float8 / 86400 / (o.frequency - 1) END
        AS days_between_purchases
    FROM first_seen f
    LEFT JOIN order_stats o ON o.customer_id = f.customer_id
    LEFT JOIN returns r ON r.customer_id = f.customer_id
    LEFT JOIN category_stats cs ON cs.customer_id = f.customer_id
    LEFT JOIN engagement e ON e.customer_id = f.customer_id${ordered}`;
}

type FeatureRow = { customer_id: number | string } & Record<FeatureName, number | null>;

/** Computes the feature table for the customers with an order in the window, in customer-id order. */
export async function computeFeatures(db: Executor, options: FeatureOptions): Promise<FeatureTable> {
  const rows = await selectRows<FeatureRow>(db, sql`SELECT * FROM (${featureSelect(options, { ordered: true })}) t ORDER BY customer_id`);
  const names = FEATURE_NAMES;
  const values = new Float64Array(rows.length * names.length);
  const customerIds = new Array<number>(rows.length);
  rows.forEach((row, i) => {
    customerIds[i] = Number(row.customer_id);
    names.forEach((name, j) => {
      const value = row[name];
      values[i * names.length + j] = value === null || value === undefined ? Number.NaN : Number(value);
    });
  });
  return { featuresVersion: FEATURES_VERSION, referenceDate: options.referenceDate, windowDays: options.windowDays, customerIds, names, values };
}

/** One customer's features (all null-or-zero for a customer with no history). */
export async function customerFeatures(db: Executor, customerId: number, options: FeatureOptions): Promise<Record<FeatureName, number | null>> {
  const [row] = await selectRows<FeatureRow>(db, featureSelect(options, { only: customerId }));
  const result = emptyFeatures();
  for (const name of FEATURE_NAMES) {
    const value = row?.[name];
    result[name] = value === null || value === undefined ? (DEFINITION_BY_NAME.get(name)?.missing === null ? 0 : null) : Number(value);
  }
  return result;
}

function emptyFeatures(): Record<FeatureName, number | null> {
  return {
    recency_days: null,
    frequency: null,
    monetary: null,
    tenure_days: null,
    avg_order_value: null,
    distinct_categories: null,
    top_category_share: null,
    views_30d: null,
    clicks_30d: null,
    days_between_purchases: null,
  };
}

/**
 * The reference date used when none is given: the time of the latest interaction, but never
 * later than now. On live data that is about now; on an imported history it is its end, so
 * "days since the last order" means something.
 */
export async function defaultReferenceDate(db: Executor): Promise<Date> {
  const [row] = await selectRows<{ at: Date | string | null }>(db, sql`SELECT least(max(occurred_at), now()) AS at FROM ${interactions}`);
  return row?.at ? new Date(row.at) : new Date();
}

/** Customers in the database (for messages). */
export async function customerCount(db: Executor): Promise<number> {
  const [row] = await selectRows<{ n: number }>(db, sql`SELECT count(*)::int AS n FROM ${customers}`);
  return row?.n ?? 0;
}

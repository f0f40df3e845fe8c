import { createTestDatabase, type TestDatabase } from '@clientele/db/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FEATURE_DEFINITIONS, FEATURE_NAMES, computeFeatures, customerFeatures, defaultReferenceDate } from '../src/index.js';
import { DAY, seed } from './helpers.js';

const R = new Date('2024-01-31T00:00:00Z');
const ago = (days: number) => new Date(R.getTime() - days * DAY);

describe('customer features', () => {
  let database: TestDatabase;
  const ids = new Map<string, number>();
  beforeAll(async () => {
    database = await createTestDatabase();
    await seed(database.db, {
      customers: [{ id: 'a' }, { id: 'b' }, { id: 'c' }],
      items: [
        { id: 'x', categories: ['shoes'] },
        { id: 'y', categories: ['shoes', 'sale'] },
        { id: 'z', categories: ['books'] },
        { id: 'plain' },
      ],
      events: [
        // a: two lines at the same moment are one order of 80; another order of 20; a return of 50.
        { customer: 'a', item: 'x', type: 'purchase', quantity: 1, amount: 50, at: ago(10) },
        { customer: 'a', item: 'y', type: 'purchase', quantity: 2, amount: 30, at: ago(10) },
        { customer: 'a', item: 'z', type: 'purchase', quantity: 1, amount: 20, at: ago(40) },
        { customer: 'a', item: 'x', type: 'purchase', quantity: -1, amount: -50, at: ago(5) },
        { customer: 'a', item: 'z', type: 'purchase', quantity: 1, amount: 100, at: ago(400) }, // outside the window
        { customer: 'a', item: 'x', type: 'view', at: ago(3) },
        { customer: 'a', item: 'x', type: 'view', at: ago(20) },
        { customer: 'a', item: 'x', type: 'view', at: ago(45) }, // older than 30 days
        { customer: 'a', item: 'y', type: 'click', at: ago(2) },
        { customer: 'a', item: 'y', type: 'purchase', quantity: 1, amount: 999, at: new Date(R.getTime() + DAY) }, // after the reference
        // b: only a view.
        { customer: 'b', item: 'x', type: 'view', at: ago(5) },
        // c: one order without quantity or amount, of an uncategorised item.
        { customer: 'c', item: 'plain', type: 'purchase', at: ago(1) },
      ],
    });
    const rows = await database.db.query.customers.findMany();
    for (const row of rows) ids.set(row.externalId, row.id);
  });
  afterAll(async () => {
    await database?.close();
  });

  it('computes each documented feature by hand-checked values', async () => {
    const table = await computeFeatures(database.db, { referenceDate: R, windowDays: 365 });
    // Only customers with an order in the window: a and c.
    expect(table.customerIds).toEqual([ids.get('a'), ids.get('c')]);
    const row = (i: number) => Object.fromEntries(table.names.map((name, j) => [name, table.values[i * table.names.length + j]]));
    const a = row(0);
    expect(a['recency_days']).toBeCloseTo(10, 9);
    expect(a['frequency']).toBe(2);
    expect(a['monetary']).toBeCloseTo(50, 9); // 80 + 20 − 50
    expect(a['tenure_days']).toBeCloseTo(400, 9);
    expect(a['avg_order_value']).toBeCloseTo(50, 9); // 100 / 2 orders, before returns
    expect(a['distinct_categories']).toBe(3); // shoes, sale, books
    expect(a['top_category_share']).toBeCloseTo(0.8, 9); // shoes 80 of 100
    expect(a['views_30d']).toBe(2);
    expect(a['clicks_30d']).toBe(1);
    expect(a['days_between_purchases']).toBeCloseTo(30, 9);
    const c = row(1);
    expect(c['frequency']).toBe(1);
    expect(c['monetary']).toBe(0);
    expect(c['avg_order_value']).toBe(0);
    expect(c['distinct_categories']).toBe(0);
    expect(Number.isNaN(c['top_category_share'])).toBe(true);
    expect(Number.isNaN(c['days_between_purchases'])).toBe(true);
  });

  it("gives a customer's profile values, null where the definition says so", async () => {
    const b = await customerFeatures(database.db, ids.get('b') ?? 0, { referenceDate: R, windowDays: 365 });
    expect(b).toEqual({
      recency_days: null,
      frequency: 0,
      monetary: 0,
      tenure_days: 5,
      avg_order_value: null,
      distinct_categories: 0,
      top_category_share: null,
      views_30d: 1,
      clicks_30d: 0,
      days_between_purchases: null,
    });
    // A 30-day window leaves a with one order and no return outside it.
    const a = await customerFeatures(database.db, ids.get('a') ?? 0, { referenceDate: R, windowDays: 30 });
    expect(a['frequency']).toBe(1);
    expect(a['monetary']).toBeCloseTo(30, 9);
  });

  it('documents every feature and defaults the reference date to the latest interaction (not later than now)', async () => {
    expect(FEATURE_DEFINITIONS.map((d) => d.name)).toEqual([...FEATURE_NAMES]);
    for (const d of FEATURE_DEFINITIONS) expect(d.description.length).toBeGreaterThan(10);
    // The purchase after R is in the future relative to R but not to now, so it is the latest.
    expect((await defaultReferenceDate(database.db)).toISOString()).toBe(new Date(R.getTime() + DAY).toISOString());
  });
});

import { existsSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { importFile, listRejections } from '../src/index.js';
import { actor, count, fixture, sql, type Fixture } from './helpers.js';

// The UCI Online Retail sample in ../shared/datasets (30,000 invoice lines, CC BY 4.0) through
// the `online-retail` preset. Figures checked against the file independently: 2,000 lines
// have no CustomerID; of the other 28,000, 616 are cancellations (invoices starting with C,
// negative quantities), 25 repeat an earlier line exactly; 3,569 customers, 2,872 stock codes.
const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../..');
const sample = path.resolve(repoRoot, '../shared/datasets/online-retail-sample/OnlineRetail.csv');
const present = existsSync(sample);
if (!present) console.warn(`online-retail import test skipped: ${sample} is absent`);

describe.skipIf(!present)('the Online Retail sample through the preset', () => {
  let f: Fixture;
  beforeAll(async () => {
    f = await fixture();
  });
  afterAll(async () => {
    await f?.close();
  });

  it('imports customers, items and purchases, rejects lines without a customer, and re-imports to no change', async () => {
    const first = await importFile(f.db, { path: sample, kind: 'online-retail', actor, store: f.store });
    expect(first).toMatchObject({
      rowsRead: 30_000,
      accepted: 28_000,
      rejected: 2_000,
      rejectionsByCode: { MISSING_CUSTOMER_ID: 2_000 },
      customers: { created: 3_569 },
      items: { created: 2_872 },
      interactions: { created: 28_000, unchanged: 0 },
      stubs: { customers: 0, items: 0 },
    });
    const [rejection] = await listRejections(f.db.db, first.jobId, { first: 1 });
    expect(rejection?.reason).toMatch(/^OnlineRetail\.csv line \d+, column CustomerID: expected a customer id, got an empty value/);

    const totals = await count(f.db, sql`SELECT count(*) AS n FROM interactions WHERE type = 'purchase'`);
    expect(totals).toBe(28_000);
    expect(await count(f.db, sql`SELECT count(*) AS n FROM interactions WHERE quantity < 0 AND amount < 0`)).toBe(616);
    expect(await count(f.db, sql`SELECT round(sum(amount) * 100) AS n FROM interactions`)).toBe(55_593_910);
    expect(await count(f.db, sql`SELECT count(*) AS n FROM customers`)).toBe(3_569);
    expect(await count(f.db, sql`SELECT count(*) AS n FROM customers WHERE country IS NULL AND attributes ? 'country_name'`)).toBe(12);
    expect(await count(f.db, sql`SELECT count(*) AS n FROM customers WHERE country = 'GB'`)).toBeGreaterThan(3_000);
    expect(await count(f.db, sql`SELECT count(*) AS n FROM customers WHERE country !~ '^[A-Z]{2}$'`)).toBe(0);
    expect(
      await count(
        f.db,
        sql`SELECT count(*) AS n FROM interactions i JOIN customers c ON c.id = i.customer_id JOIN items t ON t.id = i.item_id
            WHERE c.external_id = '12923' AND t.external_id = '23256' AND i.quantity = 2 AND i.amount = 8.30
              AND i.occurred_at = '2011-10-06T16:20:00Z'`,
      ),
    ).toBe(1);

    const again = await importFile(f.db, { path: sample, kind: 'online-retail', actor, store: f.store });
    expect(again).toMatchObject({ accepted: 28_000, interactions: { created: 0, unchanged: 28_000 }, customers: { created: 0 }, items: { created: 0 } });
    expect(await count(f.db, sql`SELECT count(*) AS n FROM interactions`)).toBe(28_000);
  });
});

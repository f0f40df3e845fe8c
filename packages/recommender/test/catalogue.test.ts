import { items } from '@clientele/db';
import { createTestDatabase, type TestDatabase } from '@clientele/db/testing';
import { eq, sql } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ModelServer } from '../src/index.js';

// The serving process's mirror of the catalogue: read in chunks, and within the refresh
// overlap only the rows whose stamp changed are fetched again.

describe('catalogue mirror of the model server', () => {
  let database: TestDatabase;
  let server: ModelServer;
  const count = 12_000; // more than two chunks

  beforeAll(async () => {
    database = await createTestDatabase();
    await database.db.execute(sql`INSERT INTO items (external_id, title, categories, in_stock)
      SELECT 'sku-' || n, 'Product ' || n, ARRAY['cat-' || (n % 7)], true FROM generate_series(1, ${count}) AS n`);
    server = new ModelServer(database, { pollMs: 60_000 });
  });

  afterAll(async () => {
    await server?.stop();
    await database?.close();
  });

  it('mirrors every row, then only the rows that changed, in chunks', async () => {
    await server.refreshCatalogue();
    const [first] = await database.db.select().from(items).where(eq(items.externalId, 'sku-1'));
    const [last] = await database.db.select().from(items).where(eq(items.externalId, `sku-${count}`));
    expect(server.item(first!.id)?.title).toBe('Product 1');
    expect(server.item(last!.id)?.title).toBe(`Product ${count}`);
    const untouched = server.item(last!.id);

    // Every row is within the overlap of the next refresh; two change, one is new.
    await database.db.update(items).set({ title: 'Renamed', inStock: false, updatedAt: sql`now() + interval '1 second'` }).where(eq(items.id, first!.id));
    await database.db.execute(sql`UPDATE items SET categories = ARRAY['clearance'], updated_at = now() + interval '1 second' WHERE external_id = 'sku-7000'`);
    await database.db.execute(sql`INSERT INTO items (external_id, title) VALUES ('sku-new', 'New')`);
    await server.refreshCatalogue();

    expect(server.item(first!.id)).toMatchObject({ title: 'Renamed', inStock: false });
    const [moved] = await database.db.select().from(items).where(eq(items.externalId, 'sku-7000'));
    expect(server.item(moved!.id)?.categories).toEqual(['clearance']);
    const [added] = await database.db.select().from(items).where(eq(items.externalId, 'sku-new'));
    expect(server.item(added!.id)?.title).toBe('New');
    // An unchanged row was not fetched and mapped again: the mirror holds the same object.
    expect(server.item(last!.id)).toBe(untouched);
  });
});

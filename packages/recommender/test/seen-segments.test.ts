import { createTestDatabase, type TestDatabase } from '@clientele/db/testing';
import { sql } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ModelServer } from '../src/index.js';
import { activateSynthetic, syntheticArtifact } from './synthetic.js';

// Seen items stay excluded when the interactions arrive after training, whether written live
// (followed by id) or in a partition attached by a bulk load, whose rows carry ids lower than
// the training snapshot's newest one.

const ITEMS = 30;
const F = 4;

describe('seen items from interactions after training', () => {
  let database: TestDatabase;
  let server: ModelServer;
  const item = new Map<string, number>();

  beforeAll(async () => {
    database = await createTestDatabase();
    const db = database.db;
    await db.execute(sql`INSERT INTO customers (external_id) VALUES ('c1'), ('c2')`);
    await db.execute(sql`INSERT INTO items (external_id, title) SELECT 'i' || n, 'Item ' || n FROM generate_series(0, ${ITEMS - 1}) AS n`);
    const users = (await db.execute(sql`SELECT id FROM customers ORDER BY external_id`)) as unknown as { rows: { id: string | number }[] };
    const rows = (await db.execute(sql`SELECT id, external_id FROM items ORDER BY id`)) as unknown as { rows: { id: string | number; external_id: string }[] };
    for (const r of rows.rows) item.set(r.external_id, Number(r.id));
    // Scores fall with the item number: c1's list is i0, i1, i2, … until items are seen.
    const itemFactors = new Float32Array(ITEMS * F);
    for (let j = 0; j < ITEMS; j++) itemFactors[j * F] = ITEMS - j;
    const userFactors = new Float32Array(2 * F).fill(0);
    userFactors[0] = 1;
    userFactors[F] = 1;
    const artifact = syntheticArtifact({
      factors: F,
      userFactors,
      itemFactors,
      userIds: Float64Array.from(users.rows.map((r) => Number(r.id))),
      itemIds: Float64Array.from(rows.rows.map((r) => Number(r.id))),
    });
    // Two interactions before training (ids 1 and 2), so the snapshot's newest id is 2.
    const [c1] = users.rows;
    await db.execute(sql`INSERT INTO interactions (customer_id, item_id, type, occurred_at) VALUES
      (${c1!.id}, ${item.get('i29')}, 'view', now()), (${c1!.id}, ${item.get('i28')}, 'view', now())`);
    await activateSynthetic(db, artifact, { customers: 2, items: ITEMS, maxInteractionId: 2 });
    server = new ModelServer(database, { pollMs: 100, catalogueMs: 60_000 });
  });

  afterAll(async () => {
    server?.stop();
    await database?.close();
  });

  const top3 = async () => (await server.recommend('c1', 3)).items.map((r) => [...item].find(([, id]) => id === r.itemId)?.[0]);

  it('excludes items seen live and items in a partition attached by a bulk load', async () => {
    expect(await top3()).toEqual(['i0', 'i1', 'i2']);
    const db = database.db;
    // Live: a new row, with the next id.
    await db.execute(sql`INSERT INTO interactions (customer_id, item_id, type, occurred_at)
      SELECT id, ${item.get('i0')}, 'view', now() FROM customers WHERE external_id = 'c1'`);
    // Bulk: a partition loaded on its own with an id from before the snapshot, then attached.
    await db.execute(sql`CREATE TABLE interactions_bulk_7 (LIKE interactions INCLUDING DEFAULTS)`);
    await db.execute(sql`INSERT INTO interactions_bulk_7 (id, customer_id, item_id, type, occurred_at, segment)
      SELECT 1, id, ${item.get('i1')}, 'purchase', now(), 7 FROM customers WHERE external_id = 'c1'`);
    await db.execute(sql`ALTER TABLE interactions ATTACH PARTITION interactions_bulk_7 FOR VALUES IN (7)`);
    const deadline = Date.now() + 10_000;
    let got = await top3();
    while (got[0] !== 'i2' && Date.now() < deadline) {
      await new Promise((resolve) => setTimeout(resolve, 100));
      got = await top3();
    }
    expect(got).toEqual(['i2', 'i3', 'i4']);
  });
});

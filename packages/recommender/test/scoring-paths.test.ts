import { seededRandom } from '@clientele/compute';
import { createTestDatabase, type TestDatabase } from '@clientele/db/testing';
import { sql } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ModelServer } from '../src/index.js';
import { activateSynthetic, insertCustomersAndItems, syntheticArtifact } from './synthetic.js';

// A request that finds the server quiet is scored on the event loop; concurrent ones are
// batched on the native threads. Both paths must give the same lists, seen items excluded.

const CUSTOMERS = 24;
const ITEMS = 500;
const F = 8;

describe('the two scoring paths of the model server', () => {
  let database: TestDatabase;
  const servers: ModelServer[] = [];
  const customers = Array.from({ length: CUSTOMERS }, (_, i) => `c${i}`);
  let model: { userFactors: Float32Array; itemFactors: Float32Array; userIds: Float64Array; itemIds: Float64Array };

  beforeAll(async () => {
    database = await createTestDatabase();
    const db = database.db;
    const { userIds, itemIds } = await insertCustomersAndItems(db, CUSTOMERS, ITEMS);
    const random = seededRandom(11);
    const userFactors = Float32Array.from({ length: CUSTOMERS * F }, () => random() - 0.5);
    const itemFactors = Float32Array.from({ length: ITEMS * F }, () => random() - 0.5);
    // Every customer has seen a few items since training (the snapshot's newest id is 0).
    await db.execute(sql`INSERT INTO interactions (customer_id, item_id, type, occurred_at)
      SELECT c.id, i.id, 'view', now() FROM customers c JOIN items i ON (i.id + c.id) % 37 = 0`);
    model = {
      userFactors,
      itemFactors,
      userIds,
      itemIds,
    };
    await activateSynthetic(db, syntheticArtifact({ factors: F, ...model }), { customers: CUSTOMERS, items: ITEMS, maxInteractionId: 0 });
  });

  afterAll(async () => {
    for (const s of servers) await s.stop();
    await database?.close();
  });

  const serve = (options: ConstructorParameters<typeof ModelServer>[1]) => {
    const server = new ModelServer(database, { pollMs: 60_000, catalogueMs: 60_000, ...options });
    servers.push(server);
    return server;
  };
  const lists = (results: { items: { itemId: number; score: number }[] }[]) => results.map((r) => r.items.map((i) => [i.itemId, i.score]));

  it('gives the same lists scored alone on the event loop and batched on native threads', async () => {
    const quiet = serve({ inlineAfterIdleMs: 0 });
    await quiet.start();
    const alone = [];
    for (const c of customers) alone.push(await quiet.recommend(c, 10));
    expect(quiet.stats.inline).toBe(CUSTOMERS);
    expect(quiet.stats.batches).toBe(0);

    const batched = serve({ inlineAfterIdleMs: Number.POSITIVE_INFINITY });
    await batched.start();
    const together = await Promise.all(customers.map((c) => batched.recommend(c, 10)));
    expect(batched.stats.inline).toBe(0);
    expect(batched.stats.requests).toBe(CUSTOMERS);
    expect(batched.stats.batches).toBeLessThan(CUSTOMERS);

    expect(lists(together)).toEqual(lists(alone));
    // Seen items (here all interactions since training) are excluded on both paths.
    expect(alone.every((r) => r.items.length === 10)).toBe(true);
    const pairs = (await database.db.execute(sql`SELECT c.external_id AS customer, i.item_id AS item FROM interactions i JOIN customers c ON c.id = i.customer_id`)) as unknown as { rows: { customer: string; item: number | string }[] };
    const seen = new Set(pairs.rows.map((r) => `${r.customer}:${Number(r.item)}`));
    expect(seen.size).toBeGreaterThan(CUSTOMERS);
    // Without the exclusion some of them would be listed: the same scoring, seen items kept.
    const withSeen = await Promise.all(customers.map((c) => quiet.recommend(c, 10, { excludeSeen: false })));
    const listedSeen = (lists: { customerId: string; items: { itemId: number }[] }[]) => lists.flatMap((r) => r.items.filter((i) => seen.has(`${r.customerId}:${i.itemId}`)));
    expect(listedSeen(withSeen).length).toBeGreaterThan(0);
    expect(listedSeen(alone)).toEqual([]);
    expect(listedSeen(together)).toEqual([]);
  });

  it('holds an implicit model\'s item factors once: the rest of serving reads the scorer\'s pinned copy', async () => {
    const server = serve({});
    await server.start();
    type Held = { loaded: { model: object; items: { data: Float32Array; stride: number }; scorer: { itemFactors: Float32Array } } };
    const { loaded } = server as unknown as Held;
    expect('itemFactors' in loaded.model).toBe(false);
    expect(loaded.items.data).toBe(loaded.scorer.itemFactors);
    expect(loaded.items.stride).toBe(F);
    expect(loaded.items.data).toEqual(model.itemFactors);
  });

  it('mixes the paths under a burst without changing a list', async () => {
    const reference = serve({ inlineAfterIdleMs: 0 });
    const alone = [];
    for (const c of customers) alone.push(await reference.recommend(c, 5));
    const server = serve({});
    const burst = await Promise.all(customers.map((c) => server.recommend(c, 5)));
    // The first request found the server quiet; how the rest split depends on timing.
    expect(server.stats.inline).toBeGreaterThanOrEqual(1);
    expect(server.stats.inline + server.stats.requests).toBe(CUSTOMERS);
    expect(lists(burst)).toEqual(lists(alone));
  });
  it('scores a request with the model it began with when another is activated meanwhile', async () => {
    const server = serve({ inlineAfterIdleMs: Number.POSITIVE_INFINITY });
    await server.start();
    const first = await server.recommend('c2', 5);
    // Hold the next request after it has taken the loaded model, and activate another model
    // (the same items in reverse row order) before it is scored.
    let open = () => undefined as void;
    const gate = new Promise<void>((resolve) => (open = resolve));
    const patched = server as unknown as { customerRow: (...a: unknown[]) => Promise<number | null> };
    const customerRow = patched.customerRow.bind(server);
    patched.customerRow = async (...a) => {
      await gate;
      return customerRow(...a);
    };
    const pending = server.recommend('c2', 5);
    const reversed = new Float32Array(ITEMS * F);
    for (let j = 0; j < ITEMS; j++) reversed.set(model.itemFactors.subarray((ITEMS - 1 - j) * F, (ITEMS - j) * F), j * F);
    const second = await activateSynthetic(database.db, syntheticArtifact({ factors: F, ...model, itemFactors: reversed }), { customers: CUSTOMERS, items: ITEMS, maxInteractionId: 0 });
    await server.refresh();
    open();
    const held = await pending;
    expect(held.modelVersion).toBe(first.modelVersion);
    expect(lists([held])).toEqual(lists([first]));
    // A request after the activation gets the new model (scores of other rows: another list).
    const after = await server.recommend('c2', 5);
    expect(after.modelVersion).toBe(second);
    expect(lists([after])).not.toEqual(lists([first]));
  });
});

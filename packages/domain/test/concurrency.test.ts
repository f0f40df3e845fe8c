import { customers, interactions } from '@clientele/db';
import { createTestDatabase, type TestDatabase } from '@clientele/db/testing';
import { ContactCipher, generateKeyringEntry } from '@clientele/privacy';
import { count } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { trackInteractions, upsertCustomers, type Store } from '../src/index.js';

// Partners send batches from several workers at once. Batches naming the same new customers
// and items, in different orders, must wait for each other rather than deadlock (on
// PostgreSQL; the embedded database runs them one after another).
const actor = { type: 'system' as const, name: 'test' };

function shuffled<T>(values: T[], seed: number): T[] {
  const out = [...values];
  let s = seed;
  for (let i = out.length - 1; i > 0; i--) {
    s = (s * 16807) % 2147483647;
    const j = s % (i + 1);
    [out[i], out[j]] = [out[j] as T, out[i] as T];
  }
  return out;
}

describe('concurrent batches', () => {
  let handle: TestDatabase;
  let store: Store;
  beforeAll(async () => {
    handle = await createTestDatabase();
    store = { db: handle.db, cipher: new ContactCipher([generateKeyringEntry('k1')]), interactionTypes: ['view', 'purchase'] };
  });
  afterAll(async () => {
    await handle?.close();
  });

  it('track interactions naming the same new customers and items without deadlocks', async () => {
    const ids = Array.from({ length: 1000 }, (_, i) => i);
    const batches = Array.from({ length: 8 }, (_, b) =>
      shuffled(ids, b + 1).map((i) => ({ eventId: `e-${b}-${i}`, customerId: `c${i}`, itemId: `i${i % 500}`, type: 'view', occurredAt: new Date('2025-03-01T00:00:00Z') })),
    );
    const results = await Promise.all(batches.map((batch) => trackInteractions(store, batch, { actor, source: 'test' })));
    expect(results.reduce((sum, r) => sum + r.createdCount, 0)).toBe(8 * 1000);
    const [people] = await handle.db.select({ n: count() }).from(customers);
    expect(people?.n).toBe(1000);
    const [rows] = await handle.db.select({ n: count() }).from(interactions);
    expect(rows?.n).toBe(8 * 1000);
  });

  it('upsert overlapping customer batches without deadlocks', async () => {
    const ids = Array.from({ length: 300 }, (_, i) => `u${i}`);
    const batches = Array.from({ length: 6 }, (_, b) => shuffled(ids, b + 11).map((id) => ({ id, name: `Name ${b}` })));
    const results = await Promise.all(batches.map((batch) => upsertCustomers(store, batch, actor)));
    for (const r of results) expect(r.rejectedCount).toBe(0);
    expect(results.reduce((sum, r) => sum + r.createdCount, 0)).toBe(300);
  });
});

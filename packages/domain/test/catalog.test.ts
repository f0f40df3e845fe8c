import { auditLog, customers } from '@clientele/db';
import { createTestDatabase, type TestDatabase } from '@clientele/db/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { testCipher } from '@clientele/privacy';
import { contactOf, getCustomer, listCustomers, listItems, upsertCustomers, upsertItems, type Store } from '../src/index.js';

const actor = { type: 'system' as const };

describe('customers and items', () => {
  let handle: TestDatabase;
  let store: Store;
  beforeAll(async () => {
    handle = await createTestDatabase();
    store = { db: handle.db, cipher: testCipher(), interactionTypes: ['view', 'purchase'] };
  });
  afterAll(async () => {
    await handle?.close();
  });

  it('upserts customers idempotently, with per-row statuses', async () => {
    const batch = [
      { id: 'c1', email: 'Ada@Example.com', name: 'Ada', country: 'gb' },
      { id: 'c2', name: 'Grace', attributes: { tier: 'gold' } },
    ];
    const first = await upsertCustomers(store, batch, actor);
    expect(first.results.map((r) => r.status)).toEqual(['CREATED', 'CREATED']);
    const again = await upsertCustomers(store, batch, actor);
    expect(again.results.map((r) => r.status)).toEqual(['UNCHANGED', 'UNCHANGED']);
    expect(again.unchangedCount).toBe(2);
    const stored = await getCustomer(handle.db, 'c1');
    expect(stored).toMatchObject({ country: 'GB', name: 'Ada' });
    expect(contactOf(store, stored!).email).toBe('ada@example.com');
    expect(stored?.emailCiphertext).not.toContain('ada');
    // Audit entries only for the batch that changed something.
    const audits = (await handle.db.select().from(auditLog)).filter((a) => a.operation === 'customers.upsert');
    expect(audits).toHaveLength(1);
  });

  it('keeps left-out fields, clears nulls, and reports updates', async () => {
    const result = await upsertCustomers(store, [{ id: 'c1', name: 'Ada Lovelace' }, { id: 'c2', attributes: null }], actor);
    expect(result.results.map((r) => r.status)).toEqual(['UPDATED', 'UPDATED']);
    expect(await getCustomer(handle.db, 'c1')).toMatchObject({ name: 'Ada Lovelace' });
    expect(contactOf(store, (await getCustomer(handle.db, 'c1'))!).email).toBe('ada@example.com');
    expect((await getCustomer(handle.db, 'c2'))?.attributes).toEqual({});
    const cleared = await upsertCustomers(store, [{ id: 'c1', email: null }], actor);
    expect(cleared.results[0]?.status).toBe('UPDATED');
    expect((await getCustomer(handle.db, 'c1'))?.emailCiphertext).toBeNull();
  });

  it('rejects bad rows with the field and reason, storing the good ones', async () => {
    const result = await upsertCustomers(
      store,
      [
        { id: 'c3', email: 'not an email' },
        { id: '' },
        { id: 'c4', country: 'United Kingdom' },
        { id: 'c5', name: 'Fine' },
        { id: 'c5', name: 'Again' },
      ],
      actor,
    );
    expect(result.results.map((r) => [r.status, r.error?.field])).toEqual([
      ['REJECTED', 'email'],
      ['REJECTED', 'id'],
      ['REJECTED', 'country'],
      ['CREATED', undefined],
      ['REJECTED', 'id'],
    ]);
    expect(result.results[0]?.error?.message).toBe("email: expected an address like name@example.com, got 'not an email'");
    expect(result.results[4]?.error?.code).toBe('DUPLICATE_IN_BATCH');
    expect(await getCustomer(handle.db, 'c3')).toBeNull();
    expect(await getCustomer(handle.db, 'c5')).toMatchObject({ name: 'Fine' });
  });

  it('refuses batches over 1,000 rows without writing', async () => {
    const before = (await handle.db.select().from(customers)).length;
    const rows = Array.from({ length: 1001 }, (_, i) => ({ id: `bulk-${i}` }));
    await expect(upsertCustomers(store, rows, actor)).rejects.toThrow('customers: expected at most 1000 rows per call, got 1001');
    expect((await handle.db.select().from(customers)).length).toBe(before);
  });

  it('pages customers newest first with opaque cursors and filters', async () => {
    // One batch is written in external-id order (so concurrent batches cannot deadlock): with
    // zero-padded ids the newest is p24.
    await upsertCustomers(store, Array.from({ length: 25 }, (_, i) => ({ id: `p${String(i).padStart(2, '0')}`, name: `Person ${i}` })), actor);
    const first = await listCustomers(store, { first: 10, filter: { search: 'person' } });
    expect(first.nodes).toHaveLength(10);
    expect(first.nodes[0]?.externalId).toBe('p24');
    expect(first.hasNextPage).toBe(true);
    expect(await first.totalCount?.()).toBe(25);
    const second = await listCustomers(store, { first: 10, after: first.cursors.at(-1), filter: { search: 'person' } });
    expect(second.nodes[0]?.externalId).toBe('p14');
    const third = await listCustomers(store, { first: 10, after: second.cursors.at(-1), filter: { search: 'person' } });
    expect(third.nodes).toHaveLength(5);
    expect(third.hasNextPage).toBe(false);
    await expect(listCustomers(store, { first: -1 })).rejects.toThrow('first: expected an integer from 0 to 500, got -1');
    await expect(listCustomers(store, { after: 'garbage' })).rejects.toThrow(/after: expected a cursor/);
    expect((await listCustomers(store, { first: 5000 })).nodes.length).toBeLessThanOrEqual(500);
    const byId = await listCustomers(store, { filter: { ids: ['p03', 'c1'] } });
    expect(byId.nodes.map((c) => c.externalId).sort()).toEqual(['c1', 'p03']);
  });

  it('creates items only with a title, and filters by category and stock', async () => {
    const result = await upsertItems(
      handle.db,
      [
        { id: 'i1', title: 'Lamp', categories: ['home', 'lighting'], price: 19.5, currency: 'gbp' },
        { id: 'i2', price: 3 },
        { id: 'i3', title: 'Mug', categories: ['home'], price: -2 },
        { id: 'i4', title: 'Sold out', categories: ['home'], inStock: false },
      ],
      actor,
    );
    expect(result.results.map((r) => r.status)).toEqual(['CREATED', 'REJECTED', 'REJECTED', 'CREATED']);
    expect(result.results[1]?.error).toMatchObject({ code: 'MISSING_FIELD', field: 'title' });
    expect(result.results[2]?.error?.message).toBe('price: expected zero or more, got -2');
    const update = await upsertItems(handle.db, [{ id: 'i1', price: 17 }], actor);
    expect(update.results[0]?.status).toBe('UPDATED');
    const lighting = await listItems(handle.db, { filter: { category: 'lighting' } });
    expect(lighting.nodes.map((i) => [i.externalId, i.price, i.currency])).toEqual([['i1', '17.00', 'GBP']]);
    const inStock = await listItems(handle.db, { filter: { category: 'home', inStock: true } });
    expect(inStock.nodes.map((i) => i.externalId)).toEqual(['i1']);
  });
});

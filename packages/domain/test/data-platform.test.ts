import { execFileSync } from 'node:child_process';
import { auditLog, consentEvents, customers, interactions } from '@clientele/db';
import { createTestDatabase, type TestDatabase } from '@clientele/db/testing';
import { ContactCipher, generateKeyringEntry } from '@clientele/privacy';
import { count, eq } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  contactOf,
  dataQualityReport,
  eraseCustomer,
  exportCustomer,
  findDuplicateCustomers,
  getCustomer,
  listCustomers,
  listInteractions,
  mergeCustomers,
  rotateContactEncryption,
  trackInteractions,
  upsertCustomers,
  upsertItems,
  type Store,
} from '../src/index.js';

const actor = { type: 'system' as const, name: 'test' };
const k1 = generateKeyringEntry('k1');
const k2 = generateKeyringEntry('k2');

describe('data platform', () => {
  let handle: TestDatabase;
  let store: Store;
  beforeAll(async () => {
    handle = await createTestDatabase();
    store = { db: handle.db, cipher: new ContactCipher([k1]), interactionTypes: ['view', 'click', 'add_to_cart', 'purchase', 'rating', 'wishlist'] };
    await upsertCustomers(store, [
      { id: 'ada', name: 'Ada Lovelace', email: 'Ada@Example.com', phone: '+44 20 7946 0958', consent: [{ channel: 'email', granted: true, source: 'checkout' }] },
      { id: 'grace', name: 'Grace Hopper', email: 'grace@example.com' },
    ], actor);
    await upsertItems(store.db, [
      { id: 'lamp', title: 'Lamp', categories: ['home'], price: 20 },
      { id: 'mug', title: 'Mug', categories: ['kitchen'], price: 5 },
    ], actor);
  });
  afterAll(async () => {
    await handle?.close();
  });

  it('tracks interactions idempotently, with and without event ids', async () => {
    const batch = [
      { eventId: 'ev-1', customerId: 'ada', itemId: 'lamp', type: 'view', occurredAt: '2026-01-01T10:00:00Z' },
      { customerId: 'ada', itemId: 'lamp', type: 'purchase', quantity: 2, amount: 40, occurredAt: '2026-01-01T10:05:00Z' },
      { customerId: 'grace', itemId: 'mug', type: 'rating', value: 4.5, occurredAt: '2026-01-02T09:00:00Z' },
      { customerId: 'grace', itemId: 'mug', type: 'wishlist', occurredAt: '2026-01-02T09:01:00Z' },
    ];
    const first = await trackInteractions(store, batch, { actor });
    expect(first.results.map((r) => r.status)).toEqual(['CREATED', 'CREATED', 'CREATED', 'CREATED']);
    expect(first.results[0]?.id).toBe('ev-1');
    const again = await trackInteractions(store, batch, { actor });
    expect(again.results.map((r) => r.status)).toEqual(['UNCHANGED', 'UNCHANGED', 'UNCHANGED', 'UNCHANGED']);
    const [total] = await store.db.select({ n: count() }).from(interactions);
    expect(total?.n).toBe(4);
  });

  it('rejects bad interactions with specific reasons and nothing half-written', async () => {
    const result = await trackInteractions(
      store,
      [
        { customerId: 'ada', itemId: 'lamp', type: 'teleport', occurredAt: '2026-01-01T00:00:00Z' },
        { customerId: 'ada', itemId: 'lamp', type: 'rating', value: 7, occurredAt: '2026-01-01T00:00:00Z' },
        { customerId: 'ada', itemId: 'lamp', type: 'view', occurredAt: 'yesterday' },
        { customerId: 'ada', itemId: 'lamp', type: 'view', occurredAt: '2999-01-01T00:00:00Z' },
        { customerId: '', itemId: 'lamp', type: 'view', occurredAt: '2026-01-01T00:00:00Z' },
        { customerId: 'ada', itemId: 'lamp', type: 'purchase', quantity: 1.5, occurredAt: '2026-01-01T00:00:00Z' },
        { customerId: 'ada', itemId: 'lamp', type: 'purchase', amount: 'lots', occurredAt: '2026-01-01T00:00:00Z' },
      ],
      { actor },
    );
    expect(result.results.map((r) => r.error?.code)).toEqual([
      'UNKNOWN_TYPE', 'OUT_OF_RANGE', 'INVALID_VALUE', 'INVALID_VALUE', 'MISSING_CUSTOMER_ID', 'INVALID_VALUE', 'INVALID_VALUE',
    ]);
    expect(result.results[0]?.error?.message).toBe('type: expected one of view, click, add_to_cart, purchase, rating, wishlist, got "teleport"');
    expect(result.results[2]?.error?.message).toBe("occurredAt: expected an ISO-8601 date, got 'yesterday'");
    expect(result.results[3]?.error?.message).toMatch(/occurredAt: expected a date no later than tomorrow/);
  });

  it('creates stubs for unknown references, or rejects them, by option', async () => {
    const rejectedRun = await trackInteractions(store, [{ customerId: 'newbie', itemId: 'lamp', type: 'view', occurredAt: '2026-02-01T00:00:00Z' }], { actor, unknownReferences: 'reject' });
    expect(rejectedRun.results[0]?.error?.code).toBe('UNKNOWN_CUSTOMER');
    expect(await getCustomer(store.db, 'newbie')).toBeNull();
    const created = await trackInteractions(store, [{ customerId: 'newbie', itemId: 'kettle', type: 'view', occurredAt: '2026-02-01T00:00:00Z' }], { actor });
    expect(created.results[0]?.status).toBe('CREATED');
    expect((await getCustomer(store.db, 'newbie'))?.attributes).toEqual({ stub: true });
  });

  it('pages interactions by time with filters', async () => {
    const page = await listInteractions(store, { first: 2, filter: { customerIds: ['ada'] } });
    expect(page.nodes.map((n) => n.type)).toEqual(['purchase', 'view']);
    const purchases = await listInteractions(store, { filter: { types: ['purchase'], occurredAfter: new Date('2026-01-01T10:01:00Z') } });
    expect(purchases.nodes).toHaveLength(1);
    const ascending = await listInteractions(store, { first: 1, orderBy: 'OCCURRED_AT_ASC' });
    const next = await listInteractions(store, { first: 1, orderBy: 'OCCURRED_AT_ASC', after: ascending.cursors[0] });
    expect(next.nodes[0]!.occurredAt.getTime()).toBeGreaterThanOrEqual(ascending.nodes[0]!.occurredAt.getTime());
    expect(next.nodes[0]!.id).not.toBe(ascending.nodes[0]!.id);
  });

  it('records consent with its source and history, once per change', async () => {
    const ada = await getCustomer(store.db, 'ada');
    expect(ada).toMatchObject({ emailConsent: true, emailConsentSource: 'checkout' });
    await upsertCustomers(store, [{ id: 'ada', consent: [{ channel: 'email', granted: true, source: 'checkout' }] }], actor);
    const withdrawn = await upsertCustomers(store, [{ id: 'ada', consent: [{ channel: 'EMAIL', granted: false, source: 'unsubscribe-link' }] }], actor);
    expect(withdrawn.results[0]?.status).toBe('UPDATED');
    const history = await store.db.select().from(consentEvents).where(eq(consentEvents.customerId, ada!.id));
    expect(history.map((h) => [h.granted, h.source])).toEqual([[true, 'checkout'], [false, 'unsubscribe-link']]);
  });

  it('finds customers by exact email through the blind index and by attributes', async () => {
    const byEmail = await listCustomers(store, { filter: { search: 'GRACE@example.com' } });
    expect(byEmail.nodes.map((c) => c.externalId)).toEqual(['grace']);
    await upsertCustomers(store, [{ id: 'grace', attributes: { tier: 'gold', city: 'Arlington' } }], actor);
    const gold = await listCustomers(store, { filter: { attributes: { tier: 'gold' } } });
    expect(gold.nodes.map((c) => c.externalId)).toEqual(['grace']);
    const byName = await listCustomers(store, { orderBy: 'NAME_ASC', first: 1 });
    expect(byName.nodes[0]?.name).toBe('Ada Lovelace');
  });

  it('keeps contact data out of a database dump', async () => {
    let dump: string;
    if (handle.driver.kind === 'embedded') {
      const blob = await handle.driver.client.dumpDataDir('none');
      dump = Buffer.from(await blob.arrayBuffer()).toString('latin1');
      expect(dump).toContain('Ada Lovelace'); // the dump is readable: names are not encrypted
    } else {
      dump = execFileSync('pg_dump', ['--data-only', handle.url ?? ''], { encoding: 'utf8', maxBuffer: 64 * 1024 * 1024 });
      expect(dump).toContain('Ada Lovelace');
    }
    for (const secret of ['ada@example.com', 'grace@example.com', '2079460958', '7946']) expect(dump).not.toContain(secret);
  });

  it('rotates the encryption key: old rows are re-encrypted and remain findable', async () => {
    const rotated: Store = { ...store, cipher: new ContactCipher([k2, k1]) };
    // Before rotation, lookups still work through the old key's index.
    expect((await listCustomers(rotated, { filter: { email: 'grace@example.com' } })).nodes).toHaveLength(1);
    const rewritten = await rotateContactEncryption(rotated, { batchSize: 1 });
    expect(rewritten).toBe(2);
    expect(await rotateContactEncryption(rotated)).toBe(0);
    const onlyNew: Store = { ...store, cipher: new ContactCipher([k2]) };
    const grace = await getCustomer(onlyNew.db, 'grace');
    expect(contactOf(onlyNew, grace!).email).toBe('grace@example.com');
    expect((await listCustomers(onlyNew, { filter: { email: 'grace@example.com' } })).nodes).toHaveLength(1);
    store = onlyNew;
  });

  it('finds duplicates by normalised email and merges them, moving interactions', async () => {
    await upsertCustomers(store, [{ id: 'ada-2', email: 'ADA@example.com ', name: null }], actor);
    // ada's email was cleared by nothing; ada-2 shares it.
    const groups = await findDuplicateCustomers(store);
    const emailGroup = groups.find((g) => g.reason === 'email');
    expect(emailGroup?.customers.map((c) => c.externalId).sort()).toEqual(['ada', 'ada-2']);
    await trackInteractions(store, [{ customerId: 'ada-2', itemId: 'mug', type: 'view', occurredAt: '2026-03-01T00:00:00Z' }], { actor });
    const merged = await mergeCustomers(store, 'ada', ['ada-2'], actor);
    expect(merged.movedInteractions).toBe(1);
    expect(await getCustomer(store.db, 'ada-2')).toMatchObject({ externalId: 'ada' });
    // Later writes naming the old id reach the survivor.
    await trackInteractions(store, [{ customerId: 'ada-2', itemId: 'lamp', type: 'click', occurredAt: '2026-03-02T00:00:00Z' }], { actor });
    const adaInteractions = await listInteractions(store, { filter: { customerIds: ['ada'] } });
    expect(adaInteractions.nodes.map((n) => n.type)).toContain('click');
    await expect(mergeCustomers(store, 'ada', ['ada'], actor)).rejects.toThrow(/survivor itself/);
  });

  it('exports everything about a customer and erases them completely, with an audit trail', async () => {
    const exported = await exportCustomer(store, 'ada', actor);
    expect(exported['customer']).toMatchObject({ id: 'ada', email: 'ada@example.com', phone: '+442079460958' });
    expect((exported['interactions'] as unknown[]).length).toBeGreaterThanOrEqual(3);
    expect(exported['formerIds']).toEqual(['ada-2']);
    expect((exported['consentHistory'] as unknown[]).length).toBe(2);

    const erased = await eraseCustomer(store, 'ada', actor);
    expect(erased.interactions).toBeGreaterThanOrEqual(3);
    expect(await getCustomer(store.db, 'ada')).toBeNull();
    expect(await getCustomer(store.db, 'ada-2')).toBeNull();
    const left = await store.db.select({ n: count() }).from(interactions).innerJoin(customers, eq(customers.id, interactions.customerId)).where(eq(customers.externalId, 'ada'));
    expect(left[0]?.n).toBe(0);
    const audit = await store.db.select().from(auditLog).where(eq(auditLog.operation, 'customer.erase'));
    expect(audit).toHaveLength(1);
    await expect(eraseCustomer(store, 'ada', actor)).rejects.toThrow("customer 'ada' does not exist");
  });

  it('reports data quality', async () => {
    await trackInteractions(store, [
      { customerId: 'grace', itemId: 'lamp', type: 'purchase', quantity: -1, amount: -20, occurredAt: '2026-04-01T00:00:00Z' },
    ], { actor });
    const report = await dataQualityReport(store.db);
    expect(report.customers).toBe(2);
    expect(report.cancelledPurchases).toBe(1);
    expect(report.stubCustomers).toBe(1);
    expect(report.stubItems).toBe(1);
    expect(report.interactionsByType.find((t) => t.type === 'wishlist')?.count).toBe(1);
    expect(report.customersWithoutUsableInteractions).toBe(0);
    expect(report.density).toBeGreaterThan(0);
    expect(report.interactionsPerCustomer.max).toBeGreaterThanOrEqual(report.interactionsPerCustomer.median);
  });
});

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestApp, type TestApp } from './helpers.js';

describe('data platform over GraphQL', () => {
  let app: TestApp;
  let write: string;
  let read: string;
  let admin: string;
  beforeAll(async () => {
    app = await startTestApp();
    [write, read, admin] = await Promise.all([app.key(['write']), app.key(['read']), app.key(['admin', 'read'])]);
    await app.graphql(
      `mutation($c: [CustomerInput!]!) { upsertCustomers(customers: $c) { createdCount } }`,
      { key: write, variables: { c: [{ id: 'c1', name: 'Ada', email: 'ada@example.com', consent: [{ channel: 'EMAIL', granted: true, source: 'signup' }] }] } },
    );
  });
  afterAll(async () => {
    await app?.close();
  });

  it('tracks interactions (stubs by default, rejection on request) and shows them on the profile', async () => {
    const track = `mutation($x: [InteractionInput!]!, $u: UnknownReferences) { trackInteractions(interactions: $x, unknownReferences: $u) { createdCount unchangedCount rejectedCount results { status error { code field message } } } }`;
    const rows = [
      { eventId: 'o-1', customerId: 'c1', itemId: 'sku-1', type: 'purchase', quantity: 2, amount: 19.5, occurredAt: '2026-05-01T10:00:00Z' },
      { customerId: 'c1', itemId: 'sku-2', type: 'view', occurredAt: '2026-05-01T09:00:00Z' },
    ];
    const first = await app.graphql(track, { key: write, variables: { x: rows } });
    expect(first.body.data?.['trackInteractions']).toMatchObject({ createdCount: 2, rejectedCount: 0 });
    const again = await app.graphql(track, { key: write, variables: { x: rows } });
    expect(again.body.data?.['trackInteractions']).toMatchObject({ createdCount: 0, unchangedCount: 2 });
    const strict = await app.graphql(track, { key: write, variables: { u: 'REJECT', x: [{ customerId: 'ghost', itemId: 'sku-1', type: 'view', occurredAt: '2026-05-01T09:00:00Z' }] } });
    expect(strict.body.data?.['trackInteractions']).toMatchObject({ rejectedCount: 1, results: [{ error: { code: 'UNKNOWN_CUSTOMER', field: 'customerId' } }] });

    const profile = await app.graphql(
      `{ customer(id: "c1") { id email consent { email { granted source } } interactions(first: 5) { totalCount nodes { id type quantity amount item { id title } } } } }`,
      { key: read },
    );
    expect(profile.body.data?.['customer']).toEqual({
      id: 'c1',
      email: 'ada@example.com',
      consent: { email: { granted: true, source: 'signup' } },
      interactions: {
        totalCount: 2,
        nodes: [
          { id: 'o-1', type: 'purchase', quantity: 2, amount: 19.5, item: { id: 'sku-1', title: 'sku-1' } },
          expect.objectContaining({ type: 'view', item: { id: 'sku-2', title: 'sku-2' } }),
        ],
      },
    });
  });

  it('records reads of personal data in the audit log, and only admins read the log', async () => {
    await app.graphql('{ customers(first: 5) { nodes { id email } } }', { key: read });
    const denied = await app.graphql('{ auditLog { totalCount } }', { key: read });
    expect(denied.body.errors?.[0]?.extensions?.code).toBe('FORBIDDEN');
    const log = await app.graphql('{ auditLog(filter: { operation: "customers.read_personal_data" }) { nodes { actorType targetId details } } }', { key: admin });
    const nodes = (log.body.data?.['auditLog'] as { nodes: { actorType: string; details: { ids: string[] } }[] }).nodes;
    expect(nodes.length).toBeGreaterThanOrEqual(2);
    expect(nodes.every((n) => n.actorType === 'api_key')).toBe(true);
    expect(nodes[0]?.details.ids).toContain('c1');
    // Reading only non-personal fields is not recorded.
    const before = nodes.length;
    await app.graphql('{ customers(first: 5) { nodes { id country } } }', { key: read });
    const after = await app.graphql('{ auditLog(filter: { operation: "customers.read_personal_data" }) { totalCount } }', { key: admin });
    expect((after.body.data?.['auditLog'] as { totalCount: number }).totalCount).toBe(before);
  });

  it('lets only admins export and erase, and erasure removes everything', async () => {
    const refused = await app.graphql('{ exportCustomer(id: "c1") }', { key: write });
    expect(refused.body.errors?.[0]?.extensions?.code).toBe('FORBIDDEN');
    const exported = await app.graphql('{ exportCustomer(id: "c1") }', { key: admin });
    expect(exported.body.data?.['exportCustomer']).toMatchObject({ customer: { id: 'c1', email: 'ada@example.com' }, interactions: [expect.anything(), expect.anything()] });
    const missing = await app.graphql('{ exportCustomer(id: "nobody") }', { key: admin });
    expect(missing.body.errors?.[0]).toMatchObject({ extensions: { code: 'NOT_FOUND' }, message: "customer 'nobody' does not exist" });

    const erased = await app.graphql('mutation { eraseCustomer(id: "c1") { id erasedInteractions } }', { key: admin });
    expect(erased.body.data?.['eraseCustomer']).toEqual({ id: 'c1', erasedInteractions: 2 });
    expect((await app.graphql('{ customer(id: "c1") { id } }', { key: read })).body.data?.['customer']).toBeNull();
    expect((await app.graphql('{ interactions { totalCount } }', { key: read })).body.data?.['interactions']).toEqual({ totalCount: 0 });
  });

  it('answers the data-quality report', async () => {
    const report = await app.graphql('{ dataQuality { customers items stubItems interactionsByType { key count } density interactionsPerItem { median max } } }', { key: read });
    expect(report.body.errors).toBeUndefined();
    expect(report.body.data?.['dataQuality']).toMatchObject({ stubItems: 2, items: 2 });
  });
});

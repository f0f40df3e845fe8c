import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestApp, type TestApp } from './helpers.js';

const UPSERT = `mutation Upsert($customers: [CustomerInput!]!) {
  upsertCustomers(customers: $customers) { createdCount rejectedCount results { index id status error { field message } } }
}`;
const READ = `query Read($id: ID!) { customer(id: $id) { id name email country attributes } }`;

describe('smoke: the real server over HTTP', () => {
  let app: TestApp;
  beforeAll(async () => {
    app = await startTestApp();
  });
  afterAll(async () => {
    await app?.close();
  });

  it('creates a customer with a write key and reads it back with a read key', async () => {
    const writeKey = await app.key(['write']);
    const readKey = await app.key(['read']);
    const write = await app.graphql(UPSERT, {
      key: writeKey,
      variables: { customers: [{ id: 'smoke-1', name: 'Ada Lovelace', email: 'ada@example.com', country: 'gb', attributes: { vip: true } }] },
    });
    expect(write.status).toBe(200);
    expect(write.body.errors).toBeUndefined();
    expect(write.body.data?.['upsertCustomers']).toMatchObject({ createdCount: 1, rejectedCount: 0, results: [{ index: 0, id: 'smoke-1', status: 'CREATED' }] });

    const read = await app.graphql(READ, { key: readKey, variables: { id: 'smoke-1' } });
    expect(read.body.data?.['customer']).toEqual({ id: 'smoke-1', name: 'Ada Lovelace', email: 'ada@example.com', country: 'GB', attributes: { vip: true } });
  });

  it('refuses every operation without credentials, even __typename', async () => {
    for (const query of ['{ __typename }', READ, UPSERT]) {
      const result = await app.graphql(query, { variables: { id: 'smoke-1', customers: [] } });
      expect(result.status).toBe(401);
      expect(result.body.errors?.[0]?.extensions?.code).toBe('UNAUTHENTICATED');
      expect(result.body.data ?? null).toBeNull();
    }
  });

  it('refuses an unknown or revoked key', async () => {
    const result = await app.graphql('{ __typename }', { key: 'clt_000000000000_notarealkeynotarealkeynotarealkeynotarealkeyx' });
    expect(result.status).toBe(401);
    expect(result.body.errors?.[0]?.message).toMatch(/unknown, revoked or expired/);
  });

  it('enforces scopes: read cannot write, write cannot administer', async () => {
    const readKey = await app.key(['read']);
    const writeKey = await app.key(['write', 'read']);
    const denied = await app.graphql(UPSERT, { key: readKey, variables: { customers: [{ id: 'nope' }] } });
    expect(denied.body.errors?.[0]?.extensions?.code).toBe('FORBIDDEN');
    expect(denied.body.errors?.[0]?.message).toMatch(/needs the 'write' scope/);
    expect((await app.graphql(READ, { key: readKey, variables: { id: 'nope' } })).body.data?.['customer']).toBeNull();

    const admin = await app.graphql('{ apiKeys { prefix } }', { key: writeKey });
    expect(admin.body.errors?.[0]?.extensions?.code).toBe('FORBIDDEN');
  });

  it('reports bad rows with the field and reason while storing good ones', async () => {
    const writeKey = await app.key(['write']);
    const result = await app.graphql(UPSERT, {
      key: writeKey,
      variables: { customers: [{ id: 'ok-1' }, { id: 'bad-1', email: 'nope' }] },
    });
    const payload = result.body.data?.['upsertCustomers'] as { results: { status: string; error: { field: string } | null }[] };
    expect(payload.results.map((r) => r.status)).toEqual(['CREATED', 'REJECTED']);
    expect(payload.results[1]?.error?.field).toBe('email');
  });

  it('lets an admin key issue and revoke keys, and the revoked key stops working', async () => {
    const adminKey = await app.key(['admin', 'read']);
    const created = await app.graphql(
      `mutation { createApiKey(input: { name: "Partner", scopes: [READ] }) { secret apiKey { id prefix scopes } } }`,
      { key: adminKey },
    );
    const payload = created.body.data?.['createApiKey'] as { secret: string; apiKey: { prefix: string; scopes: string[] } };
    expect(payload.apiKey.scopes).toEqual(['READ']);
    expect((await app.graphql('{ viewer { name } }', { key: payload.secret })).body.data?.['viewer']).toEqual({ name: 'Partner' });
    await app.graphql(`mutation { revokeApiKey(id: "${payload.apiKey.prefix}") { revokedAt } }`, { key: adminKey });
    expect((await app.graphql('{ viewer { name } }', { key: payload.secret })).status).toBe(401);
    const audit = await app.graphql('{ auditLog(first: 10, filter: { operation: "api_key.revoke" }) { totalCount nodes { actorName targetId } } }', { key: adminKey });
    expect(audit.body.data?.['auditLog']).toMatchObject({ totalCount: 1, nodes: [{ targetId: payload.apiKey.prefix }] });
  });

  it('answers health without credentials and metrics only with them', async () => {
    expect(await (await fetch(`${app.url}/healthz`)).json()).toEqual({ status: 'ok' });
    const ready = await fetch(`${app.url}/readyz`);
    expect(ready.status).toBe(200);
    expect(await ready.json()).toEqual({ status: 'ready', checks: { database: 'ok' } });
    expect((await fetch(`${app.url}/metrics`)).status).toBe(401);
    const key = await app.key(['read']);
    const metrics = await fetch(`${app.url}/metrics`, { headers: { authorization: `Bearer ${key}` } });
    expect(await metrics.text()).toMatch(/clientele_graphql_operations_total\{[^}]*outcome="ok"/);
  });
});

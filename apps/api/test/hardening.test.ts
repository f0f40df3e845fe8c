import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestApp, type TestApp } from './helpers.js';

describe('GraphQL hardening', () => {
  let app: TestApp;
  let key: string;
  beforeAll(async () => {
    app = await startTestApp({ CLIENTELE_GRAPHQL_MAX_DEPTH: '3' });
    key = await app.key(['read', 'write']);
  });
  afterAll(async () => {
    await app?.close();
  });

  it('rejects queries deeper than the limit', async () => {
    const ok = await app.graphql('{ customers { pageInfo { hasNextPage } } }', { key });
    expect(ok.body.errors).toBeUndefined();
    const result = await app.graphql('{ customers { edges { node { id } } } }', { key });
    expect(result.body.errors?.[0]?.message).toMatch(/depth/i);
    expect(result.body.data ?? null).toBeNull();
  });

  it('caps first at 500 and rejects malformed cursors with BAD_USER_INPUT', async () => {
    const result = await app.graphql('{ customers(after: "zzz") { totalCount } }', { key });
    expect(result.body.errors?.[0]).toMatchObject({ extensions: { code: 'BAD_USER_INPUT', field: 'after' } });
  });

  it('rejects a malformed DateTime with a specific message', async () => {
    const result = await app.graphql('{ customers(filter: { createdAfter: "yesterday" }) { totalCount } }', { key });
    expect(result.body.errors?.[0]?.message).toMatch(/DateTime: expected an ISO-8601 date-time/);
  });

});

describe('internal errors', () => {
  it('are masked, keeping details out of the response', async () => {
    const app = await startTestApp();
    const key = await app.key(['read']);
    // Warm the key cache, then take the database away under the running server.
    expect((await app.graphql('{ viewer { name } }', { key })).status).toBe(200);
    await app.services.database.close();
    const result = await app.graphql('{ customers { totalCount } }', { key });
    expect(result.body.errors?.[0]).toEqual({ message: 'Internal server error', path: ['customers'], extensions: { code: 'INTERNAL_SERVER_ERROR' } });
    expect(JSON.stringify(result.body)).not.toMatch(/pool|closed|PGlite|postgres/i);
    const ready = await fetch(`${app.url}/readyz`);
    expect(ready.status).toBe(503);
    await app.server.close();
    await app.database.close().catch(() => undefined);
  });
});

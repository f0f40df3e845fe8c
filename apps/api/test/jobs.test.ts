import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestApp, type TestApp } from './helpers.js';

describe('jobs over GraphQL', () => {
  let app: TestApp;
  beforeAll(async () => {
    app = await startTestApp();
    app.services.jobs.register('count-to', async (params, context) => {
      const n = Number(params['n']);
      for (let i = 1; i <= n; i++) {
        await new Promise((r) => setTimeout(r, 20));
        await context.progress({ stage: 'count', done: i, total: n, detail: { last: i } });
        if (context.signal.aborted) throw new Error('stopped');
      }
      return { reached: n };
    });
  });
  afterAll(async () => {
    await app?.close();
  });

  it('shows a job progressing to its result, and lets a write key cancel one', async () => {
    const read = await app.key(['read']);
    const write = await app.key(['write', 'read']);
    const quick = await app.services.jobs.enqueue('count-to', { n: 3 }, { actor: { type: 'system' } });
    await app.services.jobs.waitFor(quick.id, { timeoutMs: 20_000 });
    const shown = await app.graphql(`{ job(id: "${quick.id}") { kind status result progress { stage done total detail } attempts } }`, { key: read });
    expect(shown.body.data?.['job']).toEqual({ kind: 'count-to', status: 'COMPLETED', result: { reached: 3 }, progress: { stage: 'count', done: 3, total: 3, detail: { last: 3 } }, attempts: 1 });

    const long = await app.services.jobs.enqueue('count-to', { n: 500 }, { actor: { type: 'system' } });
    const denied = await app.graphql(`mutation { cancelJob(id: "${long.id}") { status } }`, { key: read });
    expect(denied.body.errors?.[0]?.extensions?.code).toBe('FORBIDDEN');
    await app.graphql(`mutation { cancelJob(id: "${long.id}") { status } }`, { key: write });
    const cancelled = await app.services.jobs.waitFor(long.id, { timeoutMs: 20_000 });
    expect(cancelled.status).toBe('cancelled');
    const listed = await app.graphql('{ jobs(kind: "count-to") { id status } }', { key: read });
    expect((listed.body.data?.['jobs'] as { status: string }[]).map((j) => j.status)).toEqual(['CANCELLED', 'COMPLETED']);
    const missing = await app.graphql('{ job(id: "00000000-0000-0000-0000-000000000000") { id } }', { key: read });
    expect(missing.body.data?.['job']).toBeNull();
  });
});

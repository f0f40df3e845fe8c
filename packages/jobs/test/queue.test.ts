import { jobs } from '@clientele/db';
import { createTestDatabase, type TestDatabase } from '@clientele/db/testing';
import { eq, sql } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { JobQueue, PermanentJobError } from '../src/index.js';

const actor = { type: 'system' as const, name: 'test' };

describe(`job queue (${process.env['DATABASE_URL'] ? 'pg-boss on PostgreSQL' : 'in-process on PGlite'})`, () => {
  let handle: TestDatabase;
  let queue: JobQueue;
  let flaky = 0;
  // Jobs of kind 'gate' wait until the test opens their gate (by key).
  const gates = new Map<string, () => void>();
  const open = async (key: string) => {
    await expect.poll(() => gates.has(key), { timeout: 20_000 }).toBe(true);
    gates.get(key)?.();
  };
  const warnings: string[] = [];
  const logger = { info: () => undefined, error: () => undefined, warn: (_obj: object, msg?: string) => void warnings.push(msg ?? '') };
  beforeAll(async () => {
    handle = await createTestDatabase();
    queue = new JobQueue(handle, { staleAfterMs: 2_000, pollMs: 100, logger });
    queue.register('gate', async (params) => {
      await new Promise<void>((resolve) => gates.set(String(params['key']), resolve));
      return { key: params['key'] };
    });
    queue.register('sum', async (params, context) => {
      const n = Number(params['n']);
      let total = 0;
      for (let i = 1; i <= n; i++) {
        total += i;
        await context.progress({ stage: 'sum', done: i, total: n });
      }
      return { total };
    });
    queue.register('slow', async (_params, context) => {
      for (let i = 0; i < 200; i++) {
        await new Promise((r) => setTimeout(r, 50));
        await context.progress({ stage: 'wait', done: i, total: 200 });
        if (context.signal.aborted) throw new Error('stopped');
      }
      return {};
    }, { singleton: true });
    queue.register('flaky', async () => {
      flaky++;
      if (flaky === 1) throw new Error('transient');
      return { attempts: flaky };
    }, { retryLimit: 2 });
    queue.register('bad', async () => {
      throw new PermanentJobError('TOO_LITTLE_DATA', 'needs at least 10 interactions, got 3');
    }, { retryLimit: 3 });
    await queue.startWorker();
  });
  afterAll(async () => {
    await queue?.stop();
    await handle?.close();
  });

  it('runs a job to completion with its result and final progress', async () => {
    const job = await queue.enqueue('sum', { n: 10 }, { actor });
    expect(job.status).toBe('queued');
    const done = await queue.waitFor(job.id, { timeoutMs: 30_000 });
    expect(done).toMatchObject({ status: 'completed', result: { total: 55 }, progress: { stage: 'sum', done: 10, total: 10 }, attempts: 1 });
  });

  it('queues a second request of a singleton kind onto the first, and cancels a running job', async () => {
    const first = await queue.enqueue('slow', {}, { actor });
    const second = await queue.enqueue('slow', {}, { actor });
    expect(second.id).toBe(first.id);
    await expect.poll(async () => (await queue.get(first.id))?.status, { timeout: 20_000 }).toBe('running');
    await queue.cancel(first.id, actor);
    const finished = await queue.waitFor(first.id, { timeoutMs: 20_000 });
    expect(finished.status).toBe('cancelled');
    const third = await queue.enqueue('slow', {}, { actor });
    expect(third.id).not.toBe(first.id);
    // Cancelled as a worker picks it up (on the embedded database the loop claims it at once).
    await queue.cancel(third.id, actor);
    expect(await queue.waitFor(third.id, { timeoutMs: 20_000 })).toMatchObject({ status: 'cancelled' });
  });

  it('retries a failure, but not a permanent one', async () => {
    const flakyJob = await queue.enqueue('flaky', {}, { actor });
    expect(await queue.waitFor(flakyJob.id, { timeoutMs: 30_000 })).toMatchObject({ status: 'completed', attempts: 2 });
    const bad = await queue.enqueue('bad', {}, { actor });
    expect(await queue.waitFor(bad.id, { timeoutMs: 30_000 })).toMatchObject({ status: 'failed', attempts: 1, error: 'needs at least 10 interactions, got 3' });
  });

  it('recovers a job whose worker died: retried while attempts remain, failed with the reason after', async () => {
    // A job left "running" by a process that no longer sends heartbeats.
    const [orphan] = await handle.db
      .insert(jobs)
      .values({ kind: 'sum', params: { n: 3 }, status: 'running', attempts: 1, maxAttempts: 2, heartbeatAt: new Date(Date.now() - 60_000), startedAt: new Date() })
      .returning();
    await queue.sweep();
    expect(await queue.waitFor(orphan!.id, { timeoutMs: 30_000 })).toMatchObject({ status: 'completed', result: { total: 6 }, attempts: 2 });

    const [dead] = await handle.db
      .insert(jobs)
      .values({ kind: 'sum', params: { n: 3 }, status: 'running', attempts: 2, maxAttempts: 2, heartbeatAt: new Date(Date.now() - 60_000), startedAt: new Date() })
      .returning();
    await queue.sweep();
    const [row] = await handle.db.select().from(jobs).where(eq(jobs.id, dead!.id));
    expect(row?.status).toBe('failed');
    expect(row?.error).toMatch(/worker stopped responding after 2 attempt/);
  });

  it('sends again a job left queued without a message (lost on the way), at the next sweep', async () => {
    // As if its process had recorded the job and then failed to hand it to pg-boss.
    const [lost] = await handle.db
      .insert(jobs)
      .values({ kind: 'sum', params: { n: 4 }, status: 'queued', maxAttempts: 2, createdAt: new Date(Date.now() - 60_000) })
      .returning();
    await queue.sweep();
    expect(await queue.waitFor(lost!.id, { timeoutMs: 30_000 })).toMatchObject({ status: 'completed', result: { total: 10 }, attempts: 1 });
  });

  it.runIf(process.env['DATABASE_URL'])('creates a pg-boss queue again when it has gone, and the job still runs', async () => {
    // pg-boss silently stores nothing for a queue it has no row for.
    await handle.db.execute(sql`DELETE FROM pgboss.job WHERE name = 'clientele.sum'`);
    await handle.db.execute(sql`SELECT pgboss.delete_queue('clientele.sum')`);
    const job = await queue.enqueue('sum', { n: 5 }, { actor });
    expect(await queue.waitFor(job.id, { timeoutMs: 30_000 })).toMatchObject({ status: 'completed', result: { total: 15 } });
  });

  it.runIf(process.env['DATABASE_URL'])('does not send again a queued job whose message is still waiting', async () => {
    const first = await queue.enqueue('gate', { key: 'busy' }, { actor });
    await expect.poll(async () => (await queue.get(first.id))?.status, { timeout: 20_000 }).toBe('running');
    // The kind's worker takes one message at a time: the second waits in pg-boss, queued.
    const second = await queue.enqueue('gate', { key: 'waiting' }, { actor });
    await handle.db.update(jobs).set({ createdAt: new Date(Date.now() - 60_000) }).where(eq(jobs.id, second.id));
    await queue.sweep();
    const messages = await handle.db.execute(sql`SELECT count(*)::int AS n FROM pgboss.job WHERE data->>'jobId' = ${second.id}`);
    expect((messages as unknown as { rows: { n: number }[] }).rows[0]?.n).toBe(1);
    await open('busy');
    await open('waiting');
    expect(await queue.waitFor(second.id, { timeoutMs: 30_000 })).toMatchObject({ status: 'completed', attempts: 1 });
  });

  it('records nothing from a run whose job was given to another worker meanwhile', async () => {
    const job = await queue.enqueue('gate', { key: 'overtaken' }, { actor });
    await expect.poll(async () => (await queue.get(job.id))?.status, { timeout: 20_000 }).toBe('running');
    // As if the sweeper had found its heartbeats late and another worker had claimed it.
    // (Its heartbeat an hour ahead, so the sweeper of this test leaves it alone meanwhile.)
    await handle.db.update(jobs).set({ attempts: 2, heartbeatAt: new Date(Date.now() + 3_600_000) }).where(eq(jobs.id, job.id));
    await open('overtaken');
    await expect.poll(() => warnings.some((w) => /given to another worker/.test(w)), { timeout: 20_000 }).toBe(true);
    const [row] = await handle.db.select().from(jobs).where(eq(jobs.id, job.id));
    expect(row).toMatchObject({ status: 'running', attempts: 2, result: null });
    await handle.db.update(jobs).set({ status: 'failed', finishedAt: new Date() }).where(eq(jobs.id, job.id));
  });

  it('refuses unknown kinds and lists jobs newest first', async () => {
    await expect(queue.enqueue('nope', {}, { actor })).rejects.toThrow(/unknown job kind 'nope'/);
    const listed = await queue.list({ kind: 'sum' });
    expect(listed.length).toBeGreaterThanOrEqual(3);
    expect(listed[0]!.createdAt.getTime()).toBeGreaterThanOrEqual(listed.at(-1)!.createdAt.getTime());
  });
});

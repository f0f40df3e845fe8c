import { createTestDatabase, type TestDatabase } from '@clientele/db/testing';
import { JobQueue } from '@clientele/jobs';
import { sql } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { enqueueTraining, registerTrainingJob } from '../src/index.js';

// Cancelling a training job through the queue, as `clientele jobs cancel` and the console do:
// queued, it never runs; running, it stops at its next progress report and stores no version.

const actor = { type: 'system', name: 'test' } as const;

describe('cancelling a training job', () => {
  let database: TestDatabase;
  let queue: JobQueue;

  beforeAll(async () => {
    database = await createTestDatabase();
    // 3,000 customers × 25 items of 400: a 128-factor model takes a while per iteration.
    await database.db.execute(sql`INSERT INTO customers (external_id) SELECT 'c' || n FROM generate_series(1, 3000) n`);
    await database.db.execute(sql`INSERT INTO items (external_id, title) SELECT 'i' || n, 'Item ' || n FROM generate_series(1, 400) n`);
    await database.db.execute(sql`INSERT INTO interactions (customer_id, item_id, type, occurred_at)
      SELECT c.id, i.id, 'view', now() - (c.id % 30) * interval '1 day'
      FROM customers c JOIN items i ON (i.id * 7 + c.id * 13) % 16 = 0`);
    queue = new JobQueue(database);
    registerTrainingJob(queue, database, {});
  });

  afterAll(async () => {
    await queue?.stop();
    await database?.close();
  });

  const versions = async () => Number(((await database.db.execute(sql`SELECT count(*)::int AS n FROM recommender_models`)) as unknown as { rows: { n: number }[] }).rows[0]?.n);

  it('cancels a queued job before it runs and a running one at its next progress report', async () => {
    const queued = await enqueueTraining(queue, { kind: 'implicit', factors: 8, iterations: 2 }, actor);
    expect((await queue.cancel(queued.id, actor)).status).toBe('cancelled');

    await queue.startWorker();
    const job = await enqueueTraining(queue, { kind: 'implicit', factors: 128, iterations: 200, split: { validationFraction: 0 } }, actor);
    // Wait until it is fitting (an iteration reported), then cancel.
    const seen = await queue.waitFor(job.id, { timeoutMs: 60_000, pollMs: 20, until: (j) => j.progress?.stage === 'train' });
    expect(seen.status).toBe('running');
    await queue.cancel(job.id, actor);
    const done = await queue.waitFor(job.id, { timeoutMs: 60_000 });
    expect(done.status).toBe('cancelled');
    expect((await queue.get(queued.id))?.status).toBe('cancelled');
    expect(await versions()).toBe(0);
  });
});

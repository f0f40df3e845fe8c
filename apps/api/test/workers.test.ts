import { spawn, type ChildProcess } from 'node:child_process';
import { JobQueue } from '@clientele/jobs';
import { enqueueTraining, registerTrainingJob } from '@clientele/recommender';
import { sql } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cliBin, cliWorkspace, runCli, type CliWorkspace } from './helpers.js';

// Training on `clientele worker` processes sharing one PostgreSQL database: the jobs run there
// (this process only enqueues), and a job whose worker is killed mid-run is retried by another.

const onPostgres = Boolean(process.env['DATABASE_URL']);
if (!onPostgres) console.log('workers.test.ts: skipped (worker processes share a PostgreSQL queue; set DATABASE_URL, as .ci/run does)');

const actor = { type: 'system', name: 'test' } as const;

describe.skipIf(!onPostgres)('training on worker processes', () => {
  let workspace: CliWorkspace;
  const workers: ChildProcess[] = [];

  /** Starts `clientele worker` and resolves once it says it is running. */
  const startWorker = () =>
    new Promise<ChildProcess>((resolve, reject) => {
      const child = spawn(process.execPath, [cliBin, 'worker'], { env: { PATH: process.env['PATH'], HOME: process.env['HOME'], NODE_ENV: 'test', LOG_LEVEL: 'warn', ...workspace.env }, stdio: ['ignore', 'ignore', 'pipe'] });
      workers.push(child);
      let said = '';
      child.stderr?.on('data', (chunk: Buffer) => {
        said += chunk.toString();
        if (said.includes('clientele worker: running')) resolve(child);
      });
      child.once('exit', (code) => reject(new Error(`worker exited with ${code} before it ran: ${said}`)));
    });

  beforeAll(async () => {
    workspace = await cliWorkspace('clientele-workers-');
    const demo = runCli(['demo-data', '--customers', '1500', '--items', '400', '--interactions', '40000'], workspace.env);
    expect(demo.status, demo.stderr).toBe(0);
  });

  afterAll(async () => {
    for (const w of workers) if (w.exitCode === null) w.kill('SIGKILL');
    await workspace?.close();
  });

  it('runs a training job on a worker and, when that worker is killed mid-run, on another', { timeout: 240_000 }, async () => {
    const database = workspace.database;
    if (!database) throw new Error('no PostgreSQL database');
    // This process enqueues and sweeps; it does not work on the queue. Heartbeats older than
    // 2 s count as a dead worker here (the workers' own default is 60 s).
    const queue = new JobQueue(database, { staleAfterMs: 2_000 });
    registerTrainingJob(queue, database, {});
    try {
      const first = await startWorker();
      const job = await enqueueTraining(queue, { kind: 'implicit', factors: 96, iterations: 60, split: { validationFraction: 0 } }, actor);
      const seen = await queue.waitFor(job.id, { timeoutMs: 60_000, pollMs: 50, until: (j) => j.progress?.stage === 'train' });
      expect(seen).toMatchObject({ status: 'running', attempts: 1 });
      first.kill('SIGKILL');
      await new Promise((r) => first.once('exit', r));
      await startWorker();
      // Past the 2 s: the sweep puts the job back on the queue and the other worker takes it.
      await new Promise((r) => setTimeout(r, 2_500));
      expect(await queue.sweep()).toBeGreaterThanOrEqual(1);
      const done = await queue.waitFor(job.id, { timeoutMs: 180_000 });
      expect(done).toMatchObject({ status: 'completed', attempts: 2 });
      const versions = (await database.db.execute(sql`SELECT count(*)::int AS n FROM recommender_models`)) as unknown as { rows: { n: number }[] };
      expect(versions.rows[0]?.n).toBe(1);
    } finally {
      await queue.stop();
    }
  });
});

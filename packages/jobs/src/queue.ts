import { hostname } from 'node:os';
import { jobs, recordAudit, selectRows, type DatabaseHandle } from '@clientele/db';
import { and, desc, eq, inArray, lt, sql, type SQL } from 'drizzle-orm';
import PgBoss from 'pg-boss';
import {
  PermanentJobError,
  type EnqueueOptions,
  type JobContext,
  type JobHandler,
  type JobKindOptions,
  type JobProgress,
  type JobRecord,
  type JobStatus,
} from './types.js';

// The jobs table is what clients see (status, progress, result). Execution goes through
// pg-boss on PostgreSQL, so any number of `clientele worker` processes on any machine share
// the work, or through an in-process loop on the embedded database (one process owns it).
// Either way a job's worker sends heartbeats; a job whose heartbeats stop (its process died)
// is retried or, out of attempts, failed with the reason — never left "running".

export interface QueueLogger {
  info(obj: object, msg?: string): void;
  warn(obj: object, msg?: string): void;
  error(obj: object, msg?: string): void;
}

const silent: QueueLogger = { info: () => undefined, warn: () => undefined, error: () => undefined };

interface Registration {
  handler: JobHandler;
  options: Required<JobKindOptions>;
}

export interface JobQueueOptions {
  logger?: QueueLogger;
  /** How long without a heartbeat before a running job counts as abandoned. */
  staleAfterMs?: number;
  /** How often the in-process loop looks for queued jobs (embedded). */
  pollMs?: number;
}

/** pg-boss queue names allow letters, digits, dashes, underscores, periods. */
const BOSS_QUEUE_PREFIX = 'clientele.';
const bossQueue = (kind: string) => `${BOSS_QUEUE_PREFIX}${kind}`;

/**
 * A pg-boss message only says "run job X"; claiming X (queued → running) is idempotent, so a
 * message whose delivery failed before the claim (a lost connection, an exhausted pool) is
 * simply delivered again a second later instead of leaving X queued for good.
 */
const MESSAGE_OPTIONS = { retryLimit: 5, retryDelay: 1 } as const;

/** A queued job older than this with no pending pg-boss message is sent again by the sweeper. */
const ORPHAN_AFTER_MS = 10_000;

function toRecord(row: typeof jobs.$inferSelect): JobRecord {
  return {
    id: row.id,
    kind: row.kind,
    status: row.status as JobStatus,
    params: row.params,
    result: row.result ?? null,
    error: row.error,
    progress: row.progress ?? null,
    attempts: row.attempts,
    createdBy: row.createdBy,
    createdAt: row.createdAt,
    startedAt: row.startedAt,
    finishedAt: row.finishedAt,
  };
}

export class JobNotFoundError extends Error {
  readonly code = 'NOT_FOUND';
}

/** Why a run's handler is told to stop when the sweeper has given its job to another worker. */
class RunTakenOverError extends Error {}

export class UnknownJobKindError extends Error {
  readonly code = 'BAD_USER_INPUT';
}

export class JobQueue {
  private readonly registrations = new Map<string, Registration>();
  private readonly logger: QueueLogger;
  private readonly staleAfterMs: number;
  private readonly pollMs: number;
  private boss: PgBoss | null = null;
  private bossStarting: Promise<PgBoss> | null = null;
  /** pg-boss queues known to exist, and kinds this process works on. */
  private readonly bossQueues = new Set<string>();
  private readonly bossWorkers = new Set<string>();
  private working = false;
  private readonly running = new Map<string, AbortController>();
  private timers: NodeJS.Timeout[] = [];
  private loop: Promise<void> | null = null;
  private wake: (() => void) | null = null;
  private readonly waiters = new Set<() => void>();
  /** Set by stop(): no new pg-boss instance is started after it (one would never be stopped). */
  private stopped = false;
  private sweeping: Promise<unknown> | null = null;
  private readonly retryTimers = new Set<NodeJS.Timeout>();

  constructor(
    private readonly database: DatabaseHandle,
    options: JobQueueOptions = {},
  ) {
    this.logger = options.logger ?? silent;
    this.staleAfterMs = options.staleAfterMs ?? 60_000;
    this.pollMs = options.pollMs ?? 1_000;
  }

  private get db() {
    return this.database.db;
  }

  register<P extends Record<string, unknown>, R extends Record<string, unknown>>(kind: string, handler: JobHandler<P, R>, options: JobKindOptions = {}): void {
    if (!/^[a-z][a-z0-9_-]{0,60}$/.test(kind)) throw new Error(`job kind '${kind}' must be lower-case letters, digits, - and _`);
    this.registrations.set(kind, {
      handler: handler as unknown as JobHandler,
      options: { singleton: options.singleton ?? false, retryLimit: options.retryLimit ?? 1 },
    });
    // A kind registered after the worker started (plugins, tests) gets its pg-boss worker now.
    if (this.working && this.database.kind === 'postgres') this.workKindRetrying(kind);
  }

  kinds(): string[] {
    return [...this.registrations.keys()];
  }

  /**
   * Records a job and hands it to the executor. For a singleton kind, a request while one with
   * the same key is queued or running returns that job instead of a second one.
   */
  async enqueue(kind: string, params: Record<string, unknown>, options: EnqueueOptions): Promise<JobRecord> {
    const registration = this.registrations.get(kind);
    if (!registration) throw new UnknownJobKindError(`unknown job kind '${kind}': expected one of ${this.kinds().join(', ') || '(none registered)'}`);
    const dedupeKey = registration.options.singleton ? (options.dedupeKey ?? 'default') : null;
    const createdBy = options.actor.name ?? options.actor.type;
    const record = await this.db.transaction(async (tx) => {
      const [row] = await tx
        .insert(jobs)
        .values({ kind, params, dedupeKey, createdBy, maxAttempts: registration.options.retryLimit + 1 })
        .onConflictDoNothing()
        .returning();
      if (row) {
        await recordAudit(tx, { actor: options.actor, operation: 'job.enqueue', targetType: 'job', targetId: row.id, details: { kind } });
        return { record: toRecord(row), created: true };
      }
      const [existing] = await tx
        .select()
        .from(jobs)
        .where(and(eq(jobs.kind, kind), eq(jobs.dedupeKey, dedupeKey ?? ''), inArray(jobs.status, ['queued', 'running'])));
      if (!existing) throw new Error('job neither inserted nor found');
      return { record: toRecord(existing), created: false };
    });
    if (record.created) {
      // The job is recorded: if handing it to pg-boss fails now, the sweeper sends it later,
      // so the caller gets its job (an error here would invite a duplicate by retrying).
      await this.dispatch(record.record).catch((error: unknown) => this.logger.error({ err: error, jobId: record.record.id }, 'could not hand the job to the queue yet; the sweeper will send it'));
    }
    return record.record;
  }

  private async dispatch(record: JobRecord): Promise<void> {
    if (this.database.kind !== 'postgres') {
      this.wake?.();
      return;
    }
    const name = bossQueue(record.kind);
    for (let attempt = 1; ; attempt++) {
      const boss = await this.ensureQueue(record.kind);
      // pg-boss stores nothing, without an error, for a queue it has no row for (deleted, or
      // never created in this database): the queue is made again and the message sent again.
      if (await boss.send(name, { jobId: record.id }, MESSAGE_OPTIONS)) return;
      this.bossQueues.delete(name);
      if (attempt === 2) throw new Error(`pg-boss stored no message for job ${record.id} on queue '${name}', even after creating the queue`);
    }
  }

  async get(id: string): Promise<JobRecord | null> {
    if (!/^[0-9a-f-]{36}$/i.test(id)) return null;
    const [row] = await this.db.select().from(jobs).where(eq(jobs.id, id));
    return row ? toRecord(row) : null;
  }

  async list(filter: { kind?: string | null; status?: JobStatus | null; limit?: number } = {}): Promise<JobRecord[]> {
    const conditions: SQL[] = [];
    if (filter.kind) conditions.push(eq(jobs.kind, filter.kind));
    if (filter.status) conditions.push(eq(jobs.status, filter.status));
    const rows = await this.db
      .select()
      .from(jobs)
      .where(and(...conditions))
      .orderBy(desc(jobs.createdAt))
      .limit(Math.min(filter.limit ?? 50, 500));
    return rows.map(toRecord);
  }

  /** Cancels a queued job at once, or asks a running one to stop at its next progress report. */
  async cancel(id: string, actor: EnqueueOptions['actor']): Promise<JobRecord> {
    let job = await this.get(id);
    if (!job) throw new JobNotFoundError(`job '${id}' does not exist`);
    if (job.status === 'queued') {
      const [cancelled] = await this.db
        .update(jobs)
        .set({ status: 'cancelled', finishedAt: new Date(), error: 'cancelled before it started' })
        .where(and(eq(jobs.id, id), eq(jobs.status, 'queued')))
        .returning();
      // Not queued any more: a worker claimed it between the read and the update.
      if (!cancelled) job = (await this.get(id)) ?? job;
    }
    if (job.status === 'running') {
      await this.db.update(jobs).set({ cancelRequested: true }).where(eq(jobs.id, id));
      this.running.get(id)?.abort(new Error('cancelled'));
    }
    await recordAudit(this.db, { actor, operation: 'job.cancel', targetType: 'job', targetId: id });
    return (await this.get(id)) ?? job;
  }

  /**
   * Resolves when the job has finished (completed, failed or cancelled), or earlier when
   * `until` holds for it (a stage reached, say); rejects on timeout.
   */
  async waitFor(id: string, options: { timeoutMs?: number; pollMs?: number; until?: (job: JobRecord) => boolean } = {}): Promise<JobRecord> {
    const deadline = Date.now() + (options.timeoutMs ?? 600_000);
    for (;;) {
      const job = await this.get(id);
      if (!job) throw new JobNotFoundError(`job '${id}' does not exist`);
      if (job.status === 'completed' || job.status === 'failed' || job.status === 'cancelled' || options.until?.(job)) return job;
      if (Date.now() > deadline) throw new Error(`job ${id} still ${job.status} after ${options.timeoutMs ?? 600_000} ms${await this.describeMessages(id)}`);
      await new Promise<void>((resolve) => {
        const timer = setTimeout(done, options.pollMs ?? 200);
        function done() {
          clearTimeout(timer);
          resolve();
        }
        this.waiters.add(done);
      });
    }
  }

  /**
   * Starts executing jobs in this process: pg-boss workers on PostgreSQL, a polling loop on
   * the embedded database. Also starts the sweeper for abandoned jobs.
   */
  async startWorker(options: { concurrency?: number } = {}): Promise<void> {
    if (this.working) return;
    this.working = true;
    this.stopped = false;
    await this.sweep();
    if (this.database.kind === 'postgres') {
      for (const kind of this.registrations.keys()) await this.workKind(kind);
      // Jobs recorded while no worker was listening (or re-queued by the sweeper) are sent again.
      for (const queued of await this.db.select().from(jobs).where(eq(jobs.status, 'queued'))) {
        await this.dispatch(toRecord(queued)).catch((error: unknown) => this.logger.error({ err: error, jobId: queued.id }, 'could not send a queued job; the sweeper will try again'));
      }
    } else {
      const concurrency = Math.max(1, options.concurrency ?? 1);
      this.loop = this.embeddedLoop(concurrency);
    }
    this.timers.push(
      setInterval(() => {
        if (this.sweeping) return;
        this.sweeping = this.sweep()
          .catch((error: unknown) => this.logger.error({ err: error }, 'job sweep failed'))
          .finally(() => (this.sweeping = null));
      }, Math.max(5_000, this.staleAfterMs / 2)),
    );
  }

  private async embeddedLoop(concurrency: number): Promise<void> {
    const active = new Set<Promise<void>>();
    while (this.working) {
      while (active.size < concurrency) {
        const id = await this.claimNextQueued();
        if (!id) break;
        const run: Promise<void> = this.execute(id)
          .catch((error: unknown) => this.logger.error({ err: error, jobId: id }, 'job execution failed'))
          .finally(() => active.delete(run));
        active.add(run);
      }
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, this.pollMs);
        this.wake = () => {
          clearTimeout(timer);
          resolve();
        };
        if (active.size > 0) void Promise.race(active).then(() => this.wake?.());
      });
    }
    await Promise.allSettled(active);
  }

  private async claimNextQueued(): Promise<string | null> {
    const kinds = this.kinds();
    if (kinds.length === 0) return null;
    const [row] = await this.db
      .select({ id: jobs.id })
      .from(jobs)
      .where(and(eq(jobs.status, 'queued'), inArray(jobs.kind, kinds)))
      .orderBy(jobs.createdAt)
      .limit(1);
    return row?.id ?? null;
  }

  /** Runs one job: claims it (queued → running), runs the handler, records the outcome. */
  private async execute(id: string): Promise<void> {
    const [claimed] = await this.db
      .update(jobs)
      .set({ status: 'running', startedAt: new Date(), heartbeatAt: new Date(), attempts: sql`${jobs.attempts} + 1` })
      .where(and(eq(jobs.id, id), eq(jobs.status, 'queued')))
      .returning();
    if (!claimed) return; // cancelled, or another worker has it
    // Every later write of this run is conditional on the run still owning the job: if the
    // sweeper gave it to another worker meanwhile (heartbeats late), this run must not
    // re-queue, finish or report progress over that one.
    const ours = and(eq(jobs.id, id), eq(jobs.status, 'running'), eq(jobs.attempts, claimed.attempts));
    const registration = this.registrations.get(claimed.kind);
    if (!registration) {
      await this.finish(id, ours, 'failed', { error: `no handler registered for job kind '${claimed.kind}' in this worker` });
      return;
    }
    const controller = new AbortController();
    this.running.set(id, controller);
    const takenOver = () => {
      if (!controller.signal.aborted) controller.abort(new RunTakenOverError('this run no longer owns the job (it was given to another worker)'));
    };
    const heartbeat = setInterval(() => {
      void this.db
        .update(jobs)
        .set({ heartbeatAt: new Date() })
        .where(ours)
        .returning({ id: jobs.id })
        .then((rows) => rows.length === 0 && takenOver(), () => undefined);
    }, Math.max(1_000, this.staleAfterMs / 4));
    let lastWrite = 0;
    const context: JobContext = {
      jobId: id,
      signal: controller.signal,
      attempt: claimed.attempts,
      progress: async (progress: JobProgress) => {
        const now = Date.now();
        // Progress is written at most ~5 times a second; the last one of a stage always lands.
        if (now - lastWrite < 200 && progress.done < progress.total) return;
        lastWrite = now;
        const [row] = await this.db
          .update(jobs)
          .set({ progress, heartbeatAt: new Date() })
          .where(ours)
          .returning({ cancel: jobs.cancelRequested });
        if (!row) takenOver();
        if (row?.cancel && !controller.signal.aborted) controller.abort(new Error('cancelled'));
        this.notify();
      },
    };
    this.logger.info({ jobId: id, kind: claimed.kind, attempt: claimed.attempts }, 'job started');
    try {
      const result = await registration.handler(claimed.params, context);
      if (controller.signal.aborted) throw controller.signal.reason ?? new Error('cancelled');
      await this.finish(id, ours, 'completed', { result });
      this.logger.info({ jobId: id, kind: claimed.kind }, 'job completed');
    } catch (error) {
      if (controller.signal.reason instanceof RunTakenOverError) {
        // Nothing of this run is recorded: the job is another run's now.
        this.logger.warn({ jobId: id, attempt: claimed.attempts }, 'a run stopped because its job was given to another worker');
        return;
      }
      const message = error instanceof Error ? error.message : String(error);
      const [state] = await this.db.select({ cancel: jobs.cancelRequested }).from(jobs).where(eq(jobs.id, id));
      if (state?.cancel || (controller.signal.aborted && !this.working)) {
        await this.finish(id, ours, 'cancelled', { error: state?.cancel ? 'cancelled on request' : 'the worker stopped' });
      } else if (!(error instanceof PermanentJobError) && claimed.attempts < claimed.maxAttempts) {
        this.logger.warn({ jobId: id, err: error }, 'job failed; retrying');
        const [requeued] = await this.db.update(jobs).set({ status: 'queued', error: message }).where(ours).returning();
        if (requeued) await this.dispatch(toRecord(requeued));
      } else {
        this.logger.error({ jobId: id, err: error }, 'job failed');
        await this.finish(id, ours, 'failed', { error: message });
      }
    } finally {
      clearInterval(heartbeat);
      this.running.delete(id);
    }
  }

  /** Records a run's outcome, if the run (`ours`) still owns the job. */
  private async finish(id: string, ours: SQL | undefined, status: JobStatus, outcome: { result?: Record<string, unknown>; error?: string }): Promise<void> {
    const written = await this.db
      .update(jobs)
      .set({ status, finishedAt: new Date(), result: outcome.result ?? null, error: outcome.error ?? null })
      .where(ours)
      .returning({ id: jobs.id });
    if (written.length === 0) this.logger.warn({ jobId: id, status }, 'a run ended after its job was given to another worker; its outcome is not recorded');
    this.notify();
  }

  private notify(): void {
    for (const waiter of [...this.waiters]) {
      this.waiters.delete(waiter);
      waiter();
    }
  }

  /**
   * Running jobs whose heartbeat stopped (their process died) go back to the queue while they
   * have attempts left, and fail with the reason otherwise.
   */
  async sweep(): Promise<number> {
    const cutoff = new Date(Date.now() - this.staleAfterMs);
    const stale = await this.db.select().from(jobs).where(and(eq(jobs.status, 'running'), lt(jobs.heartbeatAt, cutoff)));
    for (const job of stale) {
      if (this.running.has(job.id)) continue;
      if (job.attempts < job.maxAttempts && !job.cancelRequested) {
        const [requeued] = await this.db
          .update(jobs)
          .set({ status: 'queued', error: `worker stopped responding (attempt ${job.attempts}); retrying` })
          .where(and(eq(jobs.id, job.id), eq(jobs.status, 'running'), eq(jobs.attempts, job.attempts), lt(jobs.heartbeatAt, cutoff)))
          .returning();
        if (requeued) await this.dispatch(toRecord(requeued));
      } else {
        await this.db
          .update(jobs)
          .set({
            status: job.cancelRequested ? 'cancelled' : 'failed',
            finishedAt: new Date(),
            error: job.cancelRequested ? 'cancelled on request' : `worker stopped responding after ${job.attempts} attempt(s) (host ${hostname()} swept it)`,
          })
          .where(and(eq(jobs.id, job.id), eq(jobs.status, 'running'), eq(jobs.attempts, job.attempts), lt(jobs.heartbeatAt, cutoff)));
      }
    }
    return stale.length + (await this.resendOrphans());
  }

  /**
   * Queued jobs whose pg-boss message is gone (never stored, or failed on every delivery) are
   * sent again, so no job stays queued while workers are idle. Only once pg-boss has started
   * in this process: its schema exists then, and startWorker sends every queued job anyway.
   */
  private async resendOrphans(): Promise<number> {
    if (this.database.kind !== 'postgres' || !this.boss) return 0;
    const cutoff = new Date(Date.now() - ORPHAN_AFTER_MS);
    const orphans = await this.db
      .select()
      .from(jobs)
      .where(
        and(
          eq(jobs.status, 'queued'),
          lt(jobs.createdAt, cutoff),
          inArray(jobs.kind, this.kinds()),
          sql`NOT EXISTS (SELECT 1 FROM pgboss.job m WHERE m.name = ${BOSS_QUEUE_PREFIX} || ${jobs.kind} AND m.data->>'jobId' = ${jobs.id}::text AND m.state IN ('created', 'retry', 'active'))`,
        ),
      );
    for (const orphan of orphans) {
      this.logger.warn({ jobId: orphan.id, kind: orphan.kind }, 'queued job had no pending message; sending it again');
      await this.dispatch(toRecord(orphan));
    }
    return orphans.length;
  }

  /** For a timeout's message: what pg-boss holds for the job (PostgreSQL only). */
  private async describeMessages(id: string): Promise<string> {
    if (this.database.kind !== 'postgres' || !this.boss) return '';
    try {
      const rows = await selectRows<{ state: string; retry_count: number; output: unknown }>(
        this.db,
        sql`SELECT state, retry_count, output FROM pgboss.job WHERE data->>'jobId' = ${id} ORDER BY created_on`,
      );
      if (rows.length === 0) return '; pg-boss holds no message for it';
      return `; pg-boss messages: ${rows.map((m) => `${m.state} (retries ${m.retry_count}${m.output ? `, ${JSON.stringify(m.output).slice(0, 200)}` : ''})`).join(', ')}; workers for ${[...this.bossWorkers].join(', ') || 'no kind'}`;
    } catch (error) {
      return `; pg-boss could not be asked (${error instanceof Error ? error.message : String(error)})`;
    }
  }

  /** Starts the kind's worker, trying again with a growing delay while this process works. */
  private workKindRetrying(kind: string, attempt = 1): void {
    this.workKind(kind).catch((error: unknown) => {
      this.logger.error({ err: error, kind, attempt }, 'could not start a worker for a job kind; trying again');
      if (!this.working) return;
      const timer = setTimeout(() => {
        this.retryTimers.delete(timer);
        this.workKindRetrying(kind, attempt + 1);
      }, Math.min(30_000, 1_000 * attempt));
      this.retryTimers.add(timer);
    });
  }

  private async workKind(kind: string): Promise<void> {
    if (this.bossWorkers.has(kind)) return;
    this.bossWorkers.add(kind);
    try {
      const boss = await this.ensureQueue(kind);
      await boss.work<{ jobId: string }>(bossQueue(kind), { batchSize: 1, pollingIntervalSeconds: 1 }, async ([job]) => {
        if (job) await this.execute(job.data.jobId);
      });
    } catch (error) {
      this.bossWorkers.delete(kind); // a later start may try again
      throw error;
    }
  }

  /** Creates the kind's pg-boss queue once per process (sending to a missing queue fails). */
  private async ensureQueue(kind: string): Promise<PgBoss> {
    const boss = await this.ensureBoss();
    const name = bossQueue(kind);
    if (!this.bossQueues.has(name)) {
      if (!(await boss.getQueue(name))) await boss.createQueue(name).catch(() => undefined); // a concurrent creator won
      this.bossQueues.add(name);
    }
    return boss;
  }

  private ensureBoss(): Promise<PgBoss> {
    if (this.stopped) return Promise.reject(new Error('the job queue is stopped'));
    if (this.boss) return Promise.resolve(this.boss);
    this.bossStarting ??= this.startBoss().finally(() => {
      this.bossStarting = null;
    });
    return this.bossStarting;
  }

  private async startBoss(): Promise<PgBoss> {
    if (this.database.driver.kind !== 'postgres') throw new Error('pg-boss needs PostgreSQL');
    const pool = this.database.driver.pool;
    const boss = new PgBoss({
      db: { executeSql: async (text: string, values?: unknown[]) => pool.query(text, values) },
      schema: 'pgboss',
      supervise: true,
      schedule: false,
      migrate: true,
    });
    boss.on('error', (error: unknown) => this.logger.error({ err: error }, 'pg-boss error'));
    await boss.start();
    this.boss = boss;
    return boss;
  }

  /** Stops taking work; running jobs are asked to stop and go back to the queue via the sweeper. */
  async stop(): Promise<void> {
    this.working = false;
    this.stopped = true;
    for (const timer of this.timers) clearInterval(timer);
    this.timers = [];
    for (const timer of this.retryTimers) clearTimeout(timer);
    this.retryTimers.clear();
    this.wake?.();
    // Running jobs are asked to stop first: a sweep in progress may be waiting for a
    // connection or a transaction one of them holds.
    for (const controller of this.running.values()) controller.abort(new Error('the worker is stopping'));
    await this.sweeping;
    await this.bossStarting?.catch(() => undefined);
    await this.loop;
    if (this.boss) {
      await this.boss.stop({ graceful: true, wait: true, timeout: 10_000 }).catch(() => undefined);
      this.boss = null;
      this.bossQueues.clear();
      this.bossWorkers.clear();
    }
  }
}

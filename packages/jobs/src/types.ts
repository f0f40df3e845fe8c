import type { AuditActor } from '@clientele/db';

/** Progress in the one shape used everywhere, plus optional detail (iteration, loss, …). */
export interface JobProgress {
  stage: string;
  done: number;
  total: number;
  detail?: Record<string, unknown>;
}

export type JobStatus = 'queued' | 'running' | 'completed' | 'failed' | 'cancelled';

export interface JobRecord {
  id: string;
  kind: string;
  status: JobStatus;
  params: Record<string, unknown>;
  result: Record<string, unknown> | null;
  error: string | null;
  progress: JobProgress | null;
  attempts: number;
  createdBy: string | null;
  createdAt: Date;
  startedAt: Date | null;
  finishedAt: Date | null;
}

/** What a handler gets besides its parameters. */
export interface JobContext {
  jobId: string;
  /** Aborted when someone cancels the job (checked at each progress report) or the worker stops. */
  signal: AbortSignal;
  /** Records progress on the job (and notices a cancellation request). Cheap to call often. */
  progress(progress: JobProgress): Promise<void>;
  attempt: number;
}

export type JobHandler<P extends Record<string, unknown> = Record<string, unknown>, R extends Record<string, unknown> = Record<string, unknown>> = (
  params: P,
  context: JobContext,
) => Promise<R>;

export interface JobKindOptions {
  /** Only one queued-or-running job of this kind (per `dedupeKey`) at a time: a second request returns the first. */
  singleton?: boolean;
  /** How many times a job is retried after its worker crashed or it threw (default 1). */
  retryLimit?: number;
}

export interface EnqueueOptions {
  actor: AuditActor;
  /** With a singleton kind: requests with the same key share one job. */
  dedupeKey?: string;
}

/** A failure that will not get better by retrying (bad parameters, too little data). */
export class PermanentJobError extends Error {
  readonly code: string;
  constructor(code: string, message: string) {
    super(message);
    this.name = 'PermanentJobError';
    this.code = code;
  }
}

import { createHash } from 'node:crypto';
import type { DatabaseHandle } from '@clientele/db';
import { DomainError } from '@clientele/domain';
import { PermanentJobError, type JobContext, type JobQueue } from '@clientele/jobs';
import { InsufficientDataError } from './data.js';
import { parseTrainingParams } from './params.js';
import { runTraining } from './pipeline.js';

// Training runs as a background job. A request with the same settings as a job that is queued
// or running gets that job back instead of a duplicate; other settings make a job of their own.

export const TRAINING_JOB_KIND = 'recommender-train';

export interface TrainingJobOptions {
  interactionTypes?: readonly string[];
  threads?: number;
}

/** The job handler: parameters are the JSON training settings (see parseTrainingParams). */
export function trainingJobHandler(database: DatabaseHandle, options: TrainingJobOptions = {}) {
  return async (input: Record<string, unknown>, context: JobContext): Promise<Record<string, unknown>> => {
    let params;
    try {
      params = parseTrainingParams(input, options.interactionTypes);
    } catch (error) {
      if (error instanceof DomainError) throw new PermanentJobError('BAD_USER_INPUT', error.message);
      throw error;
    }
    try {
      const result = await runTraining({
        db: database.db,
        params,
        actor: { type: 'system', name: `job ${context.jobId}` },
        jobId: context.jobId,
        signal: context.signal,
        ...(options.threads !== undefined ? { threads: options.threads } : {}),
        onProgress: (p) => {
          void context.progress(p).catch(() => undefined);
        },
      });
      return { ...result };
    } catch (error) {
      if (error instanceof InsufficientDataError) throw new PermanentJobError(error.code, error.message);
      throw error;
    }
  };
}

/** Registers the training job kind on a queue. */
export function registerTrainingJob(queue: JobQueue, database: DatabaseHandle, options: TrainingJobOptions = {}): void {
  queue.register(TRAINING_JOB_KIND, trainingJobHandler(database, options), { singleton: true, retryLimit: 1 });
}

/**
 * Checks the settings and enqueues a training job, deduplicated by its settings with every
 * default filled in (so `{ kind: 'implicit' }` and the same with `factors: 64` are one job).
 */
export async function enqueueTraining(queue: JobQueue, input: Record<string, unknown>, actor: Parameters<JobQueue['enqueue']>[2]['actor'], interactionTypes?: readonly string[]) {
  const params = parseTrainingParams(input, interactionTypes);
  const settings = createHash('sha256').update(canonicalJson(params)).digest('hex').slice(0, 32);
  return queue.enqueue(TRAINING_JOB_KIND, { ...input, kind: params.kind }, { actor, dedupeKey: `${params.kind}:${settings}` });
}

/** JSON with object keys sorted at every level: equal settings give equal text whatever the order they came in. */
function canonicalJson(value: unknown): string {
  return JSON.stringify(value, (_key, v: unknown) =>
    v && typeof v === 'object' && !Array.isArray(v) ? Object.fromEntries(Object.entries(v as Record<string, unknown>).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))) : v,
  );
}

import type { DatabaseHandle } from '@clientele/db';
import { DomainError } from '@clientele/domain';
import { PermanentJobError, type JobContext, type JobQueue } from '@clientele/jobs';
import { InsufficientDataError } from './data.js';
import { parseTrainingParams } from './params.js';
import { runTraining } from './pipeline.js';

// Training runs as a background job. The kind is a singleton per model kind: a second request
// for the same kind while one is queued or running gets that job back instead of a duplicate.

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

/** Checks the settings and enqueues a training job (deduplicated per model kind). */
export async function enqueueTraining(queue: JobQueue, input: Record<string, unknown>, actor: Parameters<JobQueue['enqueue']>[2]['actor'], interactionTypes?: readonly string[]) {
  const params = parseTrainingParams(input, interactionTypes);
  return queue.enqueue(TRAINING_JOB_KIND, { ...input, kind: params.kind }, { actor, dedupeKey: params.kind });
}

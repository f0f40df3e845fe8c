import type { AuditActor, DatabaseHandle } from '@clientele/db';
import { DomainError } from '@clientele/domain';
import { PermanentJobError, type JobContext, type JobQueue, type JobRecord } from '@clientele/jobs';
import type { ProgressReport } from './clustering.js';
import { checkSegmentationData, runSegmentation, validateSegmentationParams } from './runs.js';
import { trainScoreModel, validateScoreModelParams, type ScoreKind } from './scores.js';

// Segmentation runs and churn/value training as background jobs, on the same queue and with
// the same progress shape as recommender training. Each kind is a singleton: asking again
// while one is queued or running returns that job instead of starting a second.

export const SEGMENTATION_JOB_KIND = 'segmentation';
export const SCORE_JOB_KINDS: Record<ScoreKind, string> = { churn: 'churn-model', value: 'value-model' };

export interface SegmentsJobOptions {
  /** Native threads for k-means (0 = one per core). */
  threads?: number;
}

function progressOf(context: JobContext) {
  return (p: ProgressReport) => {
    void context.progress(p).catch(() => undefined);
  };
}

/** Mistakes in the parameters or the data will not get better by retrying. */
async function permanent<T>(work: () => Promise<T>): Promise<T> {
  try {
    return await work();
  } catch (error) {
    if (error instanceof DomainError) throw new PermanentJobError(error.code, error.message);
    throw error;
  }
}

const jobActor = (context: JobContext): AuditActor => ({ type: 'system', name: `job ${context.jobId}` });

export function registerSegmentsJobs(queue: JobQueue, database: DatabaseHandle, options: SegmentsJobOptions = {}): void {
  queue.register(
    SEGMENTATION_JOB_KIND,
    async (input, context) =>
      permanent(async () => {
        const run = await runSegmentation(database.db, validateSegmentationParams(input), {
          actor: jobActor(context),
          jobId: context.jobId,
          signal: context.signal,
          onProgress: progressOf(context),
          threads: options.threads ?? 0,
        });
        return { runId: run.id, version: run.version, k: run.k, customers: run.customerCount, silhouette: run.silhouette, active: run.active, seconds: run.timings['total'] ?? null };
      }),
    { singleton: true, retryLimit: 1 },
  );
  for (const kind of ['churn', 'value'] as const) {
    queue.register(
      SCORE_JOB_KINDS[kind],
      async (input, context) =>
        permanent(async () => {
          const model = await trainScoreModel(database.db, validateScoreModelParams(kind, input), {
            actor: jobActor(context),
            jobId: context.jobId,
            signal: context.signal,
            onProgress: progressOf(context),
          });
          return { modelId: model.id, kind, version: model.version, active: model.active, metrics: model.metrics, seconds: model.timings['total'] ?? null };
        }),
      { singleton: true, retryLimit: 1 },
    );
  }
}

/** Checks the request against the data (nothing to segment, k too large) and queues the run. */
export async function enqueueSegmentation(queue: JobQueue, database: DatabaseHandle, input: unknown, actor: AuditActor): Promise<JobRecord> {
  const params = validateSegmentationParams(input);
  await checkSegmentationData(database.db, params);
  return queue.enqueue(SEGMENTATION_JOB_KIND, { ...params }, { actor });
}

/** Checks the settings and queues training of a churn or value model. */
export async function enqueueScoreModel(queue: JobQueue, kind: ScoreKind, input: unknown, actor: AuditActor): Promise<JobRecord> {
  const params = validateScoreModelParams(kind, input);
  return queue.enqueue(SCORE_JOB_KINDS[kind], { ...params, features: params.features.map((f) => ({ ...f })) }, { actor });
}

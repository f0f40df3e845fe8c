export { JobQueue, JobNotFoundError, UnknownJobKindError } from './queue.js';
export type { JobQueueOptions, QueueLogger } from './queue.js';
export { PermanentJobError } from './types.js';
export type { EnqueueOptions, JobContext, JobHandler, JobKindOptions, JobProgress, JobRecord, JobStatus } from './types.js';

import { JobQueue } from '@clientele/jobs';
import type { Services } from './context.js';

/**
 * Every kind of background job the platform runs, registered on a queue. The API process
 * and `clientele worker` register the same handlers, so either can run any job.
 */
export type JobRegistrar = (queue: JobQueue, services: Omit<Services, 'jobs'>) => void;

const registrars: JobRegistrar[] = [];

/** Lets a feature module add its job kinds (called at module load). */
export function addJobKinds(registrar: JobRegistrar): void {
  registrars.push(registrar);
}

export function createJobQueue(services: Omit<Services, 'jobs'>): JobQueue {
  const queue = new JobQueue(services.database, { logger: services.logger });
  for (const register of registrars) register(queue, services);
  return queue;
}

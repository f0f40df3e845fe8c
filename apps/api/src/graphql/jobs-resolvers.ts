import { requireScope, describePrincipal } from '@clientele/auth';
import type { JobStatus as JobStatusName } from '@clientele/jobs';
import type { JobStatus, Resolvers } from '@clientele/graphql';
import type { Context } from '../context.js';

const toStatus = (status: JobStatusName): JobStatus => status.toUpperCase() as JobStatus;

export const jobResolvers: Resolvers<Context> = {
  Query: {
    job: async (_root, { id }, context) => {
      requireScope(context.principal, 'read');
      return context.services.jobs.get(id);
    },
    jobs: async (_root, { kind, status, first }, context) => {
      requireScope(context.principal, 'read');
      return context.services.jobs.list({ kind: kind ?? null, status: status ? (status.toLowerCase() as JobStatusName) : null, limit: first ?? 50 });
    },
  },
  Mutation: {
    cancelJob: async (_root, { id }, context) => {
      requireScope(context.principal, 'write');
      return context.services.jobs.cancel(id, describePrincipal(context.principal));
    },
  },
  Job: {
    status: (job) => toStatus(job.status),
  },
};

import { requireScope } from '@clientele/auth';
import type { ImportStatus, Resolvers } from '@clientele/graphql';
import { getImportJob, listImportJobs, listRejections, type ImportJobStatus } from '@clientele/ingest';
import type { Context } from '../context.js';

// Bulk imports over GraphQL: the console and partners follow an upload (POST /imports) or a
// CLI import by its job, and page through its rejection report.

export const importResolvers: Resolvers<Context> = {
  Query: {
    imports: async (_root, { first, after, status, kind }, context) => {
      requireScope(context.principal, 'read');
      return listImportJobs(context.services.database.db, {
        first: first ?? 20,
        after: after ?? null,
        filter: { status: status ? (status.toLowerCase() as ImportJobStatus) : null, kind: kind ?? null },
      });
    },
    importJob: async (_root, { id }, context) => {
      requireScope(context.principal, 'read');
      return getImportJob(context.services.database.db, id);
    },
  },
  ImportJobConnection: {
    nodes: (page) => page.jobs,
    pageInfo: (page) => ({
      hasNextPage: page.hasNextPage,
      hasPreviousPage: false,
      startCursor: page.jobs[0]?.id ?? null,
      endCursor: page.jobs.at(-1)?.id ?? null,
    }),
  },
  ImportJob: {
    status: (job) => job.status.toUpperCase() as ImportStatus,
    progress: (job) => ({ stage: job.progress.stage, done: job.progress.done, total: job.progress.total, detail: null }),
    rejections: async (job, { first, afterLine }, context) => listRejections(context.services.database.db, job.id, { first: first ?? 100, afterLine: afterLine ?? null }),
  },
};

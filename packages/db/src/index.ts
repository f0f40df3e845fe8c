export * as schema from './schema.js';
export {
  customers,
  items,
  interactions,
  adminUsers,
  adminRole,
  sessions,
  apiKeys,
  auditLog,
  consentEvents,
  customerAliases,
  importJobs,
  importRejections,
  jobs,
} from './schema.js';
export { openDatabase, fromPglite, redactUrl, selectRows } from './client.js';
export type { Database, DatabaseHandle, Executor, OpenOptions, Schema, Transaction } from './client.js';
export { migrate, migrationsFolder } from './migrate.js';
export { DatabaseSetupError } from './errors.js';
export { recordAudit } from './audit.js';
export { BULK_WRITE_ROWS, refreshStatistics } from './statistics.js';
export { BULK_FINALIZE_LOCK, BULK_JOB_LOCK_SPACE, BULK_LOAD_LOCK, attachedInteractionSegments, waitForBulkLoads } from './interaction-locks.js';
export type { AuditEntry, AuditActor } from './audit.js';

export { importFile } from './import.js';
export type { ImportOptions, ImportSummary, ImportFormat, EntityCounts } from './import.js';
export { IMPORT_KINDS, KIND_FIELDS } from './kinds.js';
export type { ImportKind, ColumnMapping } from './kinds.js';
export { ImportError, REJECTION_CODES } from './errors.js';
export type { ImportErrorReason, Rejection, RejectionCode } from './errors.js';
export { getImportJob, listImportJobs, listRejections, writeRejectionReport, REJECTION_CSV_HEADER } from './jobs.js';
export type { ImportJob, ImportJobPage, ImportJobStatus, ImportJobFilter, ImportProgress, StoredRejection } from './jobs.js';
export { onlineRetailCountry } from './countries.js';

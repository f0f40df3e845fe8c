export { DomainError } from './errors.js';
export type { DomainErrorCode } from './errors.js';
export { MAX_BATCH, summarise } from './batch.js';
export type { BatchResult, RowResult, RowError, RowStatus } from './batch.js';
export { MAX_PAGE_SIZE, encodeCursor, decodeCursor, encodeKeyCursor, decodeKeyCursor, pageSize } from './pagination.js';
export type { Page, PageRequest } from './pagination.js';
export { upsertCustomers, getCustomer, requireCustomer, listCustomers, customerValidator, contactOf } from './customers.js';
export type { CustomerRecord, CustomerInput, CustomerFilter, CustomerOrder, ConsentInput, ConsentChannel } from './customers.js';
export {
  trackInteractions,
  validateInteraction,
  resolveCustomerIds,
  resolveItemIds,
  insertInteractions,
  listInteractions,
  contentEventId,
  RATING_MIN,
  RATING_MAX,
} from './interactions.js';
export type { InteractionRecord, InteractionPage, InteractionInput, InteractionRow, InteractionFilter, InteractionOrder, UnknownReferences } from './interactions.js';
export type { Store } from './store.js';
export * as fields from './fields.js';
export { upsertItems, getItem, listItems, validateItem } from './items.js';
export type { ItemRecord, ItemInput, ItemFilter } from './items.js';
export { listAuditLog } from './audit.js';
export type { AuditEntryRecord, AuditPage, AuditLogFilter } from './audit.js';
export type { CustomerPage } from './customers.js';
export type { ItemPage } from './items.js';
export { exportCustomer, eraseCustomer, rotateContactEncryption } from './privacy.js';
export { findDuplicateCustomers, mergeCustomers } from './merge.js';
export type { DuplicateGroup } from './merge.js';
export { dataQualityReport } from './quality.js';
export type { DataQualityReport, Distribution } from './quality.js';

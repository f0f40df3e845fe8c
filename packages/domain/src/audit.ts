import { auditLog, type Database } from '@clientele/db';
import { and, count, desc, eq, gte, lt, type SQL } from 'drizzle-orm';
import { decodeCursor, pageSize, toPage, type Page, type PageRequest } from './pagination.js';

export type AuditEntryRecord = typeof auditLog.$inferSelect;
export type AuditPage = Page<AuditEntryRecord>;

export interface AuditLogFilter {
  operation?: string | null | undefined;
  targetType?: string | null | undefined;
  targetId?: string | null | undefined;
  after?: Date | null | undefined;
  before?: Date | null | undefined;
}

/** The audit log, newest first. */
export async function listAuditLog(
  db: Database,
  request: PageRequest & { filter?: AuditLogFilter | null | undefined },
): Promise<AuditPage> {
  const limit = pageSize(request.first, 50);
  const filter = request.filter;
  const conditions: SQL[] = [];
  if (filter?.operation) conditions.push(eq(auditLog.operation, filter.operation));
  if (filter?.targetType) conditions.push(eq(auditLog.targetType, filter.targetType));
  if (filter?.targetId) conditions.push(eq(auditLog.targetId, filter.targetId));
  if (filter?.after) conditions.push(gte(auditLog.occurredAt, filter.after));
  if (filter?.before) conditions.push(lt(auditLog.occurredAt, filter.before));
  const after = request.after ? decodeCursor('audit', request.after) : undefined;
  const pageConditions = after === undefined ? conditions : [...conditions, lt(auditLog.id, after)];
  const rows = await db.select().from(auditLog).where(and(...pageConditions)).orderBy(desc(auditLog.id)).limit(limit + 1);
  return {
    ...toPage(rows, limit, 'audit', (row) => row.id, after !== undefined),
    totalCount: async () => {
      const [row] = await db.select({ n: count() }).from(auditLog).where(and(...conditions));
      return row?.n ?? 0;
    },
  };
}

import type { Executor } from './client.js';
import { auditLog } from './schema.js';

export interface AuditActor {
  type: 'user' | 'api_key' | 'cli' | 'system';
  id?: string | null;
  name?: string | null;
}

export interface AuditEntry {
  actor: AuditActor;
  operation: string;
  targetType?: string;
  targetId?: string;
  details?: Record<string, unknown>;
}

/** Appends to the audit log; pass the transaction handle so the entry commits with the change. */
export async function recordAudit(executor: Executor, entry: AuditEntry): Promise<void> {
  await executor.insert(auditLog).values({
    actorType: entry.actor.type,
    actorId: entry.actor.id ?? null,
    actorName: entry.actor.name ?? null,
    operation: entry.operation,
    targetType: entry.targetType ?? null,
    targetId: entry.targetId ?? null,
    details: entry.details ?? {},
  });
}

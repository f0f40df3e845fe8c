import { consentEvents, customerAliases, customers, interactions, recordAudit, selectRows, waitForBulkLoads, type AuditActor } from '@clientele/db';
import { eq, inArray, sql } from 'drizzle-orm';
import { DomainError } from './errors.js';
import { requireCustomer, type CustomerRecord } from './customers.js';
import type { Store } from './store.js';

export interface DuplicateGroup {
  /** Why these look like one person: the same normalised email, or external ids differing only in case and spaces. */
  reason: 'email' | 'external_id';
  customers: CustomerRecord[];
}

/** Groups of customers that look like the same person. */
export async function findDuplicateCustomers(store: Store, options: { limit?: number } = {}): Promise<DuplicateGroup[]> {
  const limit = Math.min(options.limit ?? 100, 1000);
  const byEmail = await selectRows<{ ids: (string | number)[] }>(
    store.db,
    sql`SELECT array_agg(id ORDER BY id) AS ids FROM ${customers} WHERE email_index IS NOT NULL
        GROUP BY email_index HAVING count(*) > 1 ORDER BY min(id) LIMIT ${limit}`,
  );
  const byExternal = await selectRows<{ ids: (string | number)[] }>(
    store.db,
    sql`SELECT array_agg(id ORDER BY id) AS ids FROM ${customers}
        GROUP BY lower(btrim(external_id)) HAVING count(*) > 1 ORDER BY min(id) LIMIT ${limit}`,
  );
  const groups: { reason: DuplicateGroup['reason']; ids: number[] }[] = [
    ...byEmail.map((g) => ({ reason: 'email' as const, ids: g.ids.map(Number) })),
    ...byExternal.map((g) => ({ reason: 'external_id' as const, ids: g.ids.map(Number) })),
  ];
  const all = [...new Set(groups.flatMap((g) => g.ids))];
  const rows = all.length === 0 ? [] : await store.db.select().from(customers).where(inArray(customers.id, all));
  const byId = new Map(rows.map((r) => [r.id, r]));
  return groups.slice(0, limit).map((g) => ({ reason: g.reason, customers: g.ids.map((id) => byId.get(id)).filter((c): c is CustomerRecord => c !== undefined) }));
}

/**
 * Merges duplicates into a survivor: their interactions and consent history move over, the
 * survivor's empty fields are filled from them, their external ids become aliases of the
 * survivor (later writes naming them land on it), and the duplicates are removed.
 */
export async function mergeCustomers(store: Store, survivorExternalId: string, duplicateExternalIds: readonly string[], actor: AuditActor): Promise<{ survivor: CustomerRecord; movedInteractions: number }> {
  if (duplicateExternalIds.length === 0) throw new DomainError('BAD_USER_INPUT', 'duplicateIds: expected at least one customer to merge', 'duplicateIds');
  if (duplicateExternalIds.length > 100) throw new DomainError('BAD_USER_INPUT', `duplicateIds: expected at most 100, got ${duplicateExternalIds.length}`, 'duplicateIds');
  return store.db.transaction(async (tx) => {
    // A running bulk import holds resolved customer ids it has not attached yet: wait for it.
    await waitForBulkLoads(tx);
    const survivor = await requireCustomer(tx, survivorExternalId);
    const duplicates: CustomerRecord[] = [];
    for (const id of duplicateExternalIds) {
      const duplicate = await requireCustomer(tx, id);
      if (duplicate.id === survivor.id) throw new DomainError('BAD_USER_INPUT', `duplicateIds: '${id}' is the survivor itself`, 'duplicateIds');
      if (!duplicates.some((d) => d.id === duplicate.id)) duplicates.push(duplicate);
    }
    const ids = duplicates.map((d) => d.id);
    const moved = await tx.update(interactions).set({ customerId: survivor.id }).where(inArray(interactions.customerId, ids)).returning({ id: interactions.id });
    await tx.update(consentEvents).set({ customerId: survivor.id }).where(inArray(consentEvents.customerId, ids));
    await tx.update(customerAliases).set({ customerId: survivor.id }).where(inArray(customerAliases.customerId, ids));
    // Fill what the survivor lacks, from the most recently updated duplicate first.
    const fill: Partial<typeof customers.$inferInsert> = {};
    const newestFirst = [...duplicates].sort((a, b) => b.updatedAt.getTime() - a.updatedAt.getTime());
    for (const d of newestFirst) {
      if (survivor.emailCiphertext === null && fill.emailCiphertext === undefined && d.emailCiphertext !== null) {
        fill.emailCiphertext = d.emailCiphertext;
        fill.emailIndex = d.emailIndex;
      }
      if (survivor.phoneCiphertext === null && fill.phoneCiphertext === undefined && d.phoneCiphertext !== null) {
        fill.phoneCiphertext = d.phoneCiphertext;
        fill.phoneIndex = d.phoneIndex;
      }
      if (survivor.name === null && fill.name === undefined && d.name !== null) fill.name = d.name;
      if (survivor.country === null && fill.country === undefined && d.country !== null) fill.country = d.country;
    }
    const attributes = Object.assign({}, ...newestFirst.reverse().map((d) => d.attributes), survivor.attributes) as Record<string, unknown>;
    await tx.delete(customers).where(inArray(customers.id, ids));
    await tx.insert(customerAliases).values(duplicates.map((d) => ({ externalId: d.externalId, customerId: survivor.id }))).onConflictDoNothing();
    const [updated] = await tx.update(customers).set({ ...fill, attributes, updatedAt: new Date() }).where(eq(customers.id, survivor.id)).returning();
    await recordAudit(tx, {
      actor,
      operation: 'customers.merge',
      targetType: 'customer',
      targetId: survivor.externalId,
      details: { merged: duplicates.map((d) => d.externalId), movedInteractions: moved.length },
    });
    if (!updated) throw new Error('survivor vanished during merge');
    return { survivor: updated, movedInteractions: moved.length };
  });
}

import { auditLog, consentEvents, customerAliases, customers, interactions, items, recordAudit, waitForBulkLoads, type AuditActor } from '@clientele/db';
import { and, asc, eq, isNotNull, or, sql } from 'drizzle-orm';
import { contactOf, requireCustomer } from './customers.js';
import type { Store } from './store.js';

/** Everything held about one customer, decrypted, as plain JSON (GDPR access request). */
export async function exportCustomer(store: Store, externalId: string, actor: AuditActor): Promise<Record<string, unknown>> {
  const customer = await requireCustomer(store.db, externalId);
  const contact = contactOf(store, customer);
  const history = await store.db
    .select({
      eventId: interactions.eventId,
      item: items.externalId,
      itemTitle: items.title,
      type: interactions.type,
      value: interactions.value,
      quantity: interactions.quantity,
      amount: interactions.amount,
      occurredAt: interactions.occurredAt,
      source: interactions.source,
    })
    .from(interactions)
    .innerJoin(items, eq(items.id, interactions.itemId))
    .where(eq(interactions.customerId, customer.id))
    .orderBy(asc(interactions.occurredAt), asc(interactions.id));
  const consent = await store.db.select().from(consentEvents).where(eq(consentEvents.customerId, customer.id)).orderBy(asc(consentEvents.occurredAt));
  const aliases = await store.db.select({ externalId: customerAliases.externalId }).from(customerAliases).where(eq(customerAliases.customerId, customer.id));
  const audit = await store.db
    .select({ occurredAt: auditLog.occurredAt, actor: auditLog.actorName, operation: auditLog.operation })
    .from(auditLog)
    .where(and(eq(auditLog.targetType, 'customer'), eq(auditLog.targetId, customer.externalId)))
    .orderBy(asc(auditLog.id));
  await recordAudit(store.db, { actor, operation: 'customer.export', targetType: 'customer', targetId: customer.externalId });
  return {
    exportedAt: new Date().toISOString(),
    customer: {
      id: customer.externalId,
      name: customer.name,
      email: contact.email,
      phone: contact.phone,
      country: customer.country,
      attributes: customer.attributes,
      consent: {
        email: { granted: customer.emailConsent, at: customer.emailConsentAt?.toISOString() ?? null, source: customer.emailConsentSource },
        sms: { granted: customer.smsConsent, at: customer.smsConsentAt?.toISOString() ?? null, source: customer.smsConsentSource },
      },
      createdAt: customer.createdAt.toISOString(),
      updatedAt: customer.updatedAt.toISOString(),
    },
    formerIds: aliases.map((a) => a.externalId),
    consentHistory: consent.map((c) => ({ channel: c.channel, granted: c.granted, source: c.source, occurredAt: c.occurredAt.toISOString() })),
    interactions: history.map((h) => ({ ...h, eventId: h.eventId?.startsWith('e:') ? h.eventId.slice(2) : null, amount: h.amount === null ? null : Number(h.amount), occurredAt: h.occurredAt.toISOString() })),
    accessLog: audit.map((a) => ({ ...a, occurredAt: a.occurredAt.toISOString() })),
  };
}

/**
 * Erases a customer (GDPR): the row, its contact data, interactions, consent history and
 * aliases are deleted in one transaction, so they drop out of every later training run and
 * segment. The audit log keeps that it happened, who did it, and the counts.
 */
export async function eraseCustomer(store: Store, externalId: string, actor: AuditActor): Promise<{ interactions: number }> {
  return store.db.transaction(async (tx) => {
    // A running bulk import may hold this customer's id for rows it has not attached yet:
    // wait for it, so they are attached first and deleted here with the rest.
    await waitForBulkLoads(tx);
    const customer = await requireCustomer(tx, externalId);
    const removed = await tx.delete(interactions).where(eq(interactions.customerId, customer.id)).returning({ id: interactions.id });
    await tx.delete(customers).where(eq(customers.id, customer.id));
    await recordAudit(tx, {
      actor,
      operation: 'customer.erase',
      targetType: 'customer',
      targetId: customer.externalId,
      details: { interactions: removed.length },
    });
    return { interactions: removed.length };
  });
}

/**
 * Re-encrypts contact data written with an older key and recomputes blind indexes, in
 * batches, so an old key can then be removed from the keyring. Returns the rows rewritten.
 */
export async function rotateContactEncryption(
  store: Store,
  options: { batchSize?: number; onProgress?: (progress: { stage: string; done: number; total: number }) => void } = {},
): Promise<number> {
  const batchSize = options.batchSize ?? 500;
  const current = `${store.cipher.currentKeyId}:%`;
  const currentToken = `v1.${store.cipher.currentKeyId}.%`;
  const stale = or(
    and(isNotNull(customers.emailIndex), sql`${customers.emailIndex} NOT LIKE ${current}`),
    and(isNotNull(customers.phoneIndex), sql`${customers.phoneIndex} NOT LIKE ${current}`),
    and(isNotNull(customers.emailCiphertext), sql`${customers.emailCiphertext} NOT LIKE ${currentToken}`),
    and(isNotNull(customers.phoneCiphertext), sql`${customers.phoneCiphertext} NOT LIKE ${currentToken}`),
  );
  const [{ total } = { total: 0 }] = await store.db.select({ total: sql<number>`count(*)::int` }).from(customers).where(stale);
  let done = 0;
  for (;;) {
    const batch = await store.db.select().from(customers).where(stale).orderBy(asc(customers.id)).limit(batchSize);
    if (batch.length === 0) break;
    await store.db.transaction(async (tx) => {
      for (const row of batch) {
        const contact = contactOf(store, row);
        await tx
          .update(customers)
          .set({
            emailCiphertext: contact.email === null ? null : store.cipher.encrypt('email', contact.email),
            emailIndex: contact.email === null ? null : store.cipher.blindIndex('email', contact.email),
            phoneCiphertext: contact.phone === null ? null : store.cipher.encrypt('phone', contact.phone),
            phoneIndex: contact.phone === null ? null : store.cipher.blindIndex('phone', contact.phone),
          })
          .where(eq(customers.id, row.id));
      }
    });
    done += batch.length;
    options.onProgress?.({ stage: 'rotate', done, total });
  }
  return done;
}

import { consentEvents, customerAliases, customers, recordAudit, type AuditActor, type Database, type Executor } from '@clientele/db';
import { normaliseEmail, normalisePhone } from '@clientele/privacy';
import { and, asc, count, desc, eq, getTableColumns, gt, gte, ilike, inArray, lt, or, sql, type SQL } from 'drizzle-orm';
import { checkBatchSize, rejected, summarise, validateBatch, type BatchResult, type RowResult, type ValidRow } from './batch.js';
import { DomainError } from './errors.js';
import * as field from './fields.js';
import { decodeCursor, decodeKeyCursor, encodeCursor, encodeKeyCursor, pageSize, type Page, type PageRequest } from './pagination.js';
import type { Store } from './store.js';
import { upsertByExternalId } from './upsert.js';

export type CustomerRecord = typeof customers.$inferSelect;
export type CustomerPage = Page<CustomerRecord>;

export type ConsentChannel = 'email' | 'sms';

export interface ConsentInput {
  channel: unknown;
  granted: unknown;
  source: unknown;
  occurredAt?: unknown;
}

export interface CustomerInput {
  id: unknown;
  email?: unknown;
  phone?: unknown;
  name?: unknown;
  country?: unknown;
  attributes?: unknown;
  consent?: unknown;
}

interface ConsentChange {
  channel: ConsentChannel;
  granted: boolean;
  source: string;
  occurredAt: Date;
}

const PLAIN_CHECKS = {
  name: (value: unknown) => field.optionalText(value, 300),
  country: field.countryCode,
  attributes: field.attributes,
} as const;

/** Ciphertexts differ on every write; change detection compares the blind indexes instead. */
const UNCOMPARED = ['email_ciphertext', 'phone_ciphertext'];

function checkConsent(value: unknown, now: number): field.Check<ConsentChange[]> {
  if (value === null) return { ok: true, value: [] };
  if (!Array.isArray(value)) return { ok: false, message: 'expected a list of {channel, granted, source}' };
  const changes: ConsentChange[] = [];
  for (const [i, entry] of value.entries()) {
    const e = (entry ?? {}) as ConsentInput;
    const channel = typeof e.channel === 'string' ? e.channel.toLowerCase() : e.channel;
    if (channel !== 'email' && channel !== 'sms') return { ok: false, message: `[${i}].channel: expected email or sms, got ${JSON.stringify(e.channel)}` };
    if (typeof e.granted !== 'boolean') return { ok: false, message: `[${i}].granted: expected true or false` };
    const source = field.optionalText(e.source, 200);
    if (!source.ok || source.value === null) return { ok: false, message: `[${i}].source: expected where the consent was given, e.g. checkout-form` };
    const occurredAt = e.occurredAt === undefined || e.occurredAt === null ? new Date(now) : field.dateTime(e.occurredAt, now);
    if (!(occurredAt instanceof Date)) return { ok: false, message: `[${i}].occurredAt: ${occurredAt.message}` };
    if (changes.some((c) => c.channel === channel)) return { ok: false, message: `[${i}].channel: ${channel} appears twice` };
    changes.push({ channel, granted: e.granted, source: source.value, occurredAt });
  }
  return { ok: true, value: changes };
}

/** Validates one input row and turns contact data into ciphertext and blind index. */
export function customerValidator(store: Pick<Store, 'cipher'>, now = Date.now()) {
  return (input: CustomerInput, index: number): ValidRow | RowResult => {
    const id = field.externalId(input.id);
    if (!id.ok) return rejected(index, null, 'INVALID_VALUE', 'id', `id: ${id.message}`);
    const values: Record<string, unknown> = { externalId: id.value };
    for (const [name, check] of Object.entries(PLAIN_CHECKS)) {
      const raw = (input as unknown as Record<string, unknown>)[name];
      if (raw === undefined) continue;
      const result = check(raw);
      if (!result.ok) return rejected(index, id.value, 'INVALID_VALUE', name, `${name}: ${result.message}`);
      values[name] = result.value;
    }
    if (input.email !== undefined) {
      const email = field.email(input.email);
      if (!email.ok) return rejected(index, id.value, 'INVALID_VALUE', 'email', `email: ${email.message}`);
      const normalised = email.value === null ? null : normaliseEmail(email.value);
      values['emailCiphertext'] = normalised === null ? null : store.cipher.encrypt('email', normalised);
      values['emailIndex'] = normalised === null ? null : store.cipher.blindIndex('email', normalised);
    }
    if (input.phone !== undefined) {
      const phone = field.phone(input.phone);
      if (!phone.ok) return rejected(index, id.value, 'INVALID_VALUE', 'phone', `phone: ${phone.message}`);
      const normalised = phone.value === null ? null : normalisePhone(phone.value);
      values['phoneCiphertext'] = normalised === null ? null : store.cipher.encrypt('phone', normalised);
      values['phoneIndex'] = normalised === null ? null : store.cipher.blindIndex('phone', normalised);
    }
    let consent: ConsentChange[] = [];
    if (input.consent !== undefined) {
      const checked = checkConsent(input.consent, now);
      if (!checked.ok) return rejected(index, id.value, 'INVALID_VALUE', 'consent', `consent${checked.message}`);
      consent = checked.value;
    }
    return { index, id: id.value, values, extra: { consent } };
  };
}

/** Maps external ids of merged-away customers to the survivors' external ids. */
async function resolveAliases(tx: Executor, ids: string[]): Promise<Map<string, string>> {
  if (ids.length === 0) return new Map();
  const rows = await tx
    .select({ alias: customerAliases.externalId, target: customers.externalId })
    .from(customerAliases)
    .innerJoin(customers, eq(customers.id, customerAliases.customerId))
    .where(inArray(customerAliases.externalId, ids));
  return new Map(rows.map((row) => [row.alias, row.target]));
}

/** Applies consent changes that differ from what is stored, with a history row each. */
async function applyConsent(tx: Executor, changes: { externalId: string; consent: ConsentChange[] }[]): Promise<number> {
  const wanted = changes.filter((c) => c.consent.length > 0);
  if (wanted.length === 0) return 0;
  const rows = await tx
    .select({ id: customers.id, externalId: customers.externalId, email: customers.emailConsent, sms: customers.smsConsent })
    .from(customers)
    .where(inArray(customers.externalId, wanted.map((c) => c.externalId)));
  const byExternal = new Map(rows.map((row) => [row.externalId, row]));
  let applied = 0;
  for (const change of wanted) {
    const row = byExternal.get(change.externalId);
    if (!row) continue;
    for (const consent of change.consent) {
      if (row[consent.channel] === consent.granted) continue;
      await tx.insert(consentEvents).values({ customerId: row.id, ...consent });
      await tx
        .update(customers)
        .set(
          consent.channel === 'email'
            ? { emailConsent: consent.granted, emailConsentAt: consent.occurredAt, emailConsentSource: consent.source, updatedAt: new Date() }
            : { smsConsent: consent.granted, smsConsentAt: consent.occurredAt, smsConsentSource: consent.source, updatedAt: new Date() },
        )
        .where(eq(customers.id, row.id));
      applied++;
    }
  }
  return applied;
}

/**
 * Creates or updates customers by external id (or an alias left by a merge). Per-row
 * results; the batch is stored in one transaction. Contact data is stored encrypted.
 */
export async function upsertCustomers(store: Store, inputs: readonly CustomerInput[], actor: AuditActor): Promise<BatchResult> {
  checkBatchSize('customers', inputs.length);
  const { valid, results } = validateBatch(inputs, customerValidator(store));
  await store.db.transaction(async (tx) => {
    const aliases = await resolveAliases(tx, valid.map((row) => row.id));
    for (const row of valid) {
      const target = aliases.get(row.id);
      if (target !== undefined) row.values['externalId'] = target;
    }
    await upsertByExternalId(tx, customers, getTableColumns(customers), customers.externalId, valid, results, UNCOMPARED);
    const consentChanged = await applyConsent(
      tx,
      valid.map((row) => ({ externalId: String(row.values['externalId']), consent: (row.extra?.['consent'] as ConsentChange[] | undefined) ?? [] })),
    );
    if (consentChanged > 0) {
      for (const row of valid) {
        const result = results[row.index];
        if (result?.status === 'UNCHANGED' && ((row.extra?.['consent'] as ConsentChange[] | undefined) ?? []).length > 0) {
          // Only consent moved for this row; report it as an update when it did.
          const [stored] = await tx.select({ at: customers.updatedAt }).from(customers).where(eq(customers.externalId, String(row.values['externalId'])));
          if (stored && Date.now() - stored.at.getTime() < 60_000) result.status = 'UPDATED';
        }
      }
    }
    const summary = summarise(results);
    if (summary.createdCount + summary.updatedCount > 0) {
      await recordAudit(tx, {
        actor,
        operation: 'customers.upsert',
        targetType: 'customer',
        details: { created: summary.createdCount, updated: summary.updatedCount, rejected: summary.rejectedCount, ids: valid.slice(0, 100).map((r) => r.id) },
      });
    }
  });
  return summarise(results);
}

/** A customer by external id, following merge aliases. */
export async function getCustomer(db: Executor, externalId: string): Promise<CustomerRecord | null> {
  const [row] = await db.select().from(customers).where(eq(customers.externalId, externalId));
  if (row) return row;
  const [aliased] = await db
    .select({ customer: customers })
    .from(customerAliases)
    .innerJoin(customers, eq(customers.id, customerAliases.customerId))
    .where(eq(customerAliases.externalId, externalId));
  return aliased?.customer ?? null;
}

/** Requires the customer to exist; NOT_FOUND names the id otherwise. */
export async function requireCustomer(db: Executor, externalId: string): Promise<CustomerRecord> {
  const customer = await getCustomer(db, externalId);
  if (!customer) throw new DomainError('NOT_FOUND', `customer '${externalId}' does not exist`, 'id');
  return customer;
}

/** The decrypted contact data of a stored customer. */
export function contactOf(store: Pick<Store, 'cipher'>, customer: CustomerRecord): { email: string | null; phone: string | null } {
  return {
    email: customer.emailCiphertext === null ? null : store.cipher.decrypt('email', customer.emailCiphertext),
    phone: customer.phoneCiphertext === null ? null : store.cipher.decrypt('phone', customer.phoneCiphertext),
  };
}

export interface CustomerFilter {
  ids?: readonly string[] | null | undefined;
  /** Case-insensitive part of the name, or a whole email address (exact, via the blind index). */
  search?: string | null | undefined;
  email?: string | null | undefined;
  /** JSON containment: customers whose attributes include these keys and values. */
  attributes?: unknown;
  createdAfter?: Date | null | undefined;
  createdBefore?: Date | null | undefined;
  emailConsent?: boolean | null | undefined;
}

export type CustomerOrder = 'CREATED_AT_DESC' | 'CREATED_AT_ASC' | 'NAME_ASC';

function escapeLike(text: string): string {
  return text.replace(/[\\%_]/g, (c) => `\\${c}`);
}

function emailMatch(store: Store, email: string): SQL | undefined {
  const normalised = normaliseEmail(email);
  return inArray(customers.emailIndex, store.cipher.blindIndexes('email', normalised));
}

function customerConditions(store: Store, filter: CustomerFilter | null | undefined): SQL[] {
  const conditions: SQL[] = [];
  if (filter?.ids) conditions.push(inArray(customers.externalId, [...filter.ids]));
  if (filter?.search) {
    const search = filter.search.trim();
    const byName = ilike(customers.name, `%${escapeLike(search)}%`);
    const match = search.includes('@') ? or(byName, emailMatch(store, search)) : byName;
    if (match) conditions.push(match);
  }
  if (filter?.email) {
    const match = emailMatch(store, filter.email);
    if (match) conditions.push(match);
  }
  if (filter?.attributes !== undefined && filter.attributes !== null) {
    const attributes = field.attributes(filter.attributes);
    if (!attributes.ok) throw new DomainError('BAD_USER_INPUT', `filter.attributes: ${attributes.message}`, 'filter.attributes');
    conditions.push(sql`${customers.attributes} @> ${JSON.stringify(attributes.value)}::jsonb`);
  }
  if (filter?.createdAfter) conditions.push(gte(customers.createdAt, filter.createdAfter));
  if (filter?.createdBefore) conditions.push(lt(customers.createdAt, filter.createdBefore));
  if (filter?.emailConsent !== undefined && filter.emailConsent !== null) conditions.push(eq(customers.emailConsent, filter.emailConsent));
  return conditions;
}

/** Customers, keyset-paginated in the requested order. */
export async function listCustomers(
  store: Store,
  request: PageRequest & { filter?: CustomerFilter | null | undefined; orderBy?: CustomerOrder | null | undefined },
): Promise<CustomerPage> {
  const db: Database = store.db;
  const limit = pageSize(request.first);
  const conditions = customerConditions(store, request.filter);
  const order = request.orderBy ?? 'CREATED_AT_DESC';
  let rows: CustomerRecord[];
  let cursorOf: (row: CustomerRecord) => string;
  const after = request.after ?? undefined;
  if (order === 'NAME_ASC') {
    // Keyset on (name, id); customers without a name sort last.
    const key = after ? decodeKeyCursor('customer-name', after) : undefined;
    const nameKey = sql`coalesce(${customers.name}, '\uffff')`;
    const page = key ? [...conditions, sql`(${nameKey}, ${customers.id}) > (${key.key}, ${key.id})`] : conditions;
    rows = await db.select().from(customers).where(and(...page)).orderBy(asc(nameKey), asc(customers.id)).limit(limit + 1);
    cursorOf = (row) => encodeKeyCursor('customer-name', row.name ?? '\uffff', row.id);
  } else {
    const ascending = order === 'CREATED_AT_ASC';
    const afterId = after ? decodeCursor('customer', after) : undefined;
    const page = afterId === undefined ? conditions : [...conditions, ascending ? gt(customers.id, afterId) : lt(customers.id, afterId)];
    rows = await db
      .select()
      .from(customers)
      .where(and(...page))
      .orderBy(ascending ? asc(customers.id) : desc(customers.id))
      .limit(limit + 1);
    cursorOf = (row) => encodeCursor('customer', row.id);
  }
  const nodes = rows.slice(0, limit);
  return {
    nodes,
    cursors: nodes.map(cursorOf),
    hasNextPage: rows.length > limit,
    hasPreviousPage: after !== undefined,
    totalCount: async () => {
      const [row] = await db.select({ n: count() }).from(customers).where(and(...conditions));
      return row?.n ?? 0;
    },
  };
}

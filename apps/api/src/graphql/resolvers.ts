import {
  createApiKey,
  describePrincipal,
  listApiKeys,
  listUsers,
  requireScope,
  revokeApiKey,
  type Scope as AuthScope,
} from '@clientele/auth';
import type { AuditActor } from '@clientele/db';
import {
  contactOf,
  dataQualityReport,
  eraseCustomer,
  exportCustomer,
  findDuplicateCustomers,
  getCustomer,
  getItem,
  listAuditLog,
  listCustomers,
  listInteractions,
  listItems,
  mergeCustomers,
  trackInteractions,
  upsertCustomers,
  upsertItems,
  type AuditEntryRecord,
  type CustomerRecord,
  type InteractionRecord,
  type ItemRecord,
} from '@clientele/domain';
import type { Resolvers, Scope } from '@clientele/graphql';
import type { Context } from '../context.js';
import { connectionFields } from './connections.js';
import { DateTimeScalar, JSONScalar } from './scalars.js';

const toScope = (scope: AuthScope): Scope => scope.toUpperCase() as Uppercase<AuthScope>;
const fromScope = (scope: Scope): AuthScope => scope.toLowerCase() as Lowercase<Scope>;

function actorOf(context: Context): AuditActor {
  return describePrincipal(context.principal);
}


export const resolvers: Resolvers<Context> = {
  DateTime: DateTimeScalar,
  JSON: JSONScalar,

  Query: {
    viewer: (_root, _args, { principal }) => ({
      kind: principal.kind === 'api_key' ? 'API_KEY' : 'USER',
      name: principal.kind === 'api_key' ? principal.name : principal.email,
      role: principal.kind === 'user' ? (principal.role.toUpperCase() as 'ADMIN' | 'MARKETER' | 'VIEWER') : null,
      scopes: principal.scopes.map(toScope),
    }),

    customer: async (_root, { id }, context) => {
      requireScope(context.principal, 'read');
      return getCustomer(context.services.database.db, id);
    },
    customers: async (_root, args, context) => {
      requireScope(context.principal, 'read');
      return listCustomers(context.services.store, args);
    },
    item: async (_root, { id }, context) => {
      requireScope(context.principal, 'read');
      return getItem(context.services.database.db, id);
    },
    items: async (_root, args, context) => {
      requireScope(context.principal, 'read');
      return listItems(context.services.database.db, args);
    },
    interactions: async (_root, args, context) => {
      requireScope(context.principal, 'read');
      return listInteractions(context.services.store, args);
    },
    dataQuality: async (_root, _args, context) => {
      requireScope(context.principal, 'read');
      return dataQualityReport(context.services.database.db);
    },
    duplicateCustomers: async (_root, { first }, context) => {
      requireScope(context.principal, 'read');
      return findDuplicateCustomers(context.services.store, { limit: first ?? 50 });
    },
    exportCustomer: async (_root, { id }, context) => {
      requireScope(context.principal, 'admin');
      return exportCustomer(context.services.store, id, actorOf(context));
    },

    apiKeys: async (_root, { includeRevoked }, context) => {
      requireScope(context.principal, 'admin');
      return listApiKeys(context.services.database.db, { includeRevoked: includeRevoked ?? false });
    },
    adminUsers: async (_root, _args, context) => {
      requireScope(context.principal, 'admin');
      return listUsers(context.services.database.db);
    },
    auditLog: async (_root, args, context) => {
      requireScope(context.principal, 'admin');
      return listAuditLog(context.services.database.db, args);
    },
  },

  Mutation: {
    _noop: (_root, _args, context) => {
      requireScope(context.principal, 'write');
      return true;
    },
    upsertCustomers: async (_root, { customers }, context) => {
      requireScope(context.principal, 'write');
      return upsertCustomers(context.services.store, customers, actorOf(context));
    },
    trackInteractions: async (_root, { interactions, unknownReferences }, context) => {
      requireScope(context.principal, 'write');
      return trackInteractions(context.services.store, interactions, {
        actor: actorOf(context),
        unknownReferences: unknownReferences === 'REJECT' ? 'reject' : 'create',
      });
    },
    mergeCustomers: async (_root, { survivorId, duplicateIds }, context) => {
      requireScope(context.principal, 'write');
      return mergeCustomers(context.services.store, survivorId, duplicateIds, actorOf(context));
    },
    eraseCustomer: async (_root, { id }, context) => {
      requireScope(context.principal, 'admin');
      const erased = await eraseCustomer(context.services.store, id, actorOf(context));
      return { id, erasedInteractions: erased.interactions };
    },
    upsertItems: async (_root, { items }, context) => {
      requireScope(context.principal, 'write');
      return upsertItems(context.services.database.db, items, actorOf(context));
    },
    createApiKey: async (_root, { input }, context) => {
      requireScope(context.principal, 'admin');
      const created = await createApiKey(
        context.services.database.db,
        { name: input.name, scopes: input.scopes.map(fromScope), expiresAt: input.expiresAt ?? null },
        actorOf(context),
      );
      const { key, ...apiKey } = created;
      return { apiKey, secret: key };
    },
    revokeApiKey: async (_root, { id }, context) => {
      requireScope(context.principal, 'admin');
      const revoked = await revokeApiKey(context.services.database.db, id, actorOf(context));
      context.services.apiKeys.invalidate();
      return revoked;
    },
  },

  Customer: {
    id: (customer) => customer.externalId,
    // Personal data: decrypted on demand, and the read is recorded for the audit log.
    email: (customer, _args, context) => {
      context.personalDataReads.add(customer.externalId);
      return customer.emailCiphertext === null ? null : contactOf(context.services.store, customer).email;
    },
    phone: (customer, _args, context) => {
      context.personalDataReads.add(customer.externalId);
      return customer.phoneCiphertext === null ? null : contactOf(context.services.store, customer).phone;
    },
    name: (customer, _args, context) => {
      if (customer.name !== null) context.personalDataReads.add(customer.externalId);
      return customer.name;
    },
    isStub: (customer) => customer.attributes['stub'] === true,
    consent: (customer) => ({
      email: { granted: customer.emailConsent, changedAt: customer.emailConsentAt, source: customer.emailConsentSource },
      sms: { granted: customer.smsConsent, changedAt: customer.smsConsentAt, source: customer.smsConsentSource },
    }),
    interactions: (customer, args, context) => listInteractions(context.services.store, { ...args, customerId: customer.id }),
  },
  Interaction: {
    id: (interaction) => (interaction.eventId?.startsWith('e:') ? interaction.eventId.slice(2) : `i${interaction.id}`),
    customer: async (interaction, _args, context) => {
      const customer = await context.loaders.customer.load(interaction.customerId);
      if (!customer) throw new Error(`interaction ${interaction.id} has no customer`);
      return customer;
    },
    item: async (interaction, _args, context) => {
      const item = await context.loaders.item.load(interaction.itemId);
      if (!item) throw new Error(`interaction ${interaction.id} has no item`);
      return item;
    },
    amount: (interaction) => (interaction.amount === null ? null : Number(interaction.amount)),
  },
  InteractionConnection: connectionFields<InteractionRecord>(),
  DataQualityReport: {
    interactionsByType: (report) => report.interactionsByType.map((t) => ({ key: t.type, count: t.count })),
    rejectedRowsByReason: (report) => report.rejectedRowsByReason.map((r) => ({ key: r.code, count: r.count })),
  },
  DuplicateCustomerGroup: {
    reason: (group) => group.reason.toUpperCase(),
  },
  Item: {
    id: (item) => item.externalId,
    price: (item) => (item.price === null ? null : Number(item.price)),
  },
  ApiKey: {
    id: (key) => String(key.id),
    scopes: (key) => key.scopes.map(toScope),
  },
  AdminUser: {
    id: (user) => String(user.id),
    role: (user) => user.role.toUpperCase() as 'ADMIN' | 'MARKETER' | 'VIEWER',
  },
  CustomerConnection: connectionFields<CustomerRecord>(),
  ItemConnection: connectionFields<ItemRecord>(),
  AuditEntryConnection: connectionFields<AuditEntryRecord>(),
  AuditEntry: {
    id: (entry) => String(entry.id),
  },
};

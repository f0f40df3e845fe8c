import { createHash } from 'node:crypto';
import * as field from './fields.js';

// What makes an interaction valid, apart from the database: the import's reader threads check
// every row with this, and loading it must not load the database layer (the package's index
// took 180 ms to import, on the critical path of a bulk import's start).

export interface InteractionInput {
  eventId?: unknown;
  customerId: unknown;
  itemId: unknown;
  type: unknown;
  value?: unknown;
  quantity?: unknown;
  amount?: unknown;
  occurredAt: unknown;
}

/** A validated interaction, still addressed by external ids. */
export interface InteractionRow {
  eventId: string;
  customerExternalId: string;
  itemExternalId: string;
  type: string;
  value: number | null;
  quantity: number | null;
  amount: number | null;
  occurredAt: Date;
}

export const RATING_MIN = 0.5;
export const RATING_MAX = 5;

/** A stable event id from the row's content, so resending an interaction changes nothing. */
export function contentEventId(prefix: string, parts: readonly unknown[]): string {
  return `${prefix}:${createHash('sha256').update(JSON.stringify(parts)).digest('base64url').slice(0, 32)}`;
}

type Checked = { ok: true; row: InteractionRow } | { ok: false; field: string; code: string; message: string };

/** Validates one interaction; the messages name the field, what was expected and what came. */
export function validateInteraction(input: InteractionInput, types: readonly string[], now = Date.now()): Checked {
  const bad = (name: string, message: string, code = 'INVALID_VALUE'): Checked => ({ ok: false, field: name, code, message: `${name}: ${message}` });
  const customer = field.externalId(input.customerId);
  if (!customer.ok) return bad('customerId', customer.message, input.customerId === undefined || input.customerId === null || input.customerId === '' ? 'MISSING_CUSTOMER_ID' : 'INVALID_VALUE');
  const item = field.externalId(input.itemId);
  if (!item.ok) return bad('itemId', item.message);
  const type = typeof input.type === 'string' ? input.type.trim().toLowerCase() : input.type;
  if (typeof type !== 'string' || !types.includes(type)) {
    return bad('type', `expected one of ${types.join(', ')}, got ${JSON.stringify(input.type)}`, 'UNKNOWN_TYPE');
  }
  const occurredAt = field.dateTime(input.occurredAt, now);
  if (!(occurredAt instanceof Date)) return bad('occurredAt', occurredAt.message);

  const number = (name: string, value: unknown): number | null | Checked => {
    if (value === undefined || value === null || value === '') return null;
    const n = typeof value === 'string' ? Number(value) : value;
    if (typeof n !== 'number' || !Number.isFinite(n)) return bad(name, `expected a number, got ${JSON.stringify(value)}`);
    return n;
  };
  const value = number('value', input.value);
  if (typeof value === 'object' && value !== null) return value;
  const quantity = number('quantity', input.quantity);
  if (typeof quantity === 'object' && quantity !== null) return quantity;
  const amount = number('amount', input.amount);
  if (typeof amount === 'object' && amount !== null) return amount;

  if (type === 'rating') {
    if (value === null) return bad('value', `a rating needs a value from ${RATING_MIN} to ${RATING_MAX}`, 'MISSING_FIELD');
    if (value < RATING_MIN || value > RATING_MAX) return bad('value', `expected a rating from ${RATING_MIN} to ${RATING_MAX}, got ${value}`, 'OUT_OF_RANGE');
  }
  if (quantity !== null && (!Number.isInteger(quantity) || quantity === 0 || Math.abs(quantity) > 1_000_000)) {
    return bad('quantity', `expected a whole number other than 0 (negative for a return), got ${quantity}`);
  }
  if (amount !== null && Math.abs(amount) >= 1e12) return bad('amount', `expected less than 1e12 in size, got ${amount}`);
  if (amount !== null && amount < 0 && (quantity === null || quantity > 0)) {
    return bad('amount', `a negative amount is only valid with a negative quantity (a return), got ${amount}`);
  }

  let eventId: string;
  if (input.eventId !== undefined && input.eventId !== null && input.eventId !== '') {
    const id = field.externalId(input.eventId);
    if (!id.ok) return bad('eventId', id.message);
    eventId = `e:${id.value}`;
  } else {
    eventId = contentEventId('h', [customer.value, item.value, type, occurredAt.toISOString(), value, quantity, amount]);
  }
  const row: InteractionRow = {
    eventId,
    customerExternalId: customer.value,
    itemExternalId: item.value,
    type,
    value,
    quantity: type === 'purchase' && quantity === null ? 1 : quantity,
    amount,
    occurredAt,
  };
  return { ok: true, row };
}

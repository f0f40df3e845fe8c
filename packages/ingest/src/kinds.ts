import type { CustomerInput, ItemInput } from '@clientele/domain';
// The rules only: the reader threads of a bulk import load this module, and the package's index would load its database layer too.
import { validateInteraction, type InteractionInput, type InteractionRow } from '@clientele/domain/rules';
import { onlineRetailCountry } from './countries.js';
import { ImportError, rejectionCode, type RejectionCode } from './errors.js';
import type { EventIdSource } from './event-ids.js';
import * as v from './values.js';
import { isProblem, problem, type Problem } from './values.js';

/** What a file holds: one of the project's own formats, or a named preset. */
export type ImportKind = 'customers' | 'items' | 'interactions' | 'online-retail';

export const IMPORT_KINDS: readonly ImportKind[] = ['customers', 'items', 'interactions', 'online-retail'];

/**
 * Where each field comes from: a column name (CSV header or NDJSON property), or a constant
 * for every row, e.g. `{ customer_id: 'userId', type: { constant: 'rating' } }`.
 */
export type ColumnMapping = Readonly<Record<string, string | { constant: string }>>;

/** The fields of each kind, named as the columns of the project's own format (the default mapping). */
export const KIND_FIELDS = {
  customers: ['id', 'email', 'phone', 'name', 'country', 'attributes', 'email_consent', 'sms_consent'],
  items: ['id', 'title', 'categories', 'price', 'currency', 'in_stock', 'attributes'],
  interactions: ['event_id', 'customer_id', 'item_id', 'type', 'value', 'quantity', 'amount', 'occurred_at'],
  'online-retail': ['InvoiceNo', 'StockCode', 'Description', 'Quantity', 'InvoiceDate', 'UnitPrice', 'CustomerID', 'Country'],
} as const satisfies Record<ImportKind, readonly string[]>;

/** Fields whose column must be in a CSV header (or mapped to a constant). */
const REQUIRED: Record<ImportKind, readonly string[]> = {
  customers: ['id'],
  items: ['id'],
  interactions: ['customer_id', 'item_id', 'type', 'occurred_at'],
  'online-retail': ['InvoiceNo', 'StockCode', 'Quantity', 'InvoiceDate', 'UnitPrice', 'CustomerID'],
};

/** How one field is read from a row. */
export interface Binding {
  field: string;
  /** The column (or property) name used in messages; null when the field is not in the file. */
  column: string | null;
  /** CSV: index in the record; -1 when absent or constant. */
  index: number;
  constant: string | undefined;
}

/** Reads one row's value for a field (by its position in KIND_FIELDS). */
export type Cells = (field: number) => unknown;

function normaliseName(name: string): string {
  return name.trim().toLowerCase();
}

function checkMapping(kind: ImportKind, mapping: ColumnMapping | undefined): void {
  if (!mapping) return;
  const fields: readonly string[] = KIND_FIELDS[kind];
  for (const [field, source] of Object.entries(mapping)) {
    if (!fields.includes(field)) {
      throw new ImportError('BAD_OPTION', `mapping: '${field}' is not a field of ${kind}; expected one of ${fields.join(', ')}`, 'mapping');
    }
    const ok = typeof source === 'string' ? source.trim() !== '' : typeof source === 'object' && source !== null && typeof source.constant === 'string';
    if (!ok) {
      throw new ImportError('BAD_OPTION', `mapping.${field}: expected a column name or { constant: '…' }, got ${v.show(source)}`, 'mapping');
    }
  }
}

/** Binds fields to CSV header columns; refuses duplicate names and missing required columns. */
export function bindCsvHeader(kind: ImportKind, header: readonly string[], mapping: ColumnMapping | undefined, file: string): { bindings: Binding[]; ignored: string[] } {
  checkMapping(kind, mapping);
  const positions = new Map<string, number[]>();
  header.forEach((name, index) => {
    const key = normaliseName(name);
    if (key === '') return;
    positions.set(key, [...(positions.get(key) ?? []), index]);
  });
  const duplicates = [...positions.entries()].filter(([, at]) => at.length > 1);
  if (duplicates.length > 0) {
    const list = duplicates.map(([, at]) => `'${header[at[0] ?? 0]?.trim()}' (columns ${at.map((i) => i + 1).join(' and ')})`).join(', ');
    throw new ImportError('DUPLICATE_HEADERS', `${file} line 1: the header names a column more than once: ${list}; expected each column name once`);
  }
  const used = new Set<number>();
  const missing: string[] = [];
  const bindings = KIND_FIELDS[kind].map((field): Binding => {
    const source = mapping?.[field];
    if (typeof source === 'object') return { field, column: field, index: -1, constant: source.constant };
    const wanted = source ?? field;
    const index = positions.get(normaliseName(wanted))?.[0];
    if (index === undefined) {
      if (source !== undefined) {
        throw new ImportError(
          'UNKNOWN_COLUMN',
          `${file}: the mapping takes ${field} from column '${wanted}', but the header has no such column (it has ${header.map((h) => `'${h.trim()}'`).join(', ')})`,
          'mapping',
        );
      }
      if (REQUIRED[kind].includes(field)) missing.push(field);
      return { field, column: null, index: -1, constant: undefined };
    }
    used.add(index);
    return { field, column: header[index]?.trim() ?? wanted, index, constant: undefined };
  });
  if (missing.length > 0) {
    throw new ImportError(
      'MISSING_COLUMNS',
      `${file} line 1: expected the column${missing.length > 1 ? 's' : ''} ${missing.join(', ')} for ${kind}, got a header with ${header.map((h) => `'${h.trim()}'`).join(', ')}${kind === 'online-retail' ? '' : ' (map other names with a column mapping)'}`,
    );
  }
  const ignored = header.filter((name, index) => !used.has(index) && name.trim() !== '');
  return { bindings, ignored };
}

/** Binds fields to NDJSON properties (no header: a missing required property rejects the row). */
export function bindNdjson(kind: ImportKind, mapping: ColumnMapping | undefined): Binding[] {
  checkMapping(kind, mapping);
  return KIND_FIELDS[kind].map((field) => {
    const source = mapping?.[field];
    if (typeof source === 'object') return { field, column: field, index: -1, constant: source.constant };
    return { field, column: source ?? field, index: -1, constant: undefined };
  });
}

/** A rejected row before it is given its file and line. */
export interface RowProblem {
  field: string | null;
  code: RejectionCode;
  message: string;
}

const rowProblem = (field: string | null, p: Problem): RowProblem => ({ field, code: p.code, message: p.message });

/** Context shared by the converters of one import. */
export interface ConvertContext {
  now: number;
  interactionTypes: readonly string[];
  /** Where consent changes say they came from, e.g. `import:<job id>`. */
  source: string;
  eventIds: EventIdSource;
}

// ---- customers -------------------------------------------------------------------------------

const enum C {
  Id,
  Email,
  Phone,
  Name,
  Country,
  Attributes,
  EmailConsent,
  SmsConsent,
}

export function convertCustomer(cell: Cells, ctx: ConvertContext): CustomerInput | RowProblem {
  const id = v.text(cell(C.Id), 200);
  if (isProblem(id)) return rowProblem('id', id);
  if (id === undefined || id === null) return { field: 'id', code: 'MISSING_FIELD', message: 'expected a customer id, got an empty value' };
  const input: CustomerInput = { id };
  const texts = [
    ['email', C.Email, 320],
    ['phone', C.Phone, 40],
    ['name', C.Name, 300],
    ['country', C.Country, 2],
  ] as const;
  for (const [name, index, max] of texts) {
    const raw = cell(index);
    // Leave length checks of country to the domain, whose message names the format.
    const value = v.text(raw, name === 'country' ? 100 : max);
    if (isProblem(value)) return rowProblem(name, value);
    if (value !== undefined) input[name] = value;
  }
  const attributes = v.jsonObject(cell(C.Attributes));
  if (isProblem(attributes)) return rowProblem('attributes', attributes);
  if (attributes !== undefined) input.attributes = attributes;
  const consent: { channel: string; granted: boolean; source: string }[] = [];
  for (const [name, index, channel] of [
    ['email_consent', C.EmailConsent, 'email'],
    ['sms_consent', C.SmsConsent, 'sms'],
  ] as const) {
    const granted = v.boolean(cell(index));
    if (isProblem(granted)) return rowProblem(name, granted);
    if (typeof granted === 'boolean') consent.push({ channel, granted, source: ctx.source });
  }
  if (consent.length > 0) input.consent = consent;
  return input;
}

// ---- items -------------------------------------------------------------------------------------

const enum I {
  Id,
  Title,
  Categories,
  Price,
  Currency,
  InStock,
  Attributes,
}

export function convertItem(cell: Cells): ItemInput | RowProblem {
  const id = v.text(cell(I.Id), 200);
  if (isProblem(id)) return rowProblem('id', id);
  if (id === undefined || id === null) return { field: 'id', code: 'MISSING_FIELD', message: 'expected an item id, got an empty value' };
  const input: ItemInput = { id };
  const title = v.text(cell(I.Title), 500);
  if (isProblem(title)) return rowProblem('title', title);
  if (title !== undefined) input.title = title;
  const categories = v.list(cell(I.Categories));
  if (isProblem(categories)) return rowProblem('categories', categories);
  if (categories !== undefined) input.categories = categories;
  const price = v.number(cell(I.Price));
  if (isProblem(price)) return rowProblem('price', price);
  if (typeof price === 'number' && price < 0) return { field: 'price', code: 'NEGATIVE_PRICE', message: `expected a price of zero or more, got ${price}` };
  if (price !== undefined) input.price = price;
  const currency = v.text(cell(I.Currency), 20);
  if (isProblem(currency)) return rowProblem('currency', currency);
  if (currency !== undefined) input.currency = currency;
  const inStock = v.boolean(cell(I.InStock));
  if (isProblem(inStock)) return rowProblem('in_stock', inStock);
  if (inStock !== undefined && inStock !== null) input.inStock = inStock;
  const attributes = v.jsonObject(cell(I.Attributes));
  if (isProblem(attributes)) return rowProblem('attributes', attributes);
  if (attributes !== undefined) input.attributes = attributes;
  return input;
}

// ---- interactions -------------------------------------------------------------------------------

const enum X {
  EventId,
  CustomerId,
  ItemId,
  Type,
  Value,
  Quantity,
  Amount,
  OccurredAt,
}

/** Domain field names of an interaction → the project's column names. */
const INTERACTION_FIELDS: Record<string, string> = {
  eventId: 'event_id',
  customerId: 'customer_id',
  itemId: 'item_id',
  type: 'type',
  value: 'value',
  quantity: 'quantity',
  amount: 'amount',
  occurredAt: 'occurred_at',
};

/**
 * Stands in for a missing event id while the domain validates the row, so the domain does
 * not hash the content only for the import to replace the id with its own; never stored.
 */
const PLACEHOLDER_EVENT_ID = '-';

function domainCheck(input: InteractionInput, ctx: ConvertContext, fields: Record<string, string>): InteractionRow | RowProblem {
  const checked = validateInteraction(input, ctx.interactionTypes, ctx.now);
  if (checked.ok) return checked.row;
  const prefix = `${checked.field}: `;
  const message = checked.message.startsWith(prefix) ? checked.message.slice(prefix.length) : checked.message;
  return { field: fields[checked.field] ?? null, code: rejectionCode(checked.code), message };
}

const SEPARATOR = '\u001f';

/** The content that identifies an interaction without an event id. */
function contentKey(row: InteractionRow): string {
  const { customerExternalId: customer, itemExternalId: item, type } = row;
  // Ids holding the separator fall back to JSON, so two different rows never share a key.
  if (customer.includes(SEPARATOR) || item.includes(SEPARATOR) || type.includes(SEPARATOR)) {
    return JSON.stringify([customer, item, type, row.occurredAt.getTime(), row.value, row.quantity, row.amount]);
  }
  return `${customer}${SEPARATOR}${item}${SEPARATOR}${type}${SEPARATOR}${row.occurredAt.getTime()}${SEPARATOR}${row.value ?? ''}${SEPARATOR}${row.quantity ?? ''}${SEPARATOR}${row.amount ?? ''}`;
}

export function convertInteraction(cell: Cells, ctx: ConvertContext): InteractionRow | RowProblem {
  const eventId = v.text(cell(X.EventId), 200);
  if (isProblem(eventId)) return rowProblem('event_id', eventId);
  const customerId = v.text(cell(X.CustomerId), 200);
  if (isProblem(customerId)) return rowProblem('customer_id', customerId);
  if (customerId === undefined || customerId === null) return { field: 'customer_id', code: 'MISSING_CUSTOMER_ID', message: 'expected a customer id, got an empty value' };
  const itemId = v.text(cell(X.ItemId), 200);
  if (isProblem(itemId)) return rowProblem('item_id', itemId);
  if (itemId === undefined || itemId === null) return { field: 'item_id', code: 'MISSING_FIELD', message: 'expected an item id, got an empty value' };
  const type = v.text(cell(X.Type), 100);
  if (isProblem(type)) return rowProblem('type', type);
  if (type === undefined || type === null) return { field: 'type', code: 'MISSING_FIELD', message: `expected an interaction type (${ctx.interactionTypes.join(', ')}), got an empty value` };
  const value = v.number(cell(X.Value));
  if (isProblem(value)) return rowProblem('value', value);
  const quantity = v.number(cell(X.Quantity));
  if (isProblem(quantity)) return rowProblem('quantity', quantity);
  const amount = v.number(cell(X.Amount));
  if (isProblem(amount)) return rowProblem('amount', amount);
  const occurredAt = v.dateTime(cell(X.OccurredAt), ctx.now);
  if (isProblem(occurredAt)) return rowProblem('occurred_at', occurredAt);
  if (occurredAt === undefined) return { field: 'occurred_at', code: 'MISSING_FIELD', message: 'expected when it happened (an ISO-8601 date), got an empty value' };
  return finishInteraction({ eventId, customerId, itemId, type, value, quantity, amount, occurredAt }, ctx);
}

/**
 * The domain's checks and the derived event id, for an interaction whose cells are parsed
 * (an absent event id is `undefined` or `null`). Shared by convertInteraction and the bulk
 * import's line reader (bulk-lines.ts), so both accept and store exactly the same rows.
 */
export function finishInteraction(input: InteractionInput, ctx: ConvertContext): InteractionRow | RowProblem {
  const given = input.eventId !== undefined && input.eventId !== null;
  if (!given) input.eventId = PLACEHOLDER_EVENT_ID;
  const row = domainCheck(input, ctx, INTERACTION_FIELDS);
  if ('code' in row) return row;
  if (!given) {
    const length = contentUnits(row);
    row.eventId = length >= 0 ? ctx.eventIds.nextUnits(content, length) : ctx.eventIds.next(contentKey(row));
  }
  return row;
}

let content = new Uint16Array(1024);

/**
 * contentKey(row) as UTF-16 code units in `content` (its length), without building the string
 * (a bulk import derives an id for most rows); -1 when an id holds the separator (the JSON form).
 */
function contentUnits(row: InteractionRow): number {
  const { customerExternalId: customer, itemExternalId: item, type } = row;
  const room = customer.length + item.length + type.length + 128;
  if (room > content.length) content = new Uint16Array(2 * room);
  const units = content;
  let at = 0;
  for (const text of [customer, item, type]) {
    for (let i = 0; i < text.length; i++) {
      const c = text.charCodeAt(i);
      if (c === 0x1f) return -1;
      units[at++] = c;
    }
    units[at++] = 0x1f;
  }
  at = writeDecimal(units, at, row.occurredAt.getTime());
  for (const value of [row.value, row.quantity, row.amount]) {
    units[at++] = 0x1f;
    if (value !== null) {
      const text = String(value);
      for (let i = 0; i < text.length; i++) units[at++] = text.charCodeAt(i);
    }
  }
  return at;
}

/** String(n) of an integer time (as contentKey writes it) into `units`. */
function writeDecimal(units: Uint16Array, at: number, n: number): number {
  if (!Number.isSafeInteger(n)) {
    const text = String(n);
    for (let i = 0; i < text.length; i++) units[at++] = text.charCodeAt(i);
    return at;
  }
  if (n < 0) {
    units[at++] = 45;
    n = -n;
  }
  let digits = 1;
  for (let x = n; x >= 10; x = Math.floor(x / 10)) digits++;
  for (let i = digits - 1, x = n; i >= 0; i--) {
    const q = Math.floor(x / 10);
    units[at + i] = 48 + (x - q * 10);
    x = q;
  }
  return at + digits;
}

// ---- the UCI Online Retail preset ------------------------------------------------------------

const enum R {
  InvoiceNo,
  StockCode,
  Description,
  Quantity,
  InvoiceDate,
  UnitPrice,
  CustomerID,
  Country,
}

const RETAIL_FIELDS: Record<string, string> = {
  eventId: 'InvoiceNo',
  customerId: 'CustomerID',
  itemId: 'StockCode',
  quantity: 'Quantity',
  amount: 'UnitPrice',
  occurredAt: 'InvoiceDate',
};

/** One Online Retail line: the customer, the item and the purchase (or cancellation) it holds. */
export interface RetailRow {
  customer: CustomerInput;
  /** Null title when the line has no description (an unknown item then becomes a stub). */
  item: ItemInput;
  interaction: InteractionRow;
}

/** `12/1/2010 8:26`, as in the CSV exports of the original spreadsheet (month first). */
const US_DATE = /^(\d{1,2})\/(\d{1,2})\/(\d{4})\s+(\d{1,2}):(\d{2})(?::(\d{2}))?$/;

function retailDate(raw: unknown, now: number): Date | undefined | Problem {
  if (typeof raw === 'string') {
    const m = US_DATE.exec(raw.trim());
    if (m) {
      const time = v.utc(Number(m[3]), Number(m[1]), Number(m[2]), Number(m[4]), Number(m[5]), Number(m[6] ?? 0), 0);
      if (Number.isNaN(time)) return problem('INVALID_DATE', `expected a real date and time, got ${v.show(raw)}`);
      return v.dateTime(new Date(time).toISOString(), now);
    }
  }
  return v.dateTime(raw, now);
}

/** `12923.0` → `12923` (the spreadsheet stored customer ids as floats). */
function retailCustomerId(raw: string): string {
  return /^\d+\.0+$/.test(raw) ? raw.slice(0, raw.indexOf('.')) : raw;
}

export function convertRetail(cell: Cells, ctx: ConvertContext): RetailRow | RowProblem {
  const invoice = v.text(cell(R.InvoiceNo), 100);
  if (isProblem(invoice)) return rowProblem('InvoiceNo', invoice);
  if (invoice === undefined || invoice === null) return { field: 'InvoiceNo', code: 'MISSING_FIELD', message: 'expected an invoice number, got an empty value' };
  const customerRaw = v.text(cell(R.CustomerID), 200);
  if (isProblem(customerRaw)) return rowProblem('CustomerID', customerRaw);
  if (customerRaw === undefined || customerRaw === null) {
    return { field: 'CustomerID', code: 'MISSING_CUSTOMER_ID', message: 'expected a customer id, got an empty value (the purchase cannot be attributed)' };
  }
  const stockCode = v.text(cell(R.StockCode), 200);
  if (isProblem(stockCode)) return rowProblem('StockCode', stockCode);
  if (stockCode === undefined || stockCode === null) return { field: 'StockCode', code: 'MISSING_FIELD', message: 'expected a stock code, got an empty value' };
  const description = v.text(cell(R.Description), 500);
  if (isProblem(description)) return rowProblem('Description', description);
  const quantityRaw = v.integer(cell(R.Quantity));
  if (isProblem(quantityRaw)) return rowProblem('Quantity', quantityRaw);
  if (quantityRaw === undefined || quantityRaw === null) return { field: 'Quantity', code: 'MISSING_FIELD', message: 'expected a quantity, got an empty value' };
  const price = v.number(cell(R.UnitPrice));
  if (isProblem(price)) return rowProblem('UnitPrice', price);
  if (price === undefined || price === null) return { field: 'UnitPrice', code: 'MISSING_FIELD', message: 'expected a unit price, got an empty value' };
  if (price < 0) return { field: 'UnitPrice', code: 'NEGATIVE_PRICE', message: `expected a unit price of zero or more, got ${price}` };
  if (price >= 1e10) return { field: 'UnitPrice', code: 'INVALID_VALUE', message: `expected a unit price below 1e10, got ${price}` };
  const occurredAt = retailDate(cell(R.InvoiceDate), ctx.now);
  if (isProblem(occurredAt)) return rowProblem('InvoiceDate', occurredAt);
  if (occurredAt === undefined) return { field: 'InvoiceDate', code: 'MISSING_FIELD', message: 'expected an invoice date, got an empty value' };
  const countryName = v.text(cell(R.Country), 100);
  if (isProblem(countryName)) return rowProblem('Country', countryName);

  // Invoices starting with C are cancellations: a purchase with a negative quantity and amount.
  const cancelled = invoice.startsWith('C') || invoice.startsWith('c');
  const quantity = cancelled ? -Math.abs(quantityRaw) : quantityRaw;
  const amount = Math.round(quantity * price * 100) / 100;
  const customerId = retailCustomerId(customerRaw);
  const row = domainCheck(
    { eventId: PLACEHOLDER_EVENT_ID, customerId, itemId: stockCode, type: 'purchase', quantity, amount, occurredAt },
    ctx,
    RETAIL_FIELDS,
  );
  if ('code' in row) return row;
  row.eventId = ctx.eventIds.next(
    JSON.stringify([invoice, stockCode, description ?? '', quantityRaw, occurredAt.getTime(), price, customerId, countryName ?? '']),
  );

  const customer: CustomerInput = { id: customerId };
  if (countryName !== undefined && countryName !== null) {
    const code = onlineRetailCountry(countryName);
    customer.country = code;
    if (code === null) customer.attributes = { country_name: countryName };
  }
  const item: ItemInput = { id: stockCode, price, currency: 'GBP' };
  if (description !== undefined && description !== null) item.title = description;
  return { customer, item, interaction: row };
}

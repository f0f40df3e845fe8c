import type { InteractionRow } from '@clientele/domain';
import { InteractionLineReader } from './bulk-lines.js';
import { CsvReader, type CsvProblem, type CsvRecord } from './csv.js';
import type { Rejection } from './errors.js';
import { EventIdHasher, seenHash } from './event-ids.js';
import { IdCache } from './id-cache.js';
import { convertInteraction, type Binding, type ConvertContext } from './kinds.js';
import { boundColumn, columnCountProblem, csvCells, describeCsvProblem, problemColumn, rejectionAt } from './rows.js';

// Rows of a bulk interactions import as load-table rows (binary COPY, see CopyRows), and the
// reading of one piece of a CSV file into such rows (on a worker thread in a parallel bulk
// import, see bulk-readers.ts).
//
// A load-table row holds event_id, customer_id, item_id and the tail: type, value, quantity,
// amount and occurred_at. A piece reader writes whole rows for
// rows whose customer and item ids it knows (ids the main thread resolved earlier and passed
// on), and leaves the others pending with their external ids. Event ids are hashed here, but
// two things need the whole file in order and stay on the main thread: the occurrence number
// that tells identical rows apart (derived ids), and the check for an explicit id repeating an
// earlier line. For those it gets each row's hash words.

/**
 * Load-table rows in PostgreSQL's binary COPY format, gathered in one growing buffer: a batch's
 * 20,000 lines as strings outlived the young generation, and the garbage collector copying
 * them cost more than building them. Binary rather than text: PostgreSQL COPYs a million rows
 * in 1.6 s instead of 2.5 (no number or timestamp to parse), and the readers write ids and
 * times as 8 bytes instead of digits. A row is an int16 field count, then per field an int32
 * length (-1 for NULL) and the value: event_id, customer_id, item_id, type, value (float8),
 * quantity (int4), amount (numeric), occurred_at (int8 microseconds since 2000), and in the
 * repeats table the file's line (int8).
 */
export class CopyRows {
  private buffer: Buffer;
  length = 0;

  constructor(initialBytes = 1 << 20) {
    this.buffer = Buffer.allocUnsafe(initialBytes);
  }

  private room(bytes: number): void {
    if (this.length + bytes <= this.buffer.length) return;
    const bigger = Buffer.allocUnsafe(Math.max(this.buffer.length * 2, this.length + bytes));
    this.buffer.copy(bigger, 0, 0, this.length);
    this.buffer = bigger;
  }

  appendBytes(bytes: Uint8Array): void {
    this.room(bytes.length);
    this.buffer.set(bytes, this.length);
    this.length += bytes.length;
  }

  bytes(): Buffer {
    return this.buffer.subarray(0, this.length);
  }

  /** Appends the load-table row of a row whose ids are known. */
  appendLoadRow(eventId: string, customer: number, item: number, row: InteractionRow): void {
    this.room(3 * (eventId.length + row.type.length) + 128);
    const b = this.buffer;
    b.writeInt16BE(LOAD_FIELDS, this.length);
    let at = writeTextField(b, this.length + 2, eventId);
    at = writeInt8Field(b, at, customer);
    at = writeInt8Field(b, at, item);
    this.length = writeTail(b, at, row);
  }

  /**
   * Appends the row of a pending row once its ids are known (`tail` from loadTail), and the
   * file's line after it for the repeats table.
   */
  appendPendingRow(eventId: string, customer: number, item: number, tail: string, line: number | null): void {
    this.room(3 * eventId.length + tail.length + 64);
    const b = this.buffer;
    b.writeInt16BE(line === null ? LOAD_FIELDS : LOAD_FIELDS + 1, this.length);
    let at = writeTextField(b, this.length + 2, eventId);
    at = writeInt8Field(b, at, customer);
    at = writeInt8Field(b, at, item);
    at += b.write(tail, at, 'latin1');
    this.length = line === null ? at : writeInt8Field(b, at, line);
  }

  /** Appends a copy of a load-table row (`bytes`, a whole row) with another event id. */
  appendWithEventId(bytes: Uint8Array, eventId: string): void {
    const rest = EVENT_ID_FIELD + 4 + ((bytes[2] as number) << 24 | (bytes[3] as number) << 16 | (bytes[4] as number) << 8 | (bytes[5] as number));
    this.room(bytes.length + 3 * eventId.length + 8);
    const b = this.buffer;
    b.writeInt16BE(LOAD_FIELDS, this.length);
    const at = writeTextField(b, this.length + EVENT_ID_FIELD, eventId);
    b.set(bytes.subarray(rest), at);
    this.length = at + bytes.length - rest;
  }

  /** Appends a copy of a load-table row (`bytes`, a whole row) as a repeats-table row with its line. */
  appendRepeatRow(bytes: Uint8Array, line: number): void {
    this.room(bytes.length + 12);
    const b = this.buffer;
    b.set(bytes, this.length);
    b.writeInt16BE(LOAD_FIELDS + 1, this.length);
    this.length = writeInt8Field(b, this.length + bytes.length, line);
  }
}

/** Fields of a load-table row. */
export const LOAD_FIELDS = 8;

/** Where a row's event id field starts (after the field count), and its bytes. */
export const EVENT_ID_FIELD = 2;


const TWO_32 = 2 ** 32;
/** 2000-01-01T00:00:00Z, PostgreSQL's epoch for timestamps. */
const PG_EPOCH_MS = 946_684_800_000;
/** Microseconds from PG_EPOCH_MS within which a double holds them exactly (2^53). */
const EXACT_MICROS = 9_007_199_254_740_991;

/** A text field: its UTF-8 bytes after their length. */
export function writeTextField(b: Buffer, at: number, text: string): number {
  const start = at + 4;
  let end = start;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c >= 0x80) {
      end = start + b.write(text, start, 'utf8');
      break;
    }
    b[end++] = c;
  }
  b.writeInt32BE(end - start, at);
  return end;
}

/** An int8 field from a safe integer. */
function writeInt8Field(b: Buffer, at: number, n: number): number {
  b.writeInt32BE(8, at);
  const high = Math.floor(n / TWO_32);
  b.writeInt32BE(high, at + 4);
  b.writeUInt32BE(n - high * TWO_32, at + 8);
  return at + 12;
}

/** The fields after item_id: type, value, quantity, amount, occurred_at. */
function writeTail(b: Buffer, at: number, row: InteractionRow): number {
  at = writeTextField(b, at, row.type);
  if (row.value === null) at = writeNull(b, at);
  else {
    b.writeInt32BE(8, at);
    b.writeDoubleBE(row.value + 0, at + 4); // -0 as 0, as the text format wrote it
    at += 12;
  }
  if (row.quantity === null) at = writeNull(b, at);
  else {
    b.writeInt32BE(4, at);
    b.writeInt32BE(row.quantity, at + 4);
    at += 8;
  }
  at = row.amount === null ? writeNull(b, at) : writeNumericField(b, at, row.amount);
  const micros = (row.occurredAt.getTime() - PG_EPOCH_MS) * 1000;
  b.writeInt32BE(8, at);
  if (Math.abs(micros) <= EXACT_MICROS) {
    const high = Math.floor(micros / TWO_32);
    b.writeInt32BE(high, at + 4);
    b.writeUInt32BE(micros - high * TWO_32, at + 8);
  } else {
    b.writeBigInt64BE(BigInt(row.occurredAt.getTime() - PG_EPOCH_MS) * 1000n, at + 4);
  }
  return at + 12;
}

function writeNull(b: Buffer, at: number): number {
  b.writeInt32BE(-1, at);
  return at + 4;
}

/**
 * A numeric field holding exactly the decimal that String(value) spells (the text format sent
 * that string): base-10000 digits around the decimal point, with every fractional digit in the
 * display scale, so the column's typmod rounds it as it rounds the text.
 */
export function writeNumericField(b: Buffer, at: number, value: number): number {
  const text = String(value); // e.g. 19.9, -5.5, 1e-7, 1.5e+21
  const negative = text.charCodeAt(0) === 45;
  let digits = '';
  let point = -1;
  let exponent = 0;
  for (let i = negative ? 1 : 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c === 46) point = digits.length;
    else if (c === 101) {
      exponent = Number(text.slice(i + 1));
      break;
    } else digits += text[i];
  }
  if (point < 0) point = digits.length;
  point += exponent; // where the decimal point falls in `digits` (may be outside it)
  const scale = Math.max(0, digits.length - point);
  if (point < 0) {
    digits = '0'.repeat(-point) + digits;
    point = 0;
  } else if (point > digits.length) {
    digits += '0'.repeat(point - digits.length);
  }
  // Whole groups of four digits on each side of the point.
  const whole = '0'.repeat((4 - (point % 4)) % 4) + digits.slice(0, point);
  const fraction = digits.slice(point);
  const aligned = whole + fraction + '0'.repeat((4 - (fraction.length % 4)) % 4);
  let weight = whole.length / 4 - 1;
  let start = 0;
  let end = aligned.length / 4;
  const group = (g: number) => Number(aligned.slice(4 * g, 4 * g + 4));
  while (start < end && group(start) === 0) {
    start++;
    weight--;
  }
  while (end > start && group(end - 1) === 0) end--;
  const count = end - start;
  b.writeInt32BE(8 + 2 * count, at);
  b.writeInt16BE(count, at + 4);
  b.writeInt16BE(count === 0 ? 0 : weight, at + 6);
  b.writeUInt16BE(negative && count > 0 ? 0x4000 : 0, at + 8);
  b.writeInt16BE(scale, at + 10);
  for (let g = 0; g < count; g++) b.writeInt16BE(group(start + g), at + 12 + 2 * g);
  return at + 12 + 2 * count;
}

const TAIL_SCRATCH = Buffer.alloc(1 << 12);

/** A row's fields after item_id, in binary, as a latin1 string (a pending row carries it to the main thread). */
export function loadTail(row: InteractionRow): string {
  const bytes = row.type.length * 3 + 64 <= TAIL_SCRATCH.length ? TAIL_SCRATCH : Buffer.alloc(row.type.length * 3 + 64);
  return bytes.toString('latin1', 0, writeTail(bytes, 0, row));
}

/** External ids remembered per kind (~100 bytes each): enough for most catalogues and customer bases. */
export const ID_CACHE = 500_000;

/** A row whose customer or item id was not known where it was read. */
export interface PendingRow {
  line: number;
  eventId: string;
  customer: string;
  item: string;
  /** Its fields after item_id, in binary (loadTail). */
  tail: string;
  /** Whether its explicit event id may repeat an earlier line (set on the main thread). */
  repeat: boolean;
}

/** Row flags in PieceRows.flags. */
export const ROW_DERIVED_ID = 1;
export const ROW_PENDING = 2;

/** What reading one piece of the file gave, in file order. */
export interface PieceRows {
  seq: number;
  /** The records rejected, in order (each was one record read). */
  rejections: Rejection[];
  /** Load-table rows (binary COPY) of the rows not pending, one after another. */
  copy: Uint8Array;
  /** Per accepted row: where its row ends in `copy` (a pending row ends where the one before it does). */
  ends: Uint32Array;
  /** Per row: its line in the file. */
  lines: Float64Array;
  /** Per row: the two hash words of its event id (see event-ids.ts). */
  hashes: Int32Array;
  /** Per row: ROW_DERIVED_ID and ROW_PENDING bits. */
  flags: Uint8Array;
  pending: PendingRow[];
}

/** What a piece reader needs to know about the import. */
export interface PieceReaderInit {
  fileName: string;
  header: string[];
  bindings: Binding[];
  delimiter: string;
  maxRecordBytes: number;
  now: number;
  interactionTypes: string[];
  /** The event-id prefix and the kind that seeds the hash (as EventIdDeriver's). */
  eventIdPrefix: string;
  kind: string;
  /** Reads every line with the general CSV reader (tests compare both ways). */
  generalOnly?: boolean;
}

/** Growable per-row arrays of one piece. */
class RowColumns {
  ends: Uint32Array;
  lines: Float64Array;
  hashes: Int32Array;
  flags: Uint8Array;
  count = 0;

  constructor(capacity: number) {
    this.ends = new Uint32Array(capacity);
    this.lines = new Float64Array(capacity);
    this.hashes = new Int32Array(capacity * 2);
    this.flags = new Uint8Array(capacity);
  }

  add(end: number, line: number, h1: number, h2: number, flags: number): void {
    if (this.count === this.ends.length) this.grow();
    const i = this.count++;
    this.ends[i] = end;
    this.lines[i] = line;
    this.hashes[2 * i] = h1;
    this.hashes[2 * i + 1] = h2;
    this.flags[i] = flags;
  }

  private grow(): void {
    const n = this.ends.length * 2;
    const ends = new Uint32Array(n);
    ends.set(this.ends);
    const lines = new Float64Array(n);
    lines.set(this.lines);
    const hashes = new Int32Array(n * 2);
    hashes.set(this.hashes);
    const flags = new Uint8Array(n);
    flags.set(this.flags);
    Object.assign(this, { ends, lines, hashes, flags });
  }
}

/** Reads pieces of a CSV interactions file into load-table rows (see the top of this file). */
export class PieceReader {
  readonly customers = new IdCache(ID_CACHE);
  readonly items = new IdCache(ID_CACHE);
  private readonly hasher: EventIdHasher;
  private readonly ctx: ConvertContext;
  private readonly words = new Uint32Array(4);
  /** The reader of plain lines (bulk-lines.ts), when the file's layout allows one; else every line goes through CsvReader. */
  private readonly lines: InteractionLineReader | null;

  constructor(private readonly init: PieceReaderInit) {
    this.hasher = new EventIdHasher(init.eventIdPrefix, init.kind);
    this.lines = init.generalOnly ? null : InteractionLineReader.for(init.header, init.bindings, init.delimiter);
    this.ctx = { now: init.now, interactionTypes: init.interactionTypes, source: '', eventIds: this.hasher };
  }

  /** Ids the main thread resolved (for the rows of later pieces). */
  learn(kind: 'customers' | 'items', names: readonly string[], ids: readonly number[]): void {
    const cache = this[kind];
    for (let i = 0; i < names.length; i++) cache.set(names[i] ?? '', ids[i] ?? 0);
  }

  read(seq: number, text: Uint8Array, firstLine: number): PieceRows {
    const { fileName, header, bindings } = this.init;
    const bytes = Buffer.from(text.buffer, text.byteOffset, text.byteLength);
    // A load-table row is about a fifth longer than its CSV line (field lengths, 8-byte ids and time).
    const copy = new CopyRows(Math.max(4096, Math.ceil(bytes.length * 1.25)));
    const columns = new RowColumns(Math.max(16, Math.ceil(bytes.length / 40)));
    const pending: PendingRow[] = [];
    const rejections: Rejection[] = [];
    const reject = (line: number, column: string | null, code: Rejection['code'], message: string) => {
      rejections.push(rejectionAt(fileName, line, column, code, message));
    };
    const emit = (line: number, row: InteractionRow): void => {
      let h1: number;
      let h2: number;
      let flags = 0;
      if (row.eventId.startsWith('e:')) {
        seenHash(row.eventId, this.words);
        h1 = this.words[0] ?? 0;
        h2 = this.words[1] ?? 1;
      } else {
        h1 = this.hasher.h1;
        h2 = this.hasher.h2;
        flags |= ROW_DERIVED_ID;
      }
      const customer = this.customers.get(row.customerExternalId);
      const item = customer === undefined ? undefined : this.items.get(row.itemExternalId);
      if (customer !== undefined && item !== undefined) {
        copy.appendLoadRow(row.eventId, customer, item, row);
      } else {
        flags |= ROW_PENDING;
        pending.push({ line, eventId: row.eventId, customer: row.customerExternalId, item: row.itemExternalId, tail: loadTail(row), repeat: false });
      }
      columns.add(copy.length, line, h1, h2, flags);
    };
    const sink = {
      problem: (problem: CsvProblem) => {
        reject(problem.line, problemColumn(header, problem), problem.code, describeCsvProblem(problem));
      },
      record: (record: CsvRecord) => {
        const wrongCount = columnCountProblem(header.length, record.fields);
        if (wrongCount !== null) return reject(record.line, null, 'COLUMN_COUNT', wrongCount);
        const row = convertInteraction(csvCells(bindings, record.fields), this.ctx);
        if ('code' in row) return reject(record.line, boundColumn(bindings, row.field), row.code, row.message);
        emit(record.line, row);
      },
    };
    const general = (start: number, end: number, line: number): void => {
      const reader = new CsvReader({ delimiter: this.init.delimiter, maxRecordBytes: this.init.maxRecordBytes, firstLine: line, skipBom: false });
      reader.push(bytes.subarray(start, end), sink);
      reader.end(sink);
    };
    if (this.lines) this.lines.read(bytes, firstLine, this.ctx, { row: emit, general });
    else general(0, bytes.length, firstLine);
    const n = columns.count;
    return {
      seq,
      rejections,
      copy: new Uint8Array(copy.bytes()),
      ends: columns.ends.slice(0, n),
      lines: columns.lines.slice(0, n),
      hashes: columns.hashes.slice(0, 2 * n),
      flags: columns.flags.slice(0, n),
      pending,
    };
  }
}

import type { InteractionRow } from '@clientele/domain';
import { InteractionLineReader } from './bulk-lines.js';
import { CsvReader, type CsvProblem, type CsvRecord } from './csv.js';
import type { Rejection } from './errors.js';
import { EventIdHasher, seenHash } from './event-ids.js';
import { IdCache } from './id-cache.js';
import { convertInteraction, type Binding, type ConvertContext } from './kinds.js';
import { boundColumn, columnCountProblem, csvCells, describeCsvProblem, problemColumn, rejectionAt } from './rows.js';
import { copyNumber, copyText } from './stage.js';
import { isoUtc, writeIsoUtc } from './values.js';

// Rows of a bulk interactions import as load-table COPY text, and the reading of one piece of
// a CSV file into such rows (on a worker thread in a parallel bulk import, see bulk-readers.ts).
//
// A load-table line is `event_id \t customer_id \t item_id \t <tail>`, the tail being
// `type \t value \t quantity \t amount \t occurred_at \n`. A piece reader formats whole lines for
// rows whose customer and item ids it knows (ids the main thread resolved earlier and passed
// on), and leaves the others pending with their external ids. Event ids are hashed here, but
// two things need the whole file in order and stay on the main thread: the occurrence number
// that tells identical rows apart (derived ids), and the check for an explicit id repeating an
// earlier line. For those it gets each row's hash words.

/**
 * COPY text gathered in one growing buffer: a batch's 20,000 lines as strings (or one long
 * concatenation) outlived the young generation, and the garbage collector copying them cost
 * more than building them; and they had to be encoded to UTF-8 at the end anyway.
 */
export class CopyText {
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

  append(text: string): void {
    this.room(text.length * 3);
    this.length += this.buffer.write(text, this.length, 'utf8');
  }

  appendBytes(bytes: Uint8Array): void {
    this.room(bytes.length);
    this.buffer.set(bytes, this.length);
    this.length += bytes.length;
  }

  bytes(): Buffer {
    return this.buffer.subarray(0, this.length);
  }

  /**
   * Appends the load-table line of a row with known ids: the bytes of
   * `${copyText(eventId)}\t${customer}\t${item}\t${loadTail(row)}` (a test compares them),
   * written in place; building that string and encoding it took a sixth of a reader's time.
   */
  appendLoadLine(eventId: string, customer: number, item: number, row: InteractionRow): void {
    // Escaping doubles a character at most, and UTF-8 takes at most 3 bytes per UTF-16 unit.
    this.room(6 * (eventId.length + row.type.length) + 160);
    const b = this.buffer;
    let at = writeCopyText(b, this.length, eventId);
    b[at++] = TAB;
    at = writeCount(b, at, customer);
    b[at++] = TAB;
    at = writeCount(b, at, item);
    b[at++] = TAB;
    at = writeCopyText(b, at, row.type);
    b[at++] = TAB;
    at = writeCopyNumber(b, at, row.value);
    b[at++] = TAB;
    at = writeCopyNumber(b, at, row.quantity);
    b[at++] = TAB;
    at = writeCopyNumber(b, at, row.amount);
    b[at++] = TAB;
    at = writeIsoUtc(b, at, row.occurredAt.getTime());
    b[at++] = LF;
    this.length = at;
  }
}

const TAB = 9;
const LF = 10;

/** copyText(text) as UTF-8 at `at`; returns where it ends. */
function writeCopyText(b: Buffer, at: number, text: string): number {
  const start = at;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c >= 0x80) return start + b.write(copyText(text), start, 'utf8');
    if (c === 92 || c === 9 || c === 10 || c === 13) {
      b[at++] = 92;
      b[at++] = c === 92 ? 92 : c === 9 ? 116 : c === 10 ? 110 : 114;
    } else {
      b[at++] = c;
    }
  }
  return at;
}

/** An id (a non-negative safe integer) in decimal digits. */
function writeCount(b: Buffer, at: number, n: number): number {
  if (!(n >= 0 && Number.isSafeInteger(n))) return at + b.write(String(n), at, 'latin1');
  let digits = 1;
  for (let x = n; x >= 10; x = Math.floor(x / 10)) digits++;
  for (let i = digits - 1, x = n; i >= 0; i--) {
    const q = Math.floor(x / 10);
    b[at + i] = 48 + (x - q * 10);
    x = q;
  }
  return at + digits;
}

/** copyNumber(value): `\N` or the number as String() writes it (ASCII). */
function writeCopyNumber(b: Buffer, at: number, value: number | null): number {
  if (value === null) {
    b[at] = 92;
    b[at + 1] = 78;
    return at + 2;
  }
  const text = String(value);
  for (let i = 0; i < text.length; i++) b[at + i] = text.charCodeAt(i);
  return at + text.length;
}

/** External ids remembered per kind (~100 bytes each): enough for most catalogues and customer bases. */
export const ID_CACHE = 500_000;

/** The part of a load-table line after the item id. */
export function loadTail(row: InteractionRow): string {
  return `${copyText(row.type)}\t${copyNumber(row.value)}\t${copyNumber(row.quantity)}\t${copyNumber(row.amount)}\t${isoUtc(row.occurredAt.getTime())}\n`;
}

/** A row whose customer or item id was not known where it was read. */
export interface PendingRow {
  line: number;
  eventId: string;
  customer: string;
  item: string;
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
  /** Load-table lines of the rows not pending, one after another. */
  copy: Uint8Array;
  /** Per accepted row: where its line ends in `copy` (a pending row ends where the one before it does). */
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
    // A load-table line is about as long as its CSV line (ids for names, a longer timestamp).
    const copy = new CopyText(Math.max(4096, Math.ceil(bytes.length * 1.25)));
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
        copy.appendLoadLine(row.eventId, customer, item, row);
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

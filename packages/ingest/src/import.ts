import { createReadStream, createWriteStream, type WriteStream } from 'node:fs';
import { stat } from 'node:fs/promises';
import { once } from 'node:events';
import path from 'node:path';
import type { Readable } from 'node:stream';
import { finished } from 'node:stream/promises';
import { BULK_WRITE_ROWS, recordAudit, refreshStatistics, type AuditActor, type DatabaseHandle } from '@clientele/db';
import {
  MAX_BATCH,
  customerValidator,
  upsertCustomers,
  upsertItems,
  validateItem,
  type BatchResult,
  type CustomerInput,
  type ItemInput,
  type Store,
  type UnknownReferences,
} from '@clientele/domain';
import { availableParallelism } from 'node:os';
import { CsvReader, CsvSplitter, type CsvPiece, type CsvProblem, type CsvRecord, type CsvSink } from './csv.js';
import { ImportError, rejectionCode, type Rejection, type RejectionCode } from './errors.js';
import { BulkLoad, emptyBulkBatch, type BulkBatch } from './bulk.js';
import { PieceReaders } from './bulk-readers.js';
import { EVENT_ID_FIELD, ROW_DERIVED_ID, ROW_PENDING, type PieceRows } from './bulk-rows.js';
import { EventIdDeriver, OccurrenceCounter, SeenFilter } from './event-ids.js';
import { finishJob, insertJob, insertRejections, rejectionCsvLine, REJECTION_CSV_HEADER, updateJob, type ImportProgress } from './jobs.js';
import {
  IMPORT_KINDS,
  KIND_FIELDS,
  bindCsvHeader,
  bindNdjson,
  convertCustomer,
  convertInteraction,
  convertItem,
  convertRetail,
  type Binding,
  type Cells,
  type ColumnMapping,
  type ConvertContext,
  type ImportKind,
  type RetailRow,
  type RowProblem,
} from './kinds.js';
import { NdjsonReader, type NdjsonProblem, type NdjsonRecord } from './ndjson.js';
import { sessions as openSessions, type Session, type Sessions } from './session.js';
import { stageLine, writeStagedInteractions, type StageResult, type UnknownReference } from './stage.js';
import { boundColumn, columnCountProblem, csvCells, describeCsvProblem, describeNdjsonProblem, problemColumn, rejectionAt } from './rows.js';
import { show } from './values.js';

export type ImportFormat = 'csv' | 'ndjson';

/**
 * How interactions are written. `live`: batch by batch into the live partition, each batch
 * visible once committed. `bulk` (PostgreSQL only): into a table of the import's own, indexed
 * and attached as a partition at the end, so nothing is visible before the import completes;
 * much faster for large files. `auto` (the default): `bulk` for interactions files of at least
 * BULK_MIN_BYTES on PostgreSQL, `live` otherwise.
 */
export type ImportMode = 'auto' | 'bulk' | 'live';

/** Interactions files from this size on are bulk-loaded in `auto` mode (16 MiB, ~200,000 rows). */
export const BULK_MIN_BYTES = 16 << 20;

export interface ImportOptions {
  /** The file to read; or give `stream`. */
  path?: string;
  /** The bytes to read (e.g. an upload); or give `path`. */
  stream?: Readable | AsyncIterable<Uint8Array | string>;
  /** Name used in messages and on the job; defaults to the path's base name, or `upload`. */
  fileName?: string;
  /** Size of `stream` in bytes, for progress, when known. */
  size?: number;
  kind: ImportKind;
  /** Defaults by extension: `.csv`/`.tsv`/`.txt` → csv, `.ndjson`/`.jsonl`/`.json` → ndjson. */
  format?: ImportFormat;
  /** CSV field separator (one character, default `,`; `.tsv` files default to a tab). */
  delimiter?: string;
  /** Field → column name (or `{ constant }`); fields not mapped use their own names. */
  mapping?: ColumnMapping;
  /** Interactions naming an unknown customer or item: create a stub (default) or reject the row. */
  unknownReferences?: UnknownReferences;
  actor: AuditActor;
  /** The domain's store: the same database, the contact cipher and the accepted interaction types. */
  store: Store;
  onProgress?: (progress: ImportProgress) => void;
  signal?: AbortSignal;
  /** Interaction rows per transaction (default 20,000). */
  batchSize?: number;
  /** Interactions only: `auto` (default), `bulk` (PostgreSQL only) or `live`; see ImportMode. */
  mode?: ImportMode;
  /**
   * Interaction batches written at the same time, each in its own transaction (kind
   * `interactions` on PostgreSQL only; default 2). Everything else is written one batch at a
   * time, in file order. With more than one, which of two rows with the same explicit event id
   * but different content is kept is not defined (with one, the first in the file).
   */
  concurrency?: number;
  /**
   * Bulk CSV imports: threads that parse, validate and format the rows (default one per core;
   * the main thread cuts the file and writes).
   */
  readerThreads?: number;
  /** Longest record accepted, in bytes (default 1 MiB); longer ones are rejected. */
  maxRecordBytes?: number;
  /** Rejections stored per job (default 10,000); all are counted. */
  maxStoredRejections?: number;
  /** Also write every rejection (not only the stored ones) to this CSV file. */
  rejectionsPath?: string;
}

export interface EntityCounts {
  created: number;
  updated: number;
  /** Already stored as given (for interactions: the event id was already there). */
  unchanged: number;
}

export interface ImportSummary {
  jobId: string;
  kind: ImportKind;
  format: ImportFormat;
  /** How the rows were written: `bulk` (a new partition) or `live`. */
  mode: 'bulk' | 'live';
  fileName: string;
  status: 'completed';
  /** Data rows in the file (the header and blank lines not counted); rowsRead = accepted + rejected. */
  rowsRead: number;
  accepted: number;
  rejected: number;
  /** Rejections stored with the job (at most maxStoredRejections). */
  storedRejections: number;
  rejectionsByCode: Record<string, number>;
  customers: EntityCounts;
  items: EntityCounts;
  interactions: EntityCounts;
  /** Customers and items created as stubs for interactions that named unknown ones. */
  stubs: { customers: number; items: number };
  /** Header columns no field was read from. */
  ignoredColumns: string[];
  bytesRead: number;
  seconds: number;
}

const DEFAULT_BATCH = 20_000;
/** Event ids derived from a row's content start with this (explicit ones with `e:`). */
const EVENT_ID_PREFIX = 'f';
const RETAIL_BATCH = 10_000;
const DEFAULT_MAX_RECORD = 1 << 20;
const DEFAULT_STORED_REJECTIONS = 10_000;
/** Customers and items remembered as written by an Online Retail import (each kind). */
const WRITTEN_MEMORY = 200_000;

function formatFor(fileName: string, given: ImportFormat | undefined): ImportFormat {
  if (given !== undefined) {
    if (given !== 'csv' && given !== 'ndjson') throw new ImportError('BAD_OPTION', `format: expected csv or ndjson, got ${show(given)}`, 'format');
    return given;
  }
  const ext = path.extname(fileName).toLowerCase();
  if (ext === '.csv' || ext === '.tsv' || ext === '.txt') return 'csv';
  if (ext === '.ndjson' || ext === '.jsonl' || ext === '.json') return 'ndjson';
  throw new ImportError(
    'UNKNOWN_FORMAT',
    `${fileName}: cannot tell the format from the extension '${ext}'; expected .csv, .tsv, .ndjson or .jsonl, or give the format (csv or ndjson)`,
    'format',
  );
}

function positiveInt(name: string, value: number | undefined, fallback: number, max: number): number {
  if (value === undefined) return fallback;
  if (!Number.isInteger(value) || value < 1 || value > max) throw new ImportError('BAD_OPTION', `${name}: expected a whole number from 1 to ${max}, got ${value}`, name);
  return value;
}

/** Refuses input that is not UTF-8 text at all, from its first bytes. */
function sniff(head: Buffer, fileName: string): void {
  if ((head[0] === 0xff && head[1] === 0xfe) || (head[0] === 0xfe && head[1] === 0xff)) {
    throw new ImportError('UNSUPPORTED_ENCODING', `${fileName}: the file is UTF-16 (it starts with a UTF-16 byte order mark); expected UTF-8, so save it as UTF-8`);
  }
  if ((head[0] === 0x1f && head[1] === 0x8b) || (head[0] === 0x50 && head[1] === 0x4b && head[2] === 0x03 && head[3] === 0x04)) {
    throw new ImportError('UNSUPPORTED_ENCODING', `${fileName}: the file is compressed (gzip or zip, e.g. an .xlsx workbook); expected CSV or NDJSON text`);
  }
  const probe = head.subarray(0, 4096);
  const nul = probe.indexOf(0);
  if (nul >= 0) {
    let line = 1;
    for (let i = 0; i < nul; i++) if (probe[i] === 0x0a) line++;
    throw new ImportError(
      'UNSUPPORTED_ENCODING',
      `${fileName} line ${line}: the file contains NUL bytes; expected UTF-8 text (is it UTF-16 without a byte order mark, or a binary file?)`,
    );
  }
}

function toBuffer(chunk: Uint8Array | string): Buffer {
  if (typeof chunk === 'string') return Buffer.from(chunk, 'utf8');
  return Buffer.isBuffer(chunk) ? chunk : Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength);
}

const DOMAIN_COLUMNS: Record<string, string> = {
  id: 'id',
  email: 'email',
  phone: 'phone',
  name: 'name',
  country: 'country',
  attributes: 'attributes',
  consent: 'email_consent',
  title: 'title',
  categories: 'categories',
  price: 'price',
  currency: 'currency',
  inStock: 'in_stock',
};

interface EntityBatch<Input> {
  inputs: Input[];
  lines: number[];
  ids: Set<string>;
}

interface Cut {
  rowsRead: number;
  parseRejected: number;
  bytes: number;
  /** Rejections read since the previous batch (to store with this one). */
  rejections: Rejection[];
  /** How many of the rejections found while writing this batch are stored (decided once). */
  lateStored?: number;
}

/**
 * Rejections found while writing a batch (e.g. 20,000 rows naming unknown customers). Only
 * those stored or written to the report file are ever turned into messages.
 */
class LateRejections {
  constructor(
    readonly count: number,
    readonly code: (index: number) => RejectionCode,
    readonly at: (index: number) => Rejection,
  ) {}

  static of(list: readonly Rejection[]): LateRejections {
    const get = (i: number): Rejection => list[i] ?? { line: 0, column: null, code: 'INVALID_VALUE', reason: '' };
    return new LateRejections(list.length, (i) => get(i).code, get);
  }
}

type Batch =
  | ({ kind: 'customers'; data: EntityBatch<CustomerInput> } & Cut)
  | ({ kind: 'items'; data: EntityBatch<ItemInput> } & Cut)
  | ({ kind: 'interactions'; lines: string[]; bulk: BulkBatch } & Cut)
  | ({ kind: 'online-retail'; lines: string[]; customers: Map<string, CustomerInput>; items: Map<string, ItemInput> } & Cut);

/** One run of an import: reads, converts and writes, counting as it goes. */
class ImportRun {
  readonly started = Date.now();
  readonly fileName: string;
  readonly format: ImportFormat;
  readonly kind: ImportKind;
  readonly sessions: Sessions;
  jobId = '';
  bindings: Binding[] | null = null;
  ignoredColumns: string[] = [];
  header: string[] | null = null;

  rowsRead = 0;
  parseRejected = 0;
  writeRejected = 0;
  accepted = 0;
  bytesRead = 0;
  totalBytes: number;
  /** Rejections read from the file and queued for storage (up to the cap). */
  storedRejections = 0;
  /** Rejections found while writing that were stored. */
  storedLate = 0;
  rejectionQueue: Rejection[] = [];
  readonly byCode = new Map<string, number>();
  readonly counts = {
    customers: { created: 0, updated: 0, unchanged: 0 },
    items: { created: 0, updated: 0, unchanged: 0 },
    interactions: { created: 0, updated: 0, unchanged: 0 },
  };
  readonly stubs = { customers: 0, items: 0 };
  readonly ctx: ConvertContext;
  readonly maxStored: number;
  readonly batchSize: number;
  readonly createUnknown: boolean;
  rejectionFile: WriteStream | null = null;
  /** The bulk load (mode `bulk`), and the filter of explicit event ids seen so far for it. */
  bulk: BulkLoad | null = null;
  seenEventIds: SeenFilter | null = null;

  // The batch being gathered and those ready to write.
  current: Batch | null = null;
  readonly ready: Batch[] = [];
  /** Batches being written, oldest first. */
  inFlight: Promise<void>[] = [];
  readonly concurrency: number;
  /** Job-row updates, one after another in commit order. */
  jobUpdates: Promise<void> = Promise.resolve();
  /** The furthest point any committed batch reached, so reported progress never goes back. */
  reached: Cut = { rowsRead: 0, parseRejected: 0, bytes: 0, rejections: [] };
  readonly validateRetailCustomer: ReturnType<typeof customerValidator>;
  /** Online Retail: what this import last wrote for each customer and item id. */
  readonly writtenCustomers = new Map<string, string>();
  readonly writtenItems = new Map<string, string>();

  constructor(
    readonly database: DatabaseHandle,
    readonly options: ImportOptions,
    fileName: string,
    format: ImportFormat,
    totalBytes: number | null,
  ) {
    this.fileName = fileName;
    this.format = format;
    this.kind = options.kind;
    this.sessions = openSessions(database);
    this.totalBytes = totalBytes ?? 0;
    this.maxStored = positiveInt('maxStoredRejections', options.maxStoredRejections, DEFAULT_STORED_REJECTIONS, 1_000_000);
    this.batchSize = positiveInt('batchSize', options.batchSize, options.kind === 'online-retail' ? RETAIL_BATCH : DEFAULT_BATCH, 1_000_000);
    const unknown = options.unknownReferences ?? 'create';
    if (unknown !== 'create' && unknown !== 'reject') {
      throw new ImportError('BAD_OPTION', `unknownReferences: expected create or reject, got ${show(unknown)}`, 'unknownReferences');
    }
    this.createUnknown = unknown === 'create';
    this.ctx = {
      now: Date.now(),
      interactionTypes: options.store.interactionTypes,
      source: '',
      eventIds: new EventIdDeriver(EVENT_ID_PREFIX, options.kind),
    };
    this.validateRetailCustomer = customerValidator(options.store);
    // Only plain interactions may be written out of order: Online Retail batches upsert customers
    // and items too, and there the later line must win.
    const parallel = database.kind === 'postgres' && options.kind === 'interactions';
    this.concurrency = parallel ? positiveInt('concurrency', options.concurrency, 2, 16) : 1;
  }

  progress(stage: string, at?: Cut): ImportProgress {
    return {
      stage,
      done: at ? at.bytes : this.bytesRead,
      total: this.totalBytes,
      rowsRead: at ? at.rowsRead : this.rowsRead,
      accepted: this.accepted,
      rejected: (at ? at.parseRejected : this.parseRejected) + this.writeRejected,
    };
  }

  // ---- rejections ---------------------------------------------------------------------------

  column(field: string | null): string | null {
    return boundColumn(this.bindings, field);
  }

  rejection(line: number, column: string | null, code: RejectionCode, message: string): Rejection {
    return rejectionAt(this.fileName, line, column, code, message);
  }

  /** Counts a rejection, queues it for storage (up to the cap) and writes it to the report file. */
  record(rejection: Rejection): void {
    this.byCode.set(rejection.code, (this.byCode.get(rejection.code) ?? 0) + 1);
    if (this.storedRejections + this.storedLate + this.rejectionQueue.length < this.maxStored) this.rejectionQueue.push(rejection);
    this.rejectionFile?.write(rejectionCsvLine(rejection));
  }

  rejectRow(line: number, problem: RowProblem): void {
    this.parseRejected++;
    this.record(this.rejection(line, this.column(problem.field), problem.code, problem.message));
  }

  // ---- reading ------------------------------------------------------------------------------

  csvProblem(problem: CsvProblem): void {
    if (!this.header) {
      throw new ImportError('BAD_HEADER', `${this.fileName} line ${problem.line} (the header): ${describeCsvProblem(problem)}`);
    }
    this.rowsRead++;
    this.parseRejected++;
    this.record(this.rejection(problem.line, problemColumn(this.header, problem), problem.code, describeCsvProblem(problem)));
  }

  csvRecord(record: CsvRecord): void {
    if (!this.header) {
      this.header = record.fields;
      const bound = bindCsvHeader(this.kind, record.fields, this.options.mapping, this.fileName);
      this.bindings = bound.bindings;
      this.ignoredColumns = bound.ignored;
      return;
    }
    this.rowsRead++;
    const wrongCount = columnCountProblem(this.header.length, record.fields);
    if (wrongCount !== null) {
      this.parseRejected++;
      this.record(this.rejection(record.line, null, 'COLUMN_COUNT', wrongCount));
      return;
    }
    this.convert(record.line, csvCells(this.bindings ?? [], record.fields));
  }

  ndjsonProblem(problem: NdjsonProblem): void {
    this.rowsRead++;
    this.parseRejected++;
    this.record(this.rejection(problem.line, null, problem.code, describeNdjsonProblem(problem)));
  }

  ndjsonRecord(record: NdjsonRecord): void {
    this.rowsRead++;
    const bindings = this.bindings ?? [];
    const value = record.value;
    this.convert(record.line, (field) => {
      const binding = bindings[field];
      if (!binding) return undefined;
      if (binding.constant !== undefined) return binding.constant;
      return binding.column === null || !Object.hasOwn(value, binding.column) ? undefined : value[binding.column];
    });
  }

  /** Converts one row and adds it to the current batch, or rejects it. */
  convert(line: number, cells: Cells): void {
    switch (this.kind) {
      case 'customers': {
        const input = convertCustomer(cells, this.ctx);
        if ('code' in input) return this.rejectRow(line, input);
        this.addEntity('customers', line, input, String(input.id));
        return;
      }
      case 'items': {
        const input = convertItem(cells);
        if ('code' in input) return this.rejectRow(line, input);
        this.addEntity('items', line, input, String(input.id));
        return;
      }
      case 'interactions': {
        const row = convertInteraction(cells, this.ctx);
        if ('code' in row) return this.rejectRow(line, row);
        const batch = this.batchFor('interactions');
        if (batch.kind === 'interactions') {
          if (this.bulk && this.seenEventIds) {
            // Bulk: derived ids are unique within the file by construction; an explicit one
            // that may repeat an earlier line is set aside for an exact check at the end.
            this.bulk.add(batch.bulk, line, row, row.eventId.startsWith('e:') && this.seenEventIds.testAndAdd(row.eventId));
          } else {
            batch.lines.push(stageLine(line, row));
          }
        }
        this.full();
        return;
      }
      case 'online-retail': {
        const row = convertRetail(cells, this.ctx);
        if ('code' in row) return this.rejectRow(line, row);
        const problem = this.checkRetailEntities(row);
        if (problem) return this.rejectRow(line, problem);
        const batch = this.batchFor('online-retail');
        if (batch.kind !== 'online-retail') return;
        batch.lines.push(stageLine(line, row.interaction));
        batch.customers.set(row.interaction.customerExternalId, row.customer);
        const known = batch.items.get(row.interaction.itemExternalId);
        // The last line's price wins; a line without a description keeps an earlier title.
        batch.items.set(row.interaction.itemExternalId, row.item.title === undefined && known?.title !== undefined ? { ...row.item, title: known.title } : row.item);
        this.full();
        return;
      }
    }
  }

  /**
   * Takes the rows of a piece read on a reader thread (a parallel bulk import), in file order:
   * numbers repeated derived event ids, sets aside explicit ones that may repeat an earlier
   * line, and adds the rows to batches (cut at the batch size, as when reading here).
   */
  takePiece(piece: PieceRows, occurrences: OccurrenceCounter, seen: SeenFilter): void {
    const { copy, ends, lines, hashes, flags, pending, rejections } = piece;
    // Rejections go in by line among the rows, so a batch cut inside the piece counts and
    // stores those before its last row, as when reading here.
    let nextRejection = 0;
    const rejectUpTo = (line: number) => {
      for (; nextRejection < rejections.length && (rejections[nextRejection]?.line ?? 0) < line; nextRejection++) {
        const rejection = rejections[nextRejection];
        if (!rejection) break;
        this.rowsRead++;
        this.parseRejected++;
        this.record(rejection);
      }
    };
    const text = Buffer.from(copy.buffer, copy.byteOffset, copy.byteLength);
    let batch = this.bulkBatch();
    // Lines of rows added as they came are copied to the batch in one run each.
    let runStart = 0;
    let runRows = 0;
    const flush = (to: number) => {
      if (to > runStart) batch.rows.appendBytes(text.subarray(runStart, to));
      batch.loaded += runRows;
      runStart = to;
      runRows = 0;
    };
    let lineStart = 0;
    let nextPending = 0;
    for (let i = 0; i < ends.length; i++) {
      const end = ends[i] ?? lineStart;
      const rowFlags = flags[i] ?? 0;
      const h1 = hashes[2 * i] ?? 0;
      const h2 = hashes[2 * i + 1] ?? 1;
      rejectUpTo(lines[i] ?? 0);
      this.rowsRead++;
      if (rowFlags & ROW_PENDING) {
        const row = pending[nextPending++];
        if (!row) throw new Error(`piece ${piece.seq}: row ${i} is pending but its details are missing`);
        if (rowFlags & ROW_DERIVED_ID) {
          if (occurrences.mark(h1, h2)) row.eventId = `${row.eventId}:${occurrences.number(row.eventId)}`;
        } else {
          row.repeat = seen.testAndAddHashed(h1, h2);
        }
        batch.pending.push(row);
      } else if (rowFlags & ROW_DERIVED_ID) {
        if (occurrences.mark(h1, h2)) {
          // A derived id (ASCII) numbered here: the row again with `<id>:<n>` for its event id.
          const idStart = lineStart + EVENT_ID_FIELD + 4;
          const base = text.toString('latin1', idStart, idStart + text.readInt32BE(lineStart + EVENT_ID_FIELD));
          flush(lineStart);
          batch.rows.appendWithEventId(text.subarray(lineStart, end), `${base}:${occurrences.number(base)}`);
          batch.loaded++;
          runStart = end;
        } else {
          runRows++;
        }
      } else if (seen.testAndAddHashed(h1, h2)) {
        flush(lineStart);
        batch.repeatRows.appendRepeatRow(text.subarray(lineStart, end), lines[i] ?? 0);
        batch.repeats++;
        runStart = end;
      } else {
        runRows++;
      }
      lineStart = end;
      if (bulkRows(batch) + runRows >= this.batchSize) {
        flush(lineStart);
        this.cut();
        batch = this.bulkBatch();
      }
    }
    flush(lineStart);
    rejectUpTo(Number.POSITIVE_INFINITY);
  }

  /** The bulk batch being gathered. */
  bulkBatch(): BulkBatch {
    const batch = this.batchFor('interactions');
    if (batch.kind !== 'interactions') throw new Error(`expected an interactions batch, got ${batch.kind}`);
    return batch.bulk;
  }

  /** The customer and item of a retail line must pass the domain's checks, so their upserts cannot fail. */
  checkRetailEntities(row: RetailRow): RowProblem | null {
    const customer = this.validateRetailCustomer(row.customer, 0);
    if ('status' in customer && customer.error) {
      return { field: 'CustomerID', code: rejectionCode(customer.error.code), message: customer.error.message };
    }
    const item = validateItem(row.item, 0);
    if ('status' in item && item.error) {
      const field = item.error.field === 'title' ? 'Description' : item.error.field === 'price' ? 'UnitPrice' : 'StockCode';
      return { field, code: rejectionCode(item.error.code), message: item.error.message };
    }
    return null;
  }

  addEntity(kind: 'customers', line: number, input: CustomerInput, id: string): void;
  addEntity(kind: 'items', line: number, input: ItemInput, id: string): void;
  addEntity(kind: 'customers' | 'items', line: number, input: CustomerInput | ItemInput, id: string): void {
    let batch = this.batchFor(kind);
    // A repeated id goes into the next batch, so the later row wins whatever the batch size.
    if ((batch.kind === 'customers' || batch.kind === 'items') && batch.data.ids.has(id)) {
      this.cut();
      batch = this.batchFor(kind);
    }
    if (batch.kind === 'customers' || batch.kind === 'items') {
      batch.data.inputs.push(input);
      batch.data.lines.push(line);
      batch.data.ids.add(id);
    }
    this.full();
  }

  batchFor(kind: ImportKind): Batch {
    if (this.current) return this.current;
    const cut: Cut = { rowsRead: 0, parseRejected: 0, bytes: 0, rejections: [] };
    const entity = () => ({ inputs: [], lines: [], ids: new Set<string>() });
    this.current =
      kind === 'customers'
        ? { kind, data: entity(), ...cut }
        : kind === 'items'
          ? { kind, data: entity(), ...cut }
          : kind === 'interactions'
            ? { kind, lines: [], bulk: emptyBulkBatch(), ...cut }
            : { kind, lines: [], customers: new Map(), items: new Map(), ...cut };
    return this.current;
  }

  get currentSize(): number {
    const batch = this.current;
    if (!batch) return 0;
    if (batch.kind === 'customers' || batch.kind === 'items') return batch.data.inputs.length;
    return batch.kind === 'interactions' ? batch.lines.length + bulkRows(batch.bulk) : batch.lines.length;
  }

  /** Closes the current batch (with the rejections seen so far) and queues it for writing. */
  cut(): void {
    const batch = this.current ?? (this.rejectionQueue.length > 0 ? this.batchFor(this.kind) : null);
    this.current = null;
    if (!batch) return;
    batch.rowsRead = this.rowsRead;
    batch.parseRejected = this.parseRejected;
    batch.bytes = this.bytesRead;
    batch.rejections = this.rejectionQueue;
    this.storedRejections += this.rejectionQueue.length;
    this.rejectionQueue = [];
    this.ready.push(batch);
  }

  /** Closes the current batch once it is full. */
  full(): void {
    const limit = this.kind === 'customers' || this.kind === 'items' ? Math.min(this.batchSize, MAX_BATCH) : this.batchSize;
    if (this.currentSize >= limit) this.cut();
  }

  /** Starts writing ready batches (in order, up to `concurrency` at once) while reading goes on. */
  async pump(): Promise<void> {
    while (this.ready.length > 0) {
      const batch = this.ready.shift();
      if (!batch) break;
      while (this.inFlight.length >= this.concurrency) await this.inFlight.shift();
      this.options.signal?.throwIfAborted();
      const writing = this.write(batch);
      // Awaited later (or settled on failure); never left unhandled meanwhile.
      writing.catch(() => undefined);
      this.inFlight.push(writing);
    }
  }

  async drain(): Promise<void> {
    this.cut();
    await this.pump();
    await this.settle(true);
  }

  /** Waits for every batch being written; rethrows the first failure when asked. */
  async settle(rethrow: boolean): Promise<void> {
    const results = await Promise.allSettled(this.inFlight);
    this.inFlight = [];
    await this.jobUpdates.catch(() => undefined);
    const failed = results.find((r): r is PromiseRejectedResult => r.status === 'rejected');
    if (rethrow && failed) throw failed.reason;
  }

  // ---- writing ------------------------------------------------------------------------------

  async write(batch: Batch): Promise<void> {
    switch (batch.kind) {
      case 'customers':
      case 'items': {
        const { data } = batch;
        let result: BatchResult | null = null;
        if (data.inputs.length > 0) {
          result =
            batch.kind === 'customers'
              ? await upsertCustomers(this.options.store, batch.data.inputs, this.options.actor)
              : await upsertItems(this.options.store.db, batch.data.inputs, this.options.actor);
        }
        const counts = { created: 0, updated: 0, unchanged: 0 };
        const late: Rejection[] = [];
        let accepted = 0;
        const written: string[] = [];
        for (const row of result?.results ?? []) {
          if (row.status === 'REJECTED') {
            const error = row.error;
            const field = error?.field ?? null;
            const column = this.column(field === null ? null : (DOMAIN_COLUMNS[field] ?? field));
            const message = error ? (field !== null && error.message.startsWith(`${field}`) ? error.message.replace(/^[^:]*:\s*/, '') : error.message) : 'rejected';
            late.push(this.rejection(data.lines[row.index] ?? 0, column, rejectionCode(error?.code ?? 'INVALID_VALUE'), message));
            continue;
          }
          accepted++;
          if (row.status === 'CREATED') counts.created++;
          else if (row.status === 'UPDATED') counts.updated++;
          else counts.unchanged++;
          if (row.id !== null) written.push(row.id);
        }
        await this.sessions.transaction(async (session) => {
          if (written.length > 0) await clearStubMarks(session, batch.kind, written);
          await this.storeRejections(session, batch, LateRejections.of(late));
        });
        const total = this.counts[batch.kind];
        total.created += counts.created;
        total.updated += counts.updated;
        total.unchanged += counts.unchanged;
        this.committed(batch, accepted, LateRejections.of(late));
        return;
      }
      case 'interactions':
      case 'online-retail': {
        if (batch.kind === 'interactions' && this.bulk) return this.writeBulk(batch, this.bulk);
        if (batch.kind === 'online-retail') await this.writeRetailEntities(batch.customers, batch.items);
        const text = batch.lines.join('');
        const rows = batch.lines.length;
        batch.lines = [];
        const { result, late } = await retryOnDeadlock(() =>
          this.sessions.transaction(async (session) => {
            let result: StageResult = { inserted: 0, stubCustomers: 0, stubItems: 0, unknown: [] };
            if (rows > 0) {
              result = await writeStagedInteractions(session, { text, rows }, { createUnknown: this.createUnknown, source: this.ctx.source });
            }
            const late = this.unknownRejections(result.unknown);
            await this.storeRejections(session, batch, late);
            return { result, late };
          }),
        );
        const accepted = rows - late.count;
        this.counts.interactions.created += result.inserted;
        this.counts.interactions.unchanged += accepted - result.inserted;
        this.stubs.customers += result.stubCustomers;
        this.stubs.items += result.stubItems;
        this.committed(batch, accepted, late);
        return;
      }
    }
  }

  /** A bulk batch: into the import's load table; the rows are counted when it is attached. */
  async writeBulk(batch: Extract<Batch, { kind: 'interactions' }>, bulk: BulkLoad): Promise<void> {
    const rows = bulkRows(batch.bulk);
    const prepared = await bulk.prepare(this.sessions, batch.bulk, this.createUnknown);
    batch.bulk = emptyBulkBatch();
    const late = this.unknownRejections(prepared.unknown);
    await retryOnDeadlock(() =>
      this.sessions.transaction(async (session) => {
        await bulk.write(session, prepared);
        await this.storeRejections(session, batch, late);
      }),
    );
    bulk.committed(prepared);
    this.stubs.customers += prepared.stubCustomers;
    this.stubs.items += prepared.stubItems;
    this.committed(batch, rows - late.count, late);
  }

  /** The rejections of rows naming a customer or item that does not exist (unknownReferences 'reject'). */
  unknownRejections(unknown: UnknownReference[]): LateRejections {
    const retail = this.kind === 'online-retail';
    return new LateRejections(
      unknown.length,
      (i) => (unknown[i]?.customer !== null ? 'UNKNOWN_CUSTOMER' : 'UNKNOWN_ITEM'),
      (i) => {
        const u = unknown[i] ?? { line: 0, customer: null, item: null };
        return u.customer !== null
          ? this.rejection(
              u.line,
              this.column(retail ? 'CustomerID' : 'customer_id'),
              'UNKNOWN_CUSTOMER',
              `no customer '${u.customer}' (import the customers first, or use unknownReferences 'create')`,
            )
          : this.rejection(
              u.line,
              this.column(retail ? 'StockCode' : 'item_id'),
              'UNKNOWN_ITEM',
              `no item '${u.item ?? ''}' (import the items first, or use unknownReferences 'create')`,
            );
      },
    );
  }

  /** Stores the batch's rejections (those read before it and those its write found), up to the cap. */
  async storeRejections(session: Session, batch: Batch, late: LateRejections): Promise<void> {
    // The room is reserved once per batch, so a retried transaction stores the same ones.
    if (batch.lateStored === undefined) {
      batch.lateStored = Math.min(late.count, Math.max(0, this.maxStored - this.storedRejections - this.storedLate));
      this.storedLate += batch.lateStored;
    }
    const stored: Rejection[] = [];
    for (let i = 0; i < batch.lateStored; i++) stored.push(late.at(i));
    await insertRejections(session, this.jobId, [...batch.rejections, ...stored]);
  }

  /** After a batch's transaction committed: counts, the job row (in commit order) and progress. */
  committed(batch: Batch, accepted: number, late: LateRejections): void {
    for (let i = 0; i < late.count; i++) {
      const code = late.code(i);
      this.byCode.set(code, (this.byCode.get(code) ?? 0) + 1);
      this.rejectionFile?.write(rejectionCsvLine(late.at(i)));
    }
    this.accepted += accepted;
    this.writeRejected += late.count;
    this.reached = {
      rowsRead: Math.max(this.reached.rowsRead, batch.rowsRead),
      parseRejected: Math.max(this.reached.parseRejected, batch.parseRejected),
      bytes: Math.max(this.reached.bytes, batch.bytes),
      rejections: [],
    };
    const progress = this.progress(this.kind, this.reached);
    this.jobUpdates = this.jobUpdates.then(() => this.sessions.transaction((session) => updateJob(session, this.jobId, progress)));
    this.options.onProgress?.(progress);
  }

  /** Upserts the customers and items named by a batch of Online Retail lines (before its purchases). */
  async writeRetailEntities(customers: Map<string, CustomerInput>, items: Map<string, ItemInput>): Promise<void> {
    const customerInputs = this.unwritten(this.writtenCustomers, customers);
    for (let i = 0; i < customerInputs.length; i += MAX_BATCH) {
      const result = await upsertCustomers(this.options.store, customerInputs.slice(i, i + MAX_BATCH), this.options.actor);
      this.addCounts(this.counts.customers, result);
    }
    const itemInputs = this.unwritten(this.writtenItems, items);
    for (let i = 0; i < itemInputs.length; i += MAX_BATCH) {
      const result = await upsertItems(this.options.store.db, itemInputs.slice(i, i + MAX_BATCH), this.options.actor);
      // A new item whose lines have no description is not created here; its purchases make it a stub.
      this.addCounts(this.counts.items, result);
      const titled = result.results.filter((r) => r.status !== 'REJECTED' && r.id !== null).map((r) => r.id ?? '');
      if (titled.length > 0) await this.sessions.transaction((session) => clearStubMarks(session, 'items', titled));
    }
  }

  /**
   * The inputs not already written by an earlier batch of this import with the same values
   * (an Online Retail customer or item appears on many lines). The memory of what was
   * written is bounded; past the bound an input is simply written again.
   */
  unwritten<Input extends { id: unknown }>(written: Map<string, string>, inputs: Map<string, Input>): Input[] {
    const out: Input[] = [];
    for (const [id, input] of inputs) {
      const key = JSON.stringify(input);
      if (written.get(id) === key) continue;
      out.push(input);
      if (written.size >= WRITTEN_MEMORY && !written.has(id)) written.clear();
      written.set(id, key);
    }
    return out;
  }

  addCounts(counts: EntityCounts, result: BatchResult): void {
    counts.created += result.createdCount;
    counts.updated += result.updatedCount;
    counts.unchanged += result.unchangedCount;
  }
}

/** Retries a batch that lost a deadlock or serialization race (it is idempotent, so a retry is safe). */
async function retryOnDeadlock<T>(work: () => Promise<T>): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await work();
    } catch (error) {
      const code = typeof error === 'object' && error !== null && 'code' in error ? error.code : undefined;
      if (attempt >= 4 || (code !== '40P01' && code !== '40001')) throw error;
      await new Promise((resolve) => setTimeout(resolve, 50 * attempt));
    }
  }
}

/** A stub that now has real data is no longer a stub. */
async function clearStubMarks(session: Session, kind: 'customers' | 'items', ids: string[]): Promise<void> {
  await session.query(
    `UPDATE ${kind} SET attributes = attributes - 'stub' WHERE external_id = ANY($1::text[]) AND attributes @> '{"stub": true}'`,
    [ids],
  );
}

function describeError(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

/**
 * Imports a CSV or NDJSON file of customers, items, interactions or Online Retail lines.
 * Streams the input (memory stays flat whatever its size), writes in transactional batches
 * (COPY on PostgreSQL), records the job's progress and rejected rows, and can be run again
 * on the same file (or after a crash) to end with exactly the file's rows.
 */
export async function importFile(database: DatabaseHandle, options: ImportOptions): Promise<ImportSummary> {
  if (!IMPORT_KINDS.includes(options.kind)) {
    throw new ImportError('BAD_OPTION', `kind: expected one of ${IMPORT_KINDS.join(', ')}, got ${show(options.kind)}`, 'kind');
  }
  if ((options.path === undefined) === (options.stream === undefined)) {
    throw new ImportError('BAD_OPTION', 'expected either a path or a stream to import, not both or neither', 'path');
  }
  const fileName = options.fileName ?? (options.path !== undefined ? path.basename(options.path) : 'upload');
  const format = formatFor(fileName, options.format);
  const maxRecordBytes = positiveInt('maxRecordBytes', options.maxRecordBytes, DEFAULT_MAX_RECORD, 64 << 20);
  const delimiter = options.delimiter ?? (path.extname(fileName).toLowerCase() === '.tsv' ? '\t' : ',');
  let totalBytes: number | null = options.size ?? null;
  if (options.path !== undefined) {
    const info = await stat(options.path).catch((error: NodeJS.ErrnoException) => {
      throw error.code === 'ENOENT'
        ? new ImportError('FILE_NOT_FOUND', `${options.path}: no such file`, 'path')
        : new ImportError('BAD_OPTION', `${options.path}: cannot read it (${error.message})`, 'path');
    });
    if (!info.isFile()) throw new ImportError('BAD_OPTION', `${options.path}: expected a file, got a directory or device`, 'path');
    totalBytes = info.size;
  }
  const csv = format === 'csv' ? new CsvReader({ delimiter, maxRecordBytes }) : null;
  const ndjson = format === 'ndjson' ? new NdjsonReader({ maxRecordBytes }) : null;
  const run = new ImportRun(database, options, fileName, format, totalBytes);
  if (ndjson) run.bindings = bindNdjson(options.kind, options.mapping);
  const bulk = bulkMode(database, options, totalBytes);
  options.signal?.throwIfAborted();

  run.jobId = await run.sessions.transaction((session) =>
    insertJob(session, {
      kind: options.kind,
      format,
      fileName,
      totalBytes,
      options: {
        ...(options.mapping ? { mapping: options.mapping } : {}),
        unknownReferences: options.unknownReferences ?? 'create',
        ...(options.delimiter ? { delimiter: options.delimiter } : {}),
        batchSize: run.batchSize,
        ...(options.kind === 'interactions' ? { mode: bulk ? 'bulk' : 'live' } : {}),
      },
      createdBy: options.actor.name ?? options.actor.id ?? options.actor.type,
    }),
  );
  run.ctx.source = `import:${run.jobId}`;

  let source: Readable | AsyncIterable<Uint8Array | string> | undefined;
  if (options.rejectionsPath !== undefined) {
    run.rejectionFile = createWriteStream(options.rejectionsPath);
    run.rejectionFile.write(REJECTION_CSV_HEADER);
  }
  const csvSink = { record: (r: CsvRecord) => run.csvRecord(r), problem: (p: CsvProblem) => run.csvProblem(p) };
  const ndjsonSink = { record: (r: NdjsonRecord) => run.ndjsonRecord(r), problem: (p: NdjsonProblem) => run.ndjsonProblem(p) };
  try {
    if (bulk && database.driver.kind === 'postgres') {
      run.bulk = await BulkLoad.open(database.driver.pool, run.jobId, run.ctx.source);
      run.seenEventIds = new SeenFilter();
    }
    options.onProgress?.(run.progress('read'));
    source = options.path !== undefined ? createReadStream(options.path, { highWaterMark: 1 << 20 }) : options.stream;
    if (run.bulk && run.seenEventIds && csv && source) {
      const threads = positiveInt('readerThreads', options.readerThreads, Math.min(availableParallelism(), DEFAULT_MAX_READERS), 16);
      await readInParallel(run, run.bulk, run.seenEventIds, source, { delimiter, maxRecordBytes, threads }, csvSink);
    } else {
      let first = true;
      for await (const piece of source ?? []) {
        options.signal?.throwIfAborted();
        const chunk = toBuffer(piece);
        if (chunk.length === 0) continue;
        if (first) {
          sniff(chunk, fileName);
          first = false;
        }
        if (csv) csv.push(chunk, csvSink);
        else ndjson?.push(chunk, ndjsonSink);
        run.bytesRead = csv?.bytesRead ?? ndjson?.bytesRead ?? 0;
        await run.pump();
        if (run.rejectionFile?.writableNeedDrain) await once(run.rejectionFile, 'drain');
      }
      if (csv) csv.end(csvSink);
      else ndjson?.end(ndjsonSink);
    }
    if (csv ? run.header === null : run.rowsRead === 0) {
      throw new ImportError(
        'EMPTY_FILE',
        `${fileName}: the file is empty; expected ${csv ? `a header line (${KIND_FIELDS[options.kind].join(',')}) and rows` : 'one JSON object per line'}`,
      );
    }
    await run.drain();
    if (run.bulk) {
      const stage = (name: string) => {
        const progress = run.progress(name);
        run.jobUpdates = run.jobUpdates.then(() => run.sessions.transaction((session) => updateJob(session, run.jobId, progress)));
        options.onProgress?.(progress);
      };
      const created = await run.bulk.finish(stage);
      await run.jobUpdates;
      run.bulk.release();
      run.counts.interactions.created = created;
      run.counts.interactions.unchanged = run.accepted - created;
    }
    const summary = summarise(run);
    await run.sessions.transaction((session) => finishJob(session, run.jobId, 'completed', run.progress('done'), null));
    if (summary.accepted >= BULK_WRITE_ROWS) await refreshStatistics(database.db);
    await recordAudit(database.db, {
      actor: options.actor,
      operation: 'import.completed',
      targetType: 'import_job',
      targetId: run.jobId,
      details: { kind: options.kind, fileName, rowsRead: summary.rowsRead, accepted: summary.accepted, rejected: summary.rejected },
    });
    options.onProgress?.(run.progress('done'));
    return summary;
  } catch (error) {
    // Let the batches being written finish (or roll back) before recording how the job ended.
    await run.settle(false);
    await run.bulk?.abandon();
    const cancelled = options.signal?.aborted === true;
    const status = cancelled ? 'cancelled' : 'failed';
    const message = cancelled ? 'cancelled' : describeError(error);
    await run.sessions
      .transaction((session) => finishJob(session, run.jobId, status, run.progress(status), message))
      .catch(() => undefined);
    await recordAudit(database.db, {
      actor: options.actor,
      operation: `import.${status}`,
      targetType: 'import_job',
      targetId: run.jobId,
      details: { kind: options.kind, fileName, error: message, rowsRead: run.rowsRead, accepted: run.accepted },
    }).catch(() => undefined);
    if (error instanceof ImportError) error.jobId = run.jobId;
    throw error;
  } finally {
    run.bulk?.release();
    if (source && 'destroy' in source && typeof source.destroy === 'function') source.destroy();
    if (run.rejectionFile) {
      run.rejectionFile.end();
      await finished(run.rejectionFile).catch(() => undefined);
    }
  }
}

/**
 * Reader threads by default: one per core, up to 8 (each holds its own id caches and young
 * generation; PostgreSQL needs cores too).
 */
const DEFAULT_MAX_READERS = 8;

/**
 * Most text per piece handed to a reader thread, for streams that yield huge chunks; above the
 * 1 MiB a file is read in, so a file's chunk is one piece (a cut at 1 MiB left a tiny second
 * piece per chunk and made the import ~15 % slower).
 */
const PIECE_BYTES = 4 << 20;

/** Rows gathered in a bulk batch. */
const bulkRows = (batch: BulkBatch): number => batch.loaded + batch.pending.length + batch.repeats;

function withoutBom(text: Buffer): Buffer {
  return text[0] === 0xef && text[1] === 0xbb && text[2] === 0xbf ? text.subarray(3) : text;
}

/**
 * Reads a CSV file of a bulk import on reader threads (bulk-readers.ts): the header here, then
 * pieces of whole records on the threads, their rows taken back in file order and written as
 * they come.
 */
async function readInParallel(
  run: ImportRun,
  bulk: BulkLoad,
  seen: SeenFilter,
  source: Readable | AsyncIterable<Uint8Array | string>,
  csv: { delimiter: string; maxRecordBytes: number; threads: number },
  csvSink: CsvSink,
): Promise<void> {
  const splitter = new CsvSplitter(csv);
  const occurrences = new OccurrenceCounter();
  let readers: PieceReaders | null = null;
  // In file order: pieces being read, and records too long (reported by the splitter).
  const queue: { rows: Promise<PieceRows> | null; problem: CsvProblem | null; bytes: number; ready: boolean }[] = [];
  let seq = 0;
  let bytes = 0;
  const tooLong = (problem: CsvProblem) => {
    if (run.header === null) run.csvProblem(problem); // the header: fails the import
    else queue.push({ rows: null, problem, bytes, ready: true });
  };
  const handle = (piece: CsvPiece) => {
    if (run.header === null || readers === null) {
      // The header (or blank lines before it): read here.
      const reader = new CsvReader({ delimiter: csv.delimiter, maxRecordBytes: csv.maxRecordBytes, firstLine: piece.firstLine, skipBom: false });
      reader.push(piece.text, csvSink);
      reader.end(csvSink);
      if (run.header !== null && run.bindings !== null) {
        const pieceReaders = new PieceReaders(
          {
            fileName: run.fileName,
            header: run.header,
            bindings: run.bindings,
            delimiter: csv.delimiter,
            maxRecordBytes: csv.maxRecordBytes,
            now: run.ctx.now,
            interactionTypes: [...run.ctx.interactionTypes],
            eventIdPrefix: EVENT_ID_PREFIX,
            kind: run.kind,
          },
          csv.threads,
        );
        readers = pieceReaders;
        bulk.onResolved = (kind, names, ids) => pieceReaders.learn(kind, names, ids);
      }
      return;
    }
    const entry = { rows: readers.read(seq++, piece), problem: null, bytes, ready: false };
    // Awaited in order below; `ready` lets rows already read be taken without waiting for more input.
    entry.rows.then(
      () => (entry.ready = true),
      () => (entry.ready = true),
    );
    queue.push(entry);
  };
  // The records of each chunk read go out at once (a slow upload is read and committed as it
  // comes), in pieces of at most PIECE_BYTES (a stream may yield the whole file at once).
  const takeAll = () => {
    for (;;) {
      const piece = splitter.take(run.header === null ? 1 : PIECE_BYTES, tooLong);
      if (!piece) return;
      handle(piece);
    }
  };
  /** Takes the rows read so far in order; waits for more while over `keep` pieces are out. */
  const consume = async (keep: number) => {
    while (queue.length > keep || queue[0]?.ready) {
      const entry = queue.shift();
      if (!entry) break;
      run.bytesRead = entry.bytes;
      if (entry.problem) run.csvProblem(entry.problem);
      else if (entry.rows) run.takePiece(await entry.rows, occurrences, seen);
      await run.pump();
      if (run.rejectionFile?.writableNeedDrain) await once(run.rejectionFile, 'drain');
    }
  };
  let head: Buffer | null = Buffer.alloc(0); // the start of the file until its BOM is checked
  try {
    for await (const raw of source) {
      run.options.signal?.throwIfAborted();
      let chunk = toBuffer(raw);
      if (chunk.length === 0) continue;
      if (bytes === 0) sniff(chunk, run.fileName);
      bytes += chunk.length;
      if (head !== null) {
        head = head.length === 0 ? chunk : Buffer.concat([head, chunk]);
        if (head.length < 3) continue;
        chunk = withoutBom(head);
        head = null;
      }
      splitter.push(chunk);
      takeAll();
      // Up to two pieces per thread in flight: each thread always has the next one waiting.
      await consume(2 * csv.threads);
    }
    if (head !== null) splitter.push(withoutBom(head));
    takeAll();
    const last = splitter.end(tooLong);
    if (last) handle(last);
    await consume(0);
  } finally {
    bulk.onResolved = null;
    await (readers as PieceReaders | null)?.close();
  }
}

/** Whether this import is a bulk load (see ImportMode). */
function bulkMode(database: DatabaseHandle, options: ImportOptions, totalBytes: number | null): boolean {
  const mode = options.mode ?? 'auto';
  if (mode !== 'auto' && mode !== 'bulk' && mode !== 'live') throw new ImportError('BAD_OPTION', `mode: expected auto, bulk or live, got ${show(mode)}`, 'mode');
  if (mode === 'bulk') {
    if (options.kind !== 'interactions') throw new ImportError('BAD_OPTION', `mode: bulk is for interactions files, got kind ${options.kind}; use auto or live`, 'mode');
    if (database.kind !== 'postgres') throw new ImportError('BAD_OPTION', 'mode: bulk needs PostgreSQL (DATABASE_URL); the embedded database imports in live mode', 'mode');
    return true;
  }
  return mode === 'auto' && options.kind === 'interactions' && database.kind === 'postgres' && (totalBytes ?? 0) >= BULK_MIN_BYTES;
}

function summarise(run: ImportRun): ImportSummary {
  const seconds = (Date.now() - run.started) / 1000;
  return {
    jobId: run.jobId,
    kind: run.kind,
    format: run.format,
    mode: run.bulk ? 'bulk' : 'live',
    fileName: run.fileName,
    status: 'completed',
    rowsRead: run.rowsRead,
    accepted: run.accepted,
    rejected: run.parseRejected + run.writeRejected,
    storedRejections: run.storedRejections + run.storedLate,
    rejectionsByCode: Object.fromEntries(run.byCode),
    customers: { ...run.counts.customers },
    items: { ...run.counts.items },
    interactions: { ...run.counts.interactions },
    stubs: { ...run.stubs },
    ignoredColumns: run.ignoredColumns,
    bytesRead: run.bytesRead,
    seconds,
  };
}


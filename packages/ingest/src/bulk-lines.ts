import type { InteractionInput, InteractionRow } from '@clientele/domain';
import { finishInteraction, type Binding, type ConvertContext } from './kinds.js';
import * as v from './values.js';

// The plain lines of an interactions CSV file, read without the general CSV reader: a bulk
// import spent about a fifth of a row's time in the reader's state machine, the record's field
// strings and the cell lookups. Most lines of a large file are plain: printable ASCII, no
// quote, the header's number of fields, ids without surrounding spaces, numbers as digits.
// Those are split on the delimiter here and their cells parsed as the general path parses
// them (values.ts), then checked by the same function (finishInteraction). Anything else —
// a quote (which may hide a line break), another byte, a missing or malformed value, a row
// the domain rejects — goes to the general reader, which gives the row its exact reason; so
// the rows stored and the rejections reported are the same either way (a test compares both).

const LF = 10;
const CR = 13;
const QUOTE = 34;
const SPACE = 32;
const MINUS = 45;
const DOT = 46;

/** What the reader hands back for a piece. */
export interface LineSink {
  /** An accepted row, in file order. */
  row(line: number, row: InteractionRow): void;
  /** Bytes [start, end) of the piece, starting on `line`, for the general CSV reader. */
  general(start: number, end: number, line: number): void;
}

/** Columns of the eight interaction fields (KIND_FIELDS order), -1 when not in the file. */
type Columns = [number, number, number, number, number, number, number, number];

/** Longest text accepted per field, as convertInteraction's (event id, customer, item, type). */
const TEXT_LIMITS = [200, 200, 200, 100];

export class InteractionLineReader {
  /** Field boundaries of the current line: start and end of each column. */
  private readonly bounds: Int32Array;

  private constructor(
    private readonly columns: Columns,
    private readonly count: number,
    private readonly delimiter: number,
  ) {
    this.bounds = new Int32Array(2 * count);
  }

  /**
   * A reader for a file of this header and bindings, or null when its layout needs the general
   * path (a field given as a constant, a delimiter that is not one ASCII byte).
   */
  static for(header: readonly string[], bindings: readonly Binding[], delimiter: string): InteractionLineReader | null {
    const code = delimiter.length === 1 ? delimiter.charCodeAt(0) : -1;
    if (code < 1 || code > 0x7e || code === QUOTE || code === LF || code === CR || code === SPACE || code === MINUS || code === DOT) return null;
    if (bindings.length !== 8 || header.length === 0) return null;
    const columns = bindings.map((b) => (b.constant === undefined ? b.index : -2)) as Columns;
    if (columns.some((c) => c < -1 || c >= header.length)) return null;
    return new InteractionLineReader(columns, header.length, code);
  }

  /** Reads a piece: complete records, as cut by CsvSplitter, the first on `firstLine`. */
  read(bytes: Buffer, firstLine: number, ctx: ConvertContext, sink: LineSink): void {
    const len = bytes.length;
    const delimiter = this.delimiter;
    const count = this.count;
    const bounds = this.bounds;
    let pos = 0;
    let line = firstLine;
    while (pos < len) {
      let fields = 0;
      let plain = true;
      let fieldStart = pos;
      let i = pos;
      let end = len; // of the line's content, before CR LF
      let next = len; // start of the next line
      for (; i < len; i++) {
        const c = bytes[i] as number;
        if (c === delimiter) {
          if (fields < count) {
            bounds[2 * fields] = fieldStart;
            bounds[2 * fields + 1] = i;
          }
          fields++;
          fieldStart = i + 1;
        } else if (c === LF) {
          end = i;
          next = i + 1;
          break;
        } else if (c === QUOTE) {
          // A quoted field may hold line breaks: from here on, the general reader.
          sink.general(pos, len, line);
          return;
        } else if (c < SPACE || c > 0x7e) {
          if (c === CR && (i + 1 === len || bytes[i + 1] === LF)) continue;
          plain = false;
        }
      }
      if (end > pos && bytes[end - 1] === CR) end--;
      if (fieldStart > end) fieldStart = end; // the CR of an empty last field
      if (fields < count) {
        bounds[2 * fields] = fieldStart;
        bounds[2 * fields + 1] = end;
      }
      fields++;
      if (!plain || fields !== count || end === pos || !this.accept(bytes, line, ctx, sink)) sink.general(pos, next, line);
      pos = next;
      line++;
    }
  }

  /** Parses the fields of a plain line and hands the row on; false when the general path must decide. */
  private accept(bytes: Buffer, line: number, ctx: ConvertContext, sink: LineSink): boolean {
    const columns = this.columns;
    const texts: (string | undefined)[] = [undefined, undefined, undefined, undefined];
    for (let f = 0; f < 4; f++) {
      const column = columns[f] as number;
      if (column < 0) continue;
      const start = this.bounds[2 * column] as number;
      const end = this.bounds[2 * column + 1] as number;
      if (start === end) continue;
      // Surrounding spaces are trimmed by the general path; long values are refused there.
      if (bytes[start] === SPACE || bytes[end - 1] === SPACE || end - start > (TEXT_LIMITS[f] as number)) return false;
      texts[f] = bytes.toString('latin1', start, end);
    }
    // Required; the general path names what is missing.
    if (texts[1] === undefined || texts[2] === undefined || texts[3] === undefined) return false;
    const numbers: (number | undefined)[] = [undefined, undefined, undefined];
    for (let f = 4; f < 7; f++) {
      const column = columns[f] as number;
      if (column < 0) continue;
      const start = this.bounds[2 * column] as number;
      const end = this.bounds[2 * column + 1] as number;
      if (start === end) continue;
      if (!isDecimal(bytes, start, end)) return false;
      numbers[f - 4] = Number(bytes.toString('latin1', start, end));
    }
    const dateColumn = columns[7] as number;
    if (dateColumn < 0) return false;
    const dateStart = this.bounds[2 * dateColumn] as number;
    const dateEnd = this.bounds[2 * dateColumn + 1] as number;
    if (dateStart === dateEnd) return false;
    const occurredAt = v.dateTime(bytes.toString('latin1', dateStart, dateEnd), ctx.now);
    if (!(occurredAt instanceof Date)) return false;
    const input: InteractionInput = {
      eventId: texts[0],
      customerId: texts[1],
      itemId: texts[2],
      type: texts[3],
      value: numbers[0],
      quantity: numbers[1],
      amount: numbers[2],
      occurredAt,
    };
    const row = finishInteraction(input, ctx);
    if ('code' in row) return false;
    sink.row(line, row);
    return true;
  }
}

/** `-?digits(.digits)?`, at most 24 bytes: a subset of what values.number accepts, always finite. */
function isDecimal(bytes: Buffer, start: number, end: number): boolean {
  if (end - start > 24) return false;
  let i = start;
  if (bytes[i] === MINUS) i++;
  let digits = 0;
  for (; i < end && (bytes[i] as number) >= 48 && (bytes[i] as number) <= 57; i++) digits++;
  if (digits === 0) return false;
  if (i === end) return true;
  if (bytes[i] !== DOT) return false;
  i++;
  let fraction = 0;
  for (; i < end && (bytes[i] as number) >= 48 && (bytes[i] as number) <= 57; i++) fraction++;
  return fraction > 0 && i === end;
}

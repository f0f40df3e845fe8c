import { isUtf8 } from 'node:buffer';

// A streaming CSV record reader (RFC 4180 plus the usual relaxations), written for bounded
// memory and per-record recovery:
//
// - a record longer than `maxRecordBytes` is skipped up to its end (quotes still tracked,
//   nothing buffered) and reported as one problem; reading goes on with the next record;
// - bytes that are not UTF-8, an unclosed quote and text after a closing quote are reported
//   for the record they occur in; reading goes on;
// - a UTF-8 BOM is skipped, CRLF and LF both end records, quoted fields may hold newlines
//   (`""` is a quote inside a quoted field), a quote inside an unquoted field is kept as text.
//
// csv-parse was the first choice. Its `max_record_size` either fails the whole stream or,
// with `skip_records_with_error`, returns from its parse loop early and silently drops every
// record after the long one (checked with csv-parse 7.0.3), so a 10 MB line could not be
// rejected as one row. The tests compare this reader with csv-parse on well-formed input.

const QUOTE = 0x22;
const LF = 0x0a;
const CR = 0x0d;

/** What can be wrong with one record; reading continues after each. */
export type CsvProblemCode = 'RECORD_TOO_LONG' | 'INVALID_UTF8' | 'QUOTE_NOT_CLOSED' | 'TEXT_AFTER_QUOTE';

export interface CsvRecord {
  /** Line where the record starts (1-based, counting every LF in the file). */
  line: number;
  fields: string[];
}

export interface CsvProblem {
  line: number;
  code: CsvProblemCode;
  /** Index of the field the problem is in, when known. */
  field: number | null;
  /** What was found, e.g. "byte 0xE9" or "10,485,761 bytes". */
  detail: string;
}

export interface CsvReaderOptions {
  delimiter?: string;
  /** Largest record accepted, in bytes; longer records are skipped and reported. */
  maxRecordBytes: number;
  /** Line number of the first byte (a piece of a file read on its own starts further on). */
  firstLine?: number;
  /** Whether a UTF-8 BOM at the start is skipped (the start of a file, not of a piece of it). */
  skipBom?: boolean;
}

export interface CsvSink {
  record(record: CsvRecord): void;
  problem(problem: CsvProblem): void;
}

const enum State {
  FieldStart,
  Unquoted,
  Quoted,
  /** Inside a quoted field, just after a quote: either `""` or the closing quote. */
  QuoteSeen,
  /** After a closing quote: expects a delimiter or the end of the record. */
  Closed,
}

const UTF8_BOM = [0xef, 0xbb, 0xbf];

export class CsvReader {
  private readonly delimiter: number;
  private readonly max: number;
  /** Unparsed bytes: the start of the current record (offsets below are relative to it). */
  private buf: Buffer = Buffer.alloc(0);
  /** How far into `buf` the scan has got. */
  private pos = 0;
  private state: State = State.FieldStart;
  private fieldStart = 0;
  private fieldQuoted = false;
  private fieldEscapes = false;
  /** Closing quote position of a quoted field. */
  private quoteEnd = 0;
  /** Field boundaries of the current record: [start, end, flags] triples. */
  private bounds: number[] = [];
  private recordHigh = 0;
  private recordBadQuote = -1;
  /** Line where the current record started, and the current line. */
  private recordLine = 1;
  private line = 1;
  /** While skipping an over-long record: its size so far. */
  private skipping = false;
  private skippedBytes = 0;
  private bomChecked = false;
  /** Bytes consumed, for progress. */
  bytesRead = 0;

  constructor(options: CsvReaderOptions) {
    const delimiter = Buffer.from(options.delimiter ?? ',');
    if (delimiter.length !== 1 || delimiter[0] === QUOTE || delimiter[0] === LF || delimiter[0] === CR) {
      throw new RangeError(`delimiter: expected one character other than a quote or newline, got '${options.delimiter}'`);
    }
    this.delimiter = delimiter[0] ?? 0x2c;
    this.max = options.maxRecordBytes;
    this.line = this.recordLine = options.firstLine ?? 1;
    this.bomChecked = options.skipBom === false;
  }

  /** Feeds a chunk; complete records go to the sink before it returns. */
  push(chunk: Buffer, sink: CsvSink): void {
    this.bytesRead += chunk.length;
    let data = chunk;
    if (!this.bomChecked) {
      const head = this.buf.length > 0 ? Buffer.concat([this.buf, chunk]) : chunk;
      if (head.length < 3) {
        this.buf = head;
        return;
      }
      this.bomChecked = true;
      this.buf = Buffer.alloc(0);
      data = head[0] === UTF8_BOM[0] && head[1] === UTF8_BOM[1] && head[2] === UTF8_BOM[2] ? head.subarray(3) : head;
    }
    this.buf = this.buf.length === 0 ? data : Buffer.concat([this.buf, data]);
    this.scan(sink, false);
  }

  /** Ends the input: the last record (without a final newline) and an unclosed quote. */
  end(sink: CsvSink): void {
    if (!this.bomChecked) {
      this.bomChecked = true;
      const head = this.buf;
      const bom = head.length >= 3 && head[0] === UTF8_BOM[0] && head[1] === UTF8_BOM[1] && head[2] === UTF8_BOM[2];
      this.buf = bom ? head.subarray(3) : head;
    }
    this.scan(sink, true);
  }

  private scan(sink: CsvSink, final: boolean): void {
    const buf = this.buf;
    const len = buf.length;
    const delimiter = this.delimiter;
    const max = this.max;
    let state = this.state;
    let i = this.pos;
    let recordStart = 0;
    let high = this.recordHigh;
    for (; i < len; i++) {
      if (i - recordStart >= max && !this.skipping) {
        // Too long: forget what was gathered and only follow quotes to the record's end.
        this.skipping = true;
        this.skippedBytes = 0;
        this.bounds.length = 0;
      }
      const c = buf[i] ?? 0;
      high |= c;
      if (state === State.FieldStart) {
        if (c === QUOTE) {
          this.fieldStart = i + 1;
          this.fieldQuoted = true;
          this.fieldEscapes = false;
          state = State.Quoted;
          continue;
        }
        // Any other byte starts an unquoted field and is handled as part of it below.
        this.fieldStart = i;
        this.fieldQuoted = false;
        this.fieldEscapes = false;
        state = State.Unquoted;
      } else if (state === State.QuoteSeen) {
        if (c === QUOTE) {
          this.fieldEscapes = true;
          state = State.Quoted;
          continue;
        }
        // The quote before this byte closed the field; the byte is handled below.
        this.quoteEnd = i - 1;
        state = State.Closed;
      }
      if (state === State.Unquoted) {
        if (c === delimiter) {
          this.endField(i);
          state = State.FieldStart;
        } else if (c === LF) {
          this.endField(i > this.fieldStart && buf[i - 1] === CR ? i - 1 : i);
          this.line++;
          this.endRecord(buf, recordStart, i + 1, high, sink);
          recordStart = i + 1;
          high = 0;
          state = State.FieldStart;
        }
      } else if (state === State.Quoted) {
        if (c === QUOTE) state = State.QuoteSeen;
        else if (c === LF) this.line++;
      } else if (state === State.Closed) {
        if (c === delimiter) {
          this.endQuotedField();
          state = State.FieldStart;
        } else if (c === LF) {
          this.endQuotedField();
          this.line++;
          this.endRecord(buf, recordStart, i + 1, high, sink);
          recordStart = i + 1;
          high = 0;
          state = State.FieldStart;
        } else if (c !== CR && this.recordBadQuote < 0) {
          this.recordBadQuote = this.bounds.length / 3;
        }
      }
    }
    if (final) {
      if (state === State.Quoted) {
        if (this.skipping) this.reportTooLong(sink, this.recordLine, len - recordStart, true);
        else sink.problem({ line: this.recordLine, code: 'QUOTE_NOT_CLOSED', field: this.bounds.length / 3, detail: '' });
        this.skipping = false;
        this.bounds.length = 0;
      } else if (state !== State.FieldStart || this.bounds.length > 0 || this.skipping) {
        if (state === State.Unquoted) this.endField(len > this.fieldStart && buf[len - 1] === CR ? len - 1 : len);
        else if (state === State.QuoteSeen) {
          this.quoteEnd = len - 1;
          this.endQuotedField();
        } else if (state === State.Closed) this.endQuotedField();
        else if (state === State.FieldStart && !this.skipping) this.bounds.push(len, len, 0);
        this.endRecord(buf, recordStart, len, high, sink);
      }
      this.buf = Buffer.alloc(0);
      this.pos = 0;
      this.state = State.FieldStart;
      return;
    }
    this.state = state;
    this.recordHigh = high;
    if (this.skipping) {
      // An over-long record keeps nothing in memory: only its size and the quote state.
      this.skippedBytes += len - recordStart;
      this.buf = Buffer.alloc(0);
      this.pos = 0;
      return;
    }
    // Keep the unfinished record; offsets become relative to its start.
    if (recordStart > 0) {
      const bounds = this.bounds;
      for (let k = 0; k < bounds.length; k += 3) {
        bounds[k] = (bounds[k] ?? 0) - recordStart;
        bounds[k + 1] = (bounds[k + 1] ?? 0) - recordStart;
      }
      this.fieldStart -= recordStart;
      this.quoteEnd -= recordStart;
    }
    this.buf = buf.subarray(recordStart);
    this.pos = len - recordStart;
  }

  private endField(end: number): void {
    if (this.skipping) return;
    this.bounds.push(this.fieldStart, end, this.fieldQuoted ? (this.fieldEscapes ? 3 : 1) : 0);
  }

  private endQuotedField(): void {
    if (this.skipping) return;
    this.bounds.push(this.fieldStart, this.quoteEnd, this.fieldEscapes ? 3 : 1);
  }

  private reportTooLong(sink: CsvSink, line: number, tail: number, unclosed = false): void {
    sink.problem(recordTooLong(line, this.skippedBytes + tail, unclosed));
  }

  private endRecord(buf: Buffer, start: number, end: number, high: number, sink: CsvSink): void {
    const line = this.recordLine;
    this.recordLine = this.line;
    const bounds = this.bounds;
    const badQuote = this.recordBadQuote;
    this.recordBadQuote = -1;
    if (this.skipping) {
      this.skipping = false;
      this.reportTooLong(sink, line, end - start);
      bounds.length = 0;
      return;
    }
    const count = bounds.length / 3;
    // An empty or blank line (one unquoted field of spaces at most) is not a record.
    if (count === 1 && bounds[2] === 0 && isBlank(buf, bounds[0] ?? 0, bounds[1] ?? 0)) {
      bounds.length = 0;
      return;
    }
    if (badQuote >= 0) {
      bounds.length = 0;
      sink.problem({ line, code: 'TEXT_AFTER_QUOTE', field: badQuote, detail: '' });
      return;
    }
    const ascii = (high & 0x80) === 0;
    if (!ascii && !isUtf8(buf.subarray(start, end))) {
      sink.problem({ line, code: 'INVALID_UTF8', ...firstInvalidByte(buf, bounds) });
      bounds.length = 0;
      return;
    }
    const encoding = ascii ? 'latin1' : 'utf8';
    const fields: string[] = new Array<string>(count);
    for (let f = 0, k = 0; f < count; f++, k += 3) {
      const s = bounds[k] ?? 0;
      const e = bounds[k + 1] ?? 0;
      const flags = bounds[k + 2] ?? 0;
      const text = buf.toString(encoding, s, e);
      fields[f] = flags === 3 ? text.replaceAll('""', '"') : text;
    }
    bounds.length = 0;
    sink.record({ line, fields });
  }
}

function recordTooLong(line: number, size: number, unclosed: boolean): CsvProblem {
  return {
    line,
    code: 'RECORD_TOO_LONG',
    field: null,
    detail: `${size.toLocaleString('en')} bytes${unclosed ? ', up to the end of the file (a quote opened in it is never closed)' : ''}`,
  };
}

/** Complete records cut from CSV text, and the line their first byte is on. */
export interface CsvPiece {
  text: Buffer;
  firstLine: number;
}

/**
 * Cuts CSV text into pieces that end where CsvReader ends a record, without reading fields,
 * so the pieces can be read on several threads (the parallel bulk import): it follows the
 * same quote states as CsvReader and counts lines the same way. A record longer than
 * `maxRecordBytes` is dropped here and reported as CsvReader reports it, so the text held
 * never grows past about one such length.
 */
export class CsvSplitter {
  private readonly delimiter: number;
  private readonly max: number;
  private state: State = State.FieldStart;
  /** Text not cut yet: it starts with the current record; `pos` bytes of it were scanned. */
  private text: Buffer = Buffer.alloc(0);
  private pos = 0;
  /** Line of the current record's start, and of the scan position. */
  private recordLine: number;
  private line: number;
  /** While dropping a record too long: its bytes before `text`. */
  private skipping = false;
  private skippedBytes = 0;

  constructor(options: { delimiter?: string; maxRecordBytes: number; firstLine?: number }) {
    // CsvReader checks the delimiter; a splitter is only used next to one.
    this.delimiter = Buffer.from(options.delimiter ?? ',')[0] ?? 0x2c;
    this.max = options.maxRecordBytes;
    this.line = this.recordLine = options.firstLine ?? 1;
  }

  /** Adds text (a file's BOM already removed). */
  push(chunk: Buffer): void {
    if (chunk.length === 0) return;
    this.text = this.text.length === 0 ? chunk : Buffer.concat([this.text, chunk]);
  }

  /**
   * Complete records pushed so far, up to the first record end at or past `maxBytes` (1: just
   * the first record), or null when none has ended yet. A record too long is passed to
   * `tooLong` instead, in its place.
   */
  take(maxBytes: number, tooLong: (problem: CsvProblem) => void): CsvPiece | null {
    const buf = this.text;
    const delimiter = this.delimiter;
    let state = this.state;
    let line = this.line;
    let cut = 0;
    // A piece starts at `start`; a dropped record at the start moves it on.
    let start = 0;
    let startLine = this.recordLine;
    let i = this.pos;
    for (; i < buf.length; i++) {
      const c = buf[i] ?? 0;
      if (state === State.FieldStart) {
        if (c === QUOTE) {
          state = State.Quoted;
          continue;
        }
        state = State.Unquoted;
      } else if (state === State.QuoteSeen) {
        if (c === QUOTE) {
          state = State.Quoted;
          continue;
        }
        state = State.Closed;
      }
      if (c === LF) {
        line++;
        if (state === State.Quoted) continue;
        // A record ends here (after an unquoted field or a closing quote).
        state = State.FieldStart;
        if (this.skipping) {
          this.skipping = false;
          tooLong(recordTooLong(this.recordLine, this.skippedBytes + i + 1, false));
          this.skippedBytes = 0;
          start = i + 1;
          startLine = line;
        }
        cut = i + 1;
        this.recordLine = line;
        if (cut - start >= maxBytes) {
          i++;
          break;
        }
      } else if (state === State.Quoted) {
        if (c === QUOTE) state = State.QuoteSeen;
      } else if (c === delimiter) {
        state = State.FieldStart;
      }
    }
    this.state = state;
    this.line = line;
    const piece = cut > start ? { text: buf.subarray(start, cut), firstLine: startLine } : null;
    const rest = buf.subarray(cut);
    if (this.skipping) {
      this.skippedBytes += rest.length;
      this.text = Buffer.alloc(0);
      this.pos = 0;
    } else if (rest.length > this.max && i === buf.length) {
      // Longer than any record CsvReader reads: from here on only its size is kept.
      this.skipping = true;
      this.skippedBytes = rest.length;
      this.text = Buffer.alloc(0);
      this.pos = 0;
    } else {
      this.text = rest;
      this.pos = i - cut;
    }
    return piece;
  }

  /** Ends the text: the last record when it has no final newline, or its report when too long. */
  end(tooLong: (problem: CsvProblem) => void): CsvPiece | null {
    if (this.skipping) {
      this.skipping = false;
      tooLong(recordTooLong(this.recordLine, this.skippedBytes, this.state === State.Quoted));
      return null;
    }
    const rest = this.text;
    this.text = Buffer.alloc(0);
    this.pos = 0;
    return rest.length > 0 ? { text: rest, firstLine: this.recordLine } : null;
  }
}

function isBlank(buf: Buffer, start: number, end: number): boolean {
  for (let k = start; k < end; k++) {
    const c = buf[k];
    if (c !== 0x20 && c !== 0x09 && c !== CR) return false;
  }
  return true;
}

function firstInvalidByte(buf: Buffer, bounds: number[]): { field: number | null; detail: string } {
  for (let k = 0; k < bounds.length; k += 3) {
    const at = invalidUtf8At(buf, bounds[k] ?? 0, bounds[k + 1] ?? 0);
    if (at < 0) continue;
    return { field: k / 3, detail: `byte 0x${(buf[at] ?? 0).toString(16).toUpperCase().padStart(2, '0')}` };
  }
  return { field: null, detail: 'a byte sequence' };
}

/** Offset of the first byte of buf[start, end) that does not start a valid UTF-8 character, or -1. */
export function invalidUtf8At(buf: Uint8Array, start: number, end: number): number {
  let i = start;
  while (i < end) {
    const b = buf[i] ?? 0;
    if (b < 0x80) {
      i++;
      continue;
    }
    const n = b >= 0xc2 && b <= 0xdf ? 1 : b >= 0xe0 && b <= 0xef ? 2 : b >= 0xf0 && b <= 0xf4 ? 3 : 0;
    // A truncated character (its continuation bytes would lie past the end) is invalid too.
    if (n === 0 || i + n >= end) return i;
    for (let j = 1; j <= n; j++) if (((buf[i + j] ?? 0) & 0xc0) !== 0x80) return i;
    const b1 = buf[i + 1] ?? 0;
    if ((b === 0xe0 && b1 < 0xa0) || (b === 0xed && b1 > 0x9f) || (b === 0xf0 && b1 < 0x90) || (b === 0xf4 && b1 > 0x8f)) return i;
    i += n + 1;
  }
  return -1;
}

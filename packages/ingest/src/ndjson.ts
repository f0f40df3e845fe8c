import { isUtf8 } from 'node:buffer';
import { invalidUtf8At } from './csv.js';

// A streaming NDJSON reader: one JSON object per line. A line longer than `maxRecordBytes`
// is skipped to its end without being kept in memory and reported; so are lines that are not
// UTF-8, not JSON, or not an object. Blank lines are ignored; CRLF works; a BOM is skipped.

const LF = 0x0a;
const CR = 0x0d;

export type NdjsonProblemCode = 'RECORD_TOO_LONG' | 'INVALID_UTF8' | 'INVALID_JSON' | 'NOT_AN_OBJECT';

export interface NdjsonRecord {
  line: number;
  value: Record<string, unknown>;
}

export interface NdjsonProblem {
  line: number;
  code: NdjsonProblemCode;
  detail: string;
}

export interface NdjsonSink {
  record(record: NdjsonRecord): void;
  problem(problem: NdjsonProblem): void;
}

export class NdjsonReader {
  private readonly max: number;
  private buf: Buffer = Buffer.alloc(0);
  private line = 1;
  private skipping = false;
  private skipped = 0;
  private first = true;
  bytesRead = 0;

  constructor(options: { maxRecordBytes: number }) {
    this.max = options.maxRecordBytes;
  }

  push(chunk: Buffer, sink: NdjsonSink): void {
    this.bytesRead += chunk.length;
    let buf = this.buf.length > 0 ? Buffer.concat([this.buf, chunk]) : chunk;
    if (this.first) {
      if (buf.length < 3) {
        this.buf = buf;
        return;
      }
      this.first = false;
      if (buf[0] === 0xef && buf[1] === 0xbb && buf[2] === 0xbf) buf = buf.subarray(3);
    }
    let start = 0;
    for (;;) {
      const nl = buf.indexOf(LF, start);
      if (nl < 0) break;
      if (this.skipping) {
        this.tooLong(sink, this.skipped + nl - start);
      } else {
        this.lineDone(buf, start, nl, sink);
      }
      this.line++;
      start = nl + 1;
    }
    const rest = buf.length - start;
    if (this.skipping || rest > this.max) {
      if (!this.skipping) {
        this.skipping = true;
        this.skipped = 0;
      }
      this.skipped += rest;
      this.buf = Buffer.alloc(0);
    } else {
      this.buf = buf.subarray(start);
    }
  }

  end(sink: NdjsonSink): void {
    let buf = this.buf;
    if (this.first && buf.length >= 3 && buf[0] === 0xef && buf[1] === 0xbb && buf[2] === 0xbf) buf = buf.subarray(3);
    if (this.skipping) this.tooLong(sink, this.skipped);
    else if (buf.length > 0) this.lineDone(buf, 0, buf.length, sink);
    this.buf = Buffer.alloc(0);
  }

  private tooLong(sink: NdjsonSink, size: number): void {
    this.skipping = false;
    sink.problem({ line: this.line, code: 'RECORD_TOO_LONG', detail: `${size.toLocaleString('en')} bytes` });
  }

  private lineDone(buf: Buffer, start: number, end: number, sink: NdjsonSink): void {
    if (end > start && buf[end - 1] === CR) end--;
    if (end - start > this.max) {
      sink.problem({ line: this.line, code: 'RECORD_TOO_LONG', detail: `${(end - start).toLocaleString('en')} bytes` });
      return;
    }
    let blank = true;
    for (let k = start; k < end; k++) {
      const c = buf[k];
      if (c !== 0x20 && c !== 0x09) {
        blank = false;
        break;
      }
    }
    if (blank) return;
    const bytes = buf.subarray(start, end);
    if (!isUtf8(bytes)) {
      const at = invalidUtf8At(bytes, 0, bytes.length);
      sink.problem({ line: this.line, code: 'INVALID_UTF8', detail: `byte 0x${(bytes[at] ?? 0).toString(16).toUpperCase().padStart(2, '0')} at position ${at + 1}` });
      return;
    }
    let value: unknown;
    try {
      value = JSON.parse(bytes.toString('utf8'));
    } catch (error) {
      sink.problem({ line: this.line, code: 'INVALID_JSON', detail: error instanceof Error ? error.message : String(error) });
      return;
    }
    if (typeof value !== 'object' || value === null || Array.isArray(value)) {
      sink.problem({ line: this.line, code: 'NOT_AN_OBJECT', detail: Array.isArray(value) ? 'an array' : JSON.stringify(value).slice(0, 40) });
      return;
    }
    sink.record({ line: this.line, value: value as Record<string, unknown> });
  }
}

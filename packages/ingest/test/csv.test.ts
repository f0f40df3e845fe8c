import { parse } from 'csv-parse/sync';
import { describe, expect, it } from 'vitest';
import { CsvReader, CsvSplitter, type CsvPiece, type CsvProblem, type CsvRecord } from '../src/csv.js';
import { NdjsonReader, type NdjsonProblem, type NdjsonRecord } from '../src/ndjson.js';

function readCsv(input: Buffer | string, chunkSize = 7, maxRecordBytes = 1_000_000): { records: CsvRecord[]; problems: CsvProblem[] } {
  const bytes = typeof input === 'string' ? Buffer.from(input) : input;
  const reader = new CsvReader({ maxRecordBytes });
  const records: CsvRecord[] = [];
  const problems: CsvProblem[] = [];
  const sink = { record: (r: CsvRecord) => records.push(r), problem: (p: CsvProblem) => problems.push(p) };
  for (let i = 0; i < bytes.length; i += chunkSize) reader.push(bytes.subarray(i, i + chunkSize), sink);
  reader.end(sink);
  return { records, problems };
}

function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

describe('CsvReader', () => {
  it('reads quoted fields, escaped quotes, quoted newlines, CRLF and a BOM, with start lines', () => {
    const text = '\uFEFFid,title\r\n1,"a, ""b"""\r\n2,"two\r\nlines"\r\n\r\n3,plain\r\n4,"last"';
    for (const chunk of [1, 2, 3, 5, 64]) {
      const { records, problems } = readCsv(text, chunk);
      expect(problems).toEqual([]);
      expect(records).toEqual([
        { line: 1, fields: ['id', 'title'] },
        { line: 2, fields: ['1', 'a, "b"'] },
        { line: 3, fields: ['2', 'two\r\nlines'] },
        { line: 6, fields: ['3', 'plain'] },
        { line: 7, fields: ['4', 'last'] },
      ]);
    }
  });

  it('agrees with csv-parse on well-formed random input, whatever the chunking', () => {
    const next = rng(42);
    const alphabet = ['a', 'b', ' ', ',', '"', '\n', '\r\n', 'é', '€', '𝄞', 'x', '1'];
    for (let round = 0; round < 200; round++) {
      const rows: string[][] = [];
      const columns = 2 + Math.floor(next() * 3);
      for (let r = 0; r < 1 + Math.floor(next() * 6); r++) {
        const row: string[] = [];
        for (let c = 0; c < columns; c++) {
          let value = '';
          for (let k = Math.floor(next() * 6); k > 0; k--) value += alphabet[Math.floor(next() * alphabet.length)];
          row.push(value);
        }
        rows.push(row);
      }
      const text = rows
        .map((row) => row.map((v) => (/[",\r\n]/.test(v) || v === '' || next() < 0.2 ? `"${v.replaceAll('"', '""')}"` : v)).join(','))
        .join(next() < 0.5 ? '\n' : '\r\n');
      const expected = (parse(text, { relax_column_count: true, skip_empty_lines: false }) as string[][]).filter(
        (row) => !(row.length === 1 && row[0]?.trim() === ''),
      );
      const got = readCsv(text, 1 + Math.floor(next() * 9));
      expect(got.problems).toEqual([]);
      expect(got.records.map((r) => r.fields)).toEqual(expected);
    }
  });

  it('skips a 10 MB line with a problem and reads on, keeping memory bounded', () => {
    const big = 'x'.repeat(10 * 1024 * 1024);
    const text = `a,b\n1,2\n3,${big}\n5,6\n7,"q\nq"\n9,10\n`;
    const { records, problems } = readCsv(text, 65_536, 1024 * 1024);
    expect(problems).toEqual([{ line: 3, code: 'RECORD_TOO_LONG', field: null, detail: '10,485,763 bytes' }]);
    expect(records.map((r) => [r.line, r.fields])).toEqual([
      [1, ['a', 'b']],
      [2, ['1', '2']],
      [4, ['5', '6']],
      [5, ['7', 'q\nq']],
      [7, ['9', '10']],
    ]);
  });

  it('follows quotes through an over-long quoted record', () => {
    const big = `"${'y\n'.repeat(600)}"`;
    const { records, problems } = readCsv(`a,b\n1,${big}\n2,3\n`, 100, 500);
    expect(problems.map((p) => [p.line, p.code])).toEqual([[2, 'RECORD_TOO_LONG']]);
    expect(records.map((r) => [r.line, r.fields])).toEqual([
      [1, ['a', 'b']],
      [603, ['2', '3']],
    ]);
  });

  it('reports invalid UTF-8, an unclosed quote and text after a closing quote per record', () => {
    const latin1 = Buffer.concat([Buffer.from('a,b\n1,caf'), Buffer.from([0xe9]), Buffer.from('\n2,ok\n3,"x"y\n4,"open\n5,6\n')]);
    const { records, problems } = readCsv(latin1, 3);
    expect(records.map((r) => r.fields)).toEqual([['a', 'b'], ['2', 'ok']]);
    expect(problems).toEqual([
      { line: 2, code: 'INVALID_UTF8', field: 1, detail: 'byte 0xE9' },
      { line: 4, code: 'TEXT_AFTER_QUOTE', field: 1, detail: '' },
      { line: 5, code: 'QUOTE_NOT_CLOSED', field: 1, detail: '' },
    ]);
  });

  it('keeps a quote inside an unquoted field as text and a trailing empty field', () => {
    const { records } = readCsv('a,b,c\n12" frame,x,\n', 4);
    expect(records[1]?.fields).toEqual(['12" frame', 'x', '']);
  });

  it('treats an input of only a BOM and blank lines as having no records', () => {
    expect(readCsv('\uFEFF\n\r\n  \n').records).toEqual([]);
    expect(readCsv('').records).toEqual([]);
  });
});

describe('NdjsonReader', () => {
  function readNdjson(input: string | Buffer, chunk = 5, max = 1000): { records: NdjsonRecord[]; problems: NdjsonProblem[] } {
    const bytes = typeof input === 'string' ? Buffer.from(input) : input;
    const reader = new NdjsonReader({ maxRecordBytes: max });
    const records: NdjsonRecord[] = [];
    const problems: NdjsonProblem[] = [];
    const sink = { record: (r: NdjsonRecord) => records.push(r), problem: (p: NdjsonProblem) => problems.push(p) };
    for (let i = 0; i < bytes.length; i += chunk) reader.push(bytes.subarray(i, i + chunk), sink);
    reader.end(sink);
    return { records, problems };
  }

  it('reads objects line by line and reports bad lines with their numbers', () => {
    const long = JSON.stringify({ id: 'z'.repeat(5000) });
    const text = `\uFEFF{"id":"a"}\r\n\n[1]\n{bad\n${long}\n{"id":"b"}`;
    const { records, problems } = readNdjson(text);
    expect(records).toEqual([
      { line: 1, value: { id: 'a' } },
      { line: 6, value: { id: 'b' } },
    ]);
    expect(problems.map((p) => [p.line, p.code])).toEqual([
      [3, 'NOT_AN_OBJECT'],
      [4, 'INVALID_JSON'],
      [5, 'RECORD_TOO_LONG'],
    ]);
  });

  it('rejects a line that is not UTF-8', () => {
    const { problems } = readNdjson(Buffer.concat([Buffer.from('{"id":"caf'), Buffer.from([0xe9]), Buffer.from('"}\n')]));
    expect(problems).toEqual([{ line: 1, code: 'INVALID_UTF8', detail: 'byte 0xE9 at position 11' }]);
  });
});

describe('CsvSplitter', () => {
  /** Cuts the text with a splitter (the header record alone first), reads each piece with a CsvReader of its own, and gathers what they report in order. */
  function readInPieces(text: string, chunkSize: number, maxRecordBytes: number, maxPiece: number): { records: CsvRecord[]; problems: CsvProblem[] } {
    const bytes = Buffer.from(text);
    const splitter = new CsvSplitter({ maxRecordBytes });
    const records: CsvRecord[] = [];
    const problems: CsvProblem[] = [];
    const sink = { record: (r: CsvRecord) => records.push(r), problem: (p: CsvProblem) => problems.push(p) };
    const readPiece = (piece: CsvPiece | null) => {
      if (!piece) return;
      const reader = new CsvReader({ maxRecordBytes, firstLine: piece.firstLine, skipBom: false });
      reader.push(piece.text, sink);
      reader.end(sink);
    };
    const tooLong = (p: CsvProblem) => problems.push(p);
    for (let i = 0; i < bytes.length; i += chunkSize) {
      splitter.push(bytes.subarray(i, i + chunkSize));
      for (let piece = splitter.take(records.length === 0 ? 1 : maxPiece, tooLong); piece; piece = splitter.take(records.length === 0 ? 1 : maxPiece, tooLong)) readPiece(piece);
    }
    for (let piece = splitter.take(maxPiece, tooLong); piece; piece = splitter.take(maxPiece, tooLong)) readPiece(piece);
    readPiece(splitter.end(tooLong));
    return { records, problems };
  }

  it('cuts where CsvReader ends records: the pieces read alone give the same records, lines and problems', () => {
    const next = rng(7);
    const cells = ['a', 'b,c', '"q""x"', '"multi\nline"', '"crlf\r\nin"', 'x"y', '"bad"z', '', ' ', '"open', 'long'.repeat(30), 'é'];
    const ends = ['\n', '\r\n', '\n\n'];
    for (let round = 0; round < 200; round++) {
      let text = 'h1,h2\n';
      const rows = Math.floor(next() * 30);
      for (let r = 0; r < rows; r++) {
        const n = 1 + Math.floor(next() * 3);
        const fields = Array.from({ length: n }, () => cells[Math.floor(next() * cells.length)] ?? '');
        text += fields.join(',') + (ends[Math.floor(next() * ends.length)] ?? '\n');
      }
      if (next() < 0.3) text = text.replace(/\n$/, '');
      const max = 40 + Math.floor(next() * 100);
      const whole = readCsv(text, 1 << 20, max);
      for (const [chunk, piece] of [[1, 1 << 20], [3, 50], [17, 1], [1 << 20, 1 << 20], [1 << 20, 64]] as const) {
        const pieces = readInPieces(text, chunk, max, piece);
        expect(pieces.records, `round ${round}, chunks of ${chunk}, pieces of ${piece}`).toEqual(whole.records);
        expect(pieces.problems, `round ${round}, chunks of ${chunk}, pieces of ${piece}`).toEqual(whole.problems);
      }
    }
  });

  it('keeps no more than about one record limit of text while dropping a record too long', () => {
    const splitter = new CsvSplitter({ maxRecordBytes: 100 });
    const problems: CsvProblem[] = [];
    splitter.push(Buffer.from('h\n"never closed'));
    expect(splitter.take(1 << 20, (p) => problems.push(p))?.text.toString()).toBe('h\n');
    for (let i = 0; i < 1000; i++) {
      splitter.push(Buffer.alloc(1000, 0x61));
      expect(splitter.take(1 << 20, (p) => problems.push(p))).toBeNull();
    }
    expect(splitter.end((p) => problems.push(p))).toBeNull();
    expect(problems).toEqual([{ line: 2, code: 'RECORD_TOO_LONG', field: null, detail: '1,000,013 bytes, up to the end of the file (a quote opened in it is never closed)' }]);
  });
});

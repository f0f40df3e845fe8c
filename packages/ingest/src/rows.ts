import type { CsvProblem } from './csv.js';
import type { NdjsonProblem } from './ndjson.js';
import type { Rejection, RejectionCode } from './errors.js';
import type { Binding, Cells } from './kinds.js';

// How the rows of a file become cells and rejections. Shared by the import itself and the
// threads that read pieces of a file in a parallel bulk import, so both report a row alike.

/** A rejection with its place in the file spelled out in the reason. */
export function rejectionAt(fileName: string, line: number, column: string | null, code: RejectionCode, message: string): Rejection {
  const where = column === null ? `${fileName} line ${line}` : `${fileName} line ${line}, column ${column}`;
  return { line, column, code, reason: `${where}: ${message}` };
}

/** The column (or property) a field was read from, for messages. */
export function boundColumn(bindings: readonly Binding[] | null, field: string | null): string | null {
  if (field === null) return null;
  const binding = bindings?.find((b) => b.field === field);
  return binding?.column ?? field;
}

/** The header column a CSV problem is in, when known. */
export function problemColumn(header: readonly string[], problem: CsvProblem): string | null {
  return problem.field === null ? null : (header[problem.field]?.trim() ?? null);
}

export function describeCsvProblem(problem: CsvProblem): string {
  switch (problem.code) {
    case 'RECORD_TOO_LONG':
      return `expected a row of at most the record size limit, got ${problem.detail}; the row was skipped`;
    case 'INVALID_UTF8':
      return `expected UTF-8 text, got ${problem.detail} that is not UTF-8 (save the file as UTF-8)`;
    case 'QUOTE_NOT_CLOSED':
      return 'expected a closing quote, got the end of the file (a quoted field is never closed)';
    case 'TEXT_AFTER_QUOTE':
      return 'expected a separator or the end of the line after a closing quote, got more text (quote the whole field and double the quotes inside it)';
  }
}

export function describeNdjsonProblem(problem: NdjsonProblem): string {
  switch (problem.code) {
    case 'RECORD_TOO_LONG':
      return `expected a line of at most the record size limit, got ${problem.detail}; the line was skipped`;
    case 'INVALID_UTF8':
      return `expected UTF-8 text, got ${problem.detail} that is not UTF-8 (save the file as UTF-8)`;
    case 'INVALID_JSON':
      return `expected a JSON object, got text that is not JSON (${problem.detail})`;
    case 'NOT_AN_OBJECT':
      return `expected a JSON object, got ${problem.detail}`;
  }
}

/** Why a record does not have the header's number of columns, or null when it does (extra empty cells are allowed). */
export function columnCountProblem(expected: number, fields: readonly string[]): string | null {
  if (fields.length === expected) return null;
  if (fields.length > expected && fields.slice(expected).every((f) => f.trim() === '')) return null;
  return `expected ${expected} column${expected === 1 ? '' : 's'} as in the header, got ${fields.length}${fields.length < expected ? ' (missing columns)' : ' (extra columns)'}`;
}

/** A CSV record's cells by field, through the header's bindings. */
export function csvCells(bindings: readonly Binding[], fields: readonly string[]): Cells {
  return (field) => {
    const binding = bindings[field];
    if (!binding) return undefined;
    if (binding.constant !== undefined) return binding.constant;
    return binding.index >= 0 ? fields[binding.index] : undefined;
  };
}

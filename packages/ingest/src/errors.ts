import { DomainError } from '@clientele/domain/rules';

/** Why a whole file (or the request to import it) was refused. */
export type ImportErrorReason =
  | 'BAD_OPTION'
  | 'FILE_NOT_FOUND'
  | 'UNKNOWN_FORMAT'
  | 'EMPTY_FILE'
  | 'UNSUPPORTED_ENCODING'
  | 'BAD_HEADER'
  | 'DUPLICATE_HEADERS'
  | 'MISSING_COLUMNS'
  | 'UNKNOWN_COLUMN'
  | 'JOB_NOT_FOUND';

/**
 * A mistake in the file or in how it was asked to be imported. It is a DomainError (code
 * BAD_USER_INPUT, or NOT_FOUND for a missing file or job), so the CLI prints it as one line
 * and GraphQL puts the code in `extensions.code`; `reason` says which mistake it is.
 */
export class ImportError extends DomainError {
  readonly reason: ImportErrorReason;
  /** The job recorded for the attempt, when one was created before the mistake showed. */
  jobId: string | null = null;

  constructor(reason: ImportErrorReason, message: string, field?: string) {
    super(reason === 'FILE_NOT_FOUND' || reason === 'JOB_NOT_FOUND' ? 'NOT_FOUND' : 'BAD_USER_INPUT', message, field);
    this.name = 'ImportError';
    this.reason = reason;
  }
}

/** Reason codes of rejected rows (stored with each rejection; the quality report counts them). */
export const REJECTION_CODES = [
  // the file's syntax
  'RECORD_TOO_LONG',
  'INVALID_UTF8',
  'QUOTE_NOT_CLOSED',
  'TEXT_AFTER_QUOTE',
  'INVALID_JSON',
  'NOT_AN_OBJECT',
  'COLUMN_COUNT',
  // values
  'MISSING_FIELD',
  'MISSING_CUSTOMER_ID',
  'NUL_BYTE',
  'INVALID_NUMBER',
  'INVALID_BOOLEAN',
  'INVALID_DATE',
  'FUTURE_DATE',
  'NEGATIVE_PRICE',
  // the domain's rules (the same codes as the GraphQL batch mutations)
  'INVALID_VALUE',
  'UNKNOWN_TYPE',
  'OUT_OF_RANGE',
  'UNKNOWN_CUSTOMER',
  'UNKNOWN_ITEM',
] as const;

export type RejectionCode = (typeof REJECTION_CODES)[number];

const KNOWN: ReadonlySet<string> = new Set(REJECTION_CODES);

function isRejectionCode(code: string): code is RejectionCode {
  return KNOWN.has(code);
}

/** A domain row-error code as a rejection code (anything unexpected counts as INVALID_VALUE). */
export function rejectionCode(code: string): RejectionCode {
  return isRejectionCode(code) ? code : 'INVALID_VALUE';
}

/** One rejected row: where it is and why, in a sentence that names the file. */
export interface Rejection {
  line: number;
  /** The source column (or NDJSON property), when the problem is in one. */
  column: string | null;
  code: RejectionCode;
  /** e.g. "interactions.csv line 17, column occurred_at: expected an ISO-8601 date, got 'yesterday'" */
  reason: string;
}

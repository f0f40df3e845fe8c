import { DomainError } from './errors.js';

export const MAX_PAGE_SIZE = 500;

export interface PageRequest {
  first?: number | null | undefined;
  after?: string | null | undefined;
}

export interface Page<T> {
  nodes: T[];
  cursors: string[];
  hasNextPage: boolean;
  hasPreviousPage: boolean;
  /** Counts every row matching the filter; only run when a client asks for it. */
  totalCount?: () => Promise<number>;
}

/** Opaque cursors over a numeric key; the kind tag stops a customer cursor paging items. */
export function encodeCursor(kind: string, key: number): string {
  return Buffer.from(`${kind}:${key}`, 'utf8').toString('base64url');
}

export function decodeCursor(kind: string, cursor: string): number {
  const decoded = Buffer.from(cursor, 'base64url').toString('utf8');
  const [tag, value] = decoded.split(':');
  const key = Number(value);
  if (tag !== kind || !Number.isSafeInteger(key)) {
    throw new DomainError('BAD_USER_INPUT', `after: expected a cursor returned by this list, got '${cursor}'`, 'after');
  }
  return key;
}

/** Validates `first`: negative is an error, above the cap is capped (the schema says so). */
export function pageSize(first: number | null | undefined, fallback = 20): number {
  if (first === null || first === undefined) return fallback;
  if (!Number.isInteger(first) || first < 0) {
    throw new DomainError('BAD_USER_INPUT', `first: expected an integer from 0 to ${MAX_PAGE_SIZE}, got ${first}`, 'first');
  }
  return Math.min(first, MAX_PAGE_SIZE);
}

/** Builds a page from `limit + 1` fetched rows. */
export function toPage<T>(rows: T[], limit: number, kind: string, key: (row: T) => number, hasPrevious: boolean): Page<T> {
  const nodes = rows.slice(0, limit);
  return {
    nodes,
    cursors: nodes.map((row) => encodeCursor(kind, key(row))),
    hasNextPage: rows.length > limit,
    hasPreviousPage: hasPrevious,
  };
}

/** Cursor over a (sort key, id) pair, for orders other than by id. */
export function encodeKeyCursor(kind: string, key: string | number, id: number): string {
  return Buffer.from(JSON.stringify([kind, key, id]), 'utf8').toString('base64url');
}

export function decodeKeyCursor(kind: string, cursor: string): { key: string; id: number } {
  try {
    const parsed: unknown = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8'));
    if (Array.isArray(parsed) && parsed[0] === kind && (typeof parsed[1] === 'string' || typeof parsed[1] === 'number') && Number.isSafeInteger(parsed[2])) {
      return { key: String(parsed[1]), id: Number(parsed[2]) };
    }
  } catch {
    // fall through to the error below
  }
  throw new DomainError('BAD_USER_INPUT', `after: expected a cursor returned by this list, got '${cursor}'`, 'after');
}

import { sql, type SQL } from 'drizzle-orm';
import type { PgColumn } from 'drizzle-orm/pg-core';
import { DomainError } from './errors.js';

export const MAX_BATCH = 1000;

export type RowStatus = 'CREATED' | 'UPDATED' | 'UNCHANGED' | 'REJECTED';

export interface RowError {
  code: string;
  field: string | null;
  message: string;
}

export interface RowResult {
  index: number;
  id: string | null;
  status: RowStatus;
  error: RowError | null;
}

export interface BatchResult {
  results: RowResult[];
  createdCount: number;
  updatedCount: number;
  unchangedCount: number;
  rejectedCount: number;
}

export function summarise(results: RowResult[]): BatchResult {
  const count = (status: RowStatus) => results.filter((r) => r.status === status).length;
  return {
    results,
    createdCount: count('CREATED'),
    updatedCount: count('UPDATED'),
    unchangedCount: count('UNCHANGED'),
    rejectedCount: count('REJECTED'),
  };
}

export function rejected(index: number, id: string | null, code: string, field: string | null, message: string): RowResult {
  return { index, id, status: 'REJECTED', error: { code, field, message } };
}

/**
 * `SET col = excluded.col` for the given columns (keyed by their property names, as drizzle's
 * `set` wants), plus the "did anything change" test.
 */
export function upsertClauses(columns: [string, PgColumn][]): { set: Record<string, SQL>; changed: SQL } {
  const set: Record<string, SQL> = {};
  const tests: SQL[] = [];
  for (const [key, column] of columns) {
    const excluded = sql`excluded.${sql.identifier(column.name)}`;
    set[key] = excluded;
    tests.push(sql`${column} IS DISTINCT FROM ${excluded}`);
  }
  return { set, changed: sql.join(tests, sql` OR `) };
}

/** Groups rows by which optional fields they provide, so each group is one INSERT … ON CONFLICT. */
export function groupByShape<T extends object>(rows: T[]): T[][] {
  const groups = new Map<string, T[]>();
  for (const row of rows) {
    const shape = Object.keys(row).sort().join(',');
    const group = groups.get(shape);
    if (group) group.push(row);
    else groups.set(shape, [row]);
  }
  return [...groups.values()];
}

export function checkBatchSize(name: string, length: number): void {
  if (length > MAX_BATCH) {
    throw new DomainError(
      'BAD_USER_INPUT',
      `${name}: expected at most ${MAX_BATCH} rows per call, got ${length}; split the batch`,
      name,
    );
  }
}

/** One validated row ready to write: its input position, external id and column values. */
export interface ValidRow {
  index: number;
  id: string;
  /** Column values by property name (as in the drizzle table); `externalId` included. */
  values: Record<string, unknown>;
  /** Validated data that is not a column of the row (e.g. consent changes). */
  extra?: Record<string, unknown>;
}

/**
 * Validates a batch with `validate` (returning a ValidRow or a rejection for each input) and
 * rejects repeats of an external id within the batch, so every stored row is written once.
 */
export function validateBatch<I>(
  inputs: readonly I[],
  validate: (input: I, index: number) => ValidRow | RowResult,
): { valid: ValidRow[]; results: RowResult[] } {
  const results: RowResult[] = new Array(inputs.length);
  const valid: ValidRow[] = [];
  const seen = new Map<string, number>();
  inputs.forEach((input, index) => {
    const checked = validate(input, index);
    if ('status' in checked) {
      results[index] = checked;
      return;
    }
    const first = seen.get(checked.id);
    if (first !== undefined) {
      results[index] = rejected(index, checked.id, 'DUPLICATE_IN_BATCH', 'id', `id '${checked.id}' already appears at index ${first} of this batch`);
      return;
    }
    seen.set(checked.id, index);
    valid.push(checked);
  });
  return { valid, results };
}

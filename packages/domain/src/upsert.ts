import type { Executor } from '@clientele/db';
import { sql } from 'drizzle-orm';
import type { PgColumn, PgTable } from 'drizzle-orm/pg-core';
import { groupByShape, upsertClauses, type RowResult, type ValidRow } from './batch.js';

/**
 * Writes validated rows with INSERT … ON CONFLICT (external id) DO UPDATE, touching a stored
 * row only when a provided field differs. Fills `results` with CREATED, UPDATED or UNCHANGED.
 * Rows providing different fields go in separate statements so left-out fields keep their
 * stored values.
 */
export async function upsertByExternalId(
  tx: Executor,
  table: PgTable,
  columns: Record<string, PgColumn>,
  keyColumn: PgColumn,
  rows: ValidRow[],
  results: RowResult[],
  /** Columns written but not compared (ciphertexts differ on every write; their indexes are compared). */
  uncompared: readonly string[] = [],
): Promise<void> {
  const byId = new Map(rows.map((row) => [row.id, row]));
  // Each statement writes its rows in external-id order, so concurrent batches sharing ids take
  // the rows' locks in one order: they wait for each other instead of deadlocking.
  const byKey = (a: Record<string, unknown>, b: Record<string, unknown>) => {
    const x = String(a['externalId']);
    const y = String(b['externalId']);
    return x < y ? -1 : x > y ? 1 : 0;
  };
  for (const group of groupByShape(rows.map((row) => row.values)).map((g) => [...g].sort(byKey))) {
    const provided = Object.keys(group[0] ?? {})
      .filter((key) => key !== 'externalId')
      .map((key): [string, PgColumn] => {
        const column = columns[key];
        if (!column) throw new Error(`unknown column ${key}`);
        return [key, column];
      });
    const written = new Map<string, boolean>();
    if (provided.length === 0) {
      const inserted = await tx
        .insert(table)
        .values(group)
        .onConflictDoNothing({ target: keyColumn })
        .returning({ externalId: keyColumn });
      for (const row of inserted) written.set(String(row.externalId), true);
    } else {
      const compared = provided.filter(([, column]) => !uncompared.includes(column.name));
      const { set } = upsertClauses(provided);
      const { changed } = upsertClauses(compared.length > 0 ? compared : provided);
      const updatedAt = columns['updatedAt'];
      if (updatedAt) set['updatedAt'] = sql`now()`;
      const returned = await tx
        .insert(table)
        .values(group)
        .onConflictDoUpdate({ target: keyColumn, set, setWhere: changed })
        .returning({ externalId: keyColumn, inserted: sql<boolean>`(xmax = 0)` });
      for (const row of returned) written.set(String(row.externalId), Boolean(row.inserted));
    }
    for (const values of group) {
      const row = byId.get(String(values['externalId']));
      if (!row) continue;
      const inserted = written.get(row.id);
      results[row.index] = {
        index: row.index,
        id: row.id,
        status: inserted === undefined ? 'UNCHANGED' : inserted ? 'CREATED' : 'UPDATED',
        error: null,
      };
    }
  }
}

import { sql } from 'drizzle-orm';
import { selectRows, type Executor } from './client.js';

// Advisory locks around bulk loads of interactions (PostgreSQL; harmless on the embedded
// database, which has one connection). A bulk import resolves customer and item external ids
// to internal ids batch by batch and only attaches its rows at the end, so nothing may delete
// or re-id a customer or item in between: it holds BULK_LOAD_LOCK shared (session level, on a
// connection of its own) for its whole run, and merges and erasures take it exclusively for
// their transaction (`waitForBulkLoads`), so they wait for running bulk loads and bulk loads
// starting meanwhile wait for them. Any fixed 64-bit numbers (see MIGRATION_LOCK_ID).

/** Held shared by every running bulk load; taken exclusively by merges and erasures. */
export const BULK_LOAD_LOCK = 7_243_911_010;
/** Serialises the final step of bulk loads (dedupe against stored rows and attach). */
export const BULK_FINALIZE_LOCK = 7_243_911_011;
/**
 * First key of the per-import lock `(BULK_JOB_LOCK_SPACE, hashtext(job id))` a bulk import
 * holds while it runs: a load table whose import holds no such lock was left by a crash.
 */
export const BULK_JOB_LOCK_SPACE = 72_439_110;

/**
 * Waits until no bulk load is running and keeps new ones from starting until the caller's
 * transaction ends. Call it first thing in a transaction that deletes customers or items or
 * moves interactions between them.
 */
export async function waitForBulkLoads(tx: Executor): Promise<void> {
  await tx.execute(sql`SELECT pg_advisory_xact_lock(${BULK_LOAD_LOCK}::bigint)`);
}

/**
 * Segments of the interaction partitions attached now (0 is the live partition; each bulk load
 * adds one). Read from the catalog, so it costs nothing however many rows they hold. Rows of a
 * bulk partition got their ids while loading and appear all at once when it is attached, so a
 * reader that follows new interactions by id also has to look for new segments.
 */
export async function attachedInteractionSegments(db: Executor): Promise<number[]> {
  const rows = await selectRows<{ bound: string }>(
    db,
    sql`SELECT pg_get_expr(c.relpartbound, c.oid) AS bound FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid
        WHERE i.inhparent = 'interactions'::regclass`,
  );
  const segments: number[] = [];
  for (const { bound } of rows) {
    const match = /IN \((\d+)\)/.exec(bound);
    if (match?.[1]) segments.push(Number(match[1]));
  }
  return segments.sort((a, b) => a - b);
}

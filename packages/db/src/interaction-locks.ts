import { sql } from 'drizzle-orm';
import type { Executor } from './client.js';

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

import { sql } from 'drizzle-orm';
import type { Executor } from './client.js';
import { customers, interactions, items } from './schema.js';

/**
 * Rows written at once above which a writer refreshes the planner's statistics. Fewer barely
 * move them, and ANALYZE samples up to 30,000 rows per table, too much for every small batch.
 */
export const BULK_WRITE_ROWS = 10_000;

/**
 * Refreshes planner statistics of the customer data after a bulk write. The embedded database
 * has no autovacuum, and on PostgreSQL it may not have run yet; plans made for near-empty
 * tables (nested loops over "1 row") made the next feature query take 5 s instead of 0.5 s.
 */
export async function refreshStatistics(db: Executor): Promise<void> {
  // Two statements, which a pool runs on two connections at once: after a bulk import of a
  // million rows, interactions (its partitions and the whole) took 0.5 s and the rest 0.15 s.
  await Promise.all([db.execute(sql`ANALYZE ${customers}, ${items}`), db.execute(sql`ANALYZE ${interactions}`)]);
}

import { fileURLToPath } from 'node:url';
import { migrate as migratePglite } from 'drizzle-orm/pglite/migrator';
import { migrate as migrateNodePg } from 'drizzle-orm/node-postgres/migrator';
import { drizzle as drizzleNodePg } from 'drizzle-orm/node-postgres';
import type { DatabaseHandle } from './client.js';

/** The SQL migrations ship with this package; resolved from here, never from the cwd. */
export const migrationsFolder = fileURLToPath(new URL('../migrations', import.meta.url));

// Any fixed 64-bit number: serialises migrations across processes starting at once.
const MIGRATION_LOCK_ID = 7_243_911_002;

/** Brings the schema up to date. Safe to call from several processes at once on PostgreSQL. */
export async function migrate(handle: DatabaseHandle): Promise<void> {
  if (handle.driver.kind === 'embedded') {
    await migratePglite(drizzlePglite(handle), { migrationsFolder });
    return;
  }
  const client = await handle.driver.pool.connect();
  try {
    await client.query('SELECT pg_advisory_lock($1)', [MIGRATION_LOCK_ID]);
    try {
      await migrateNodePg(drizzleNodePg(client), { migrationsFolder });
    } finally {
      await client.query('SELECT pg_advisory_unlock($1)', [MIGRATION_LOCK_ID]);
    }
  } finally {
    client.release();
  }
}

function drizzlePglite(handle: DatabaseHandle) {
  if (handle.driver.kind !== 'embedded') throw new Error('not an embedded database');
  return handle.db as Parameters<typeof migratePglite>[0];
}

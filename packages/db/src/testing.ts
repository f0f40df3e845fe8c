import { randomBytes } from 'node:crypto';
import { loadConfig } from '@clientele/config';
import { PGlite } from '@electric-sql/pglite';
import pg from 'pg';
import { fromPglite, openDatabase, type DatabaseHandle } from './client.js';
import { migrate } from './migrate.js';

// Test databases: a fresh in-memory PGlite by default, or — when DATABASE_URL is set, as in
// the PostgreSQL pass of .ci/run — a fresh database created on that server for each caller
// and dropped on close, so runs and test files never see each other's rows.

export interface TestDatabase extends DatabaseHandle {
  /** Connection URL of the fresh database (PostgreSQL only). */
  url?: string;
}

export async function createTestDatabase(): Promise<TestDatabase> {
  const config = loadConfig();
  if (config.database.kind === 'embedded') {
    const handle = fromPglite(await PGlite.create(), 'memory://');
    await migrate(handle);
    return handle;
  }
  const adminUrl = config.database.url;
  const name = `clientele_test_${Date.now().toString(36)}_${randomBytes(4).toString('hex')}`;
  const admin = new pg.Client({ connectionString: adminUrl });
  await admin.connect();
  try {
    await admin.query(`CREATE DATABASE "${name}"`);
  } finally {
    await admin.end();
  }
  const url = new URL(adminUrl);
  url.pathname = `/${name}`;
  const handle = await openDatabase({ kind: 'postgres', url: url.toString() }, { maxConnections: 5 });
  await migrate(handle);
  return {
    ...handle,
    url: url.toString(),
    async close() {
      await handle.close();
      const dropper = new pg.Client({ connectionString: adminUrl });
      await dropper.connect();
      try {
        await dropper.query(`DROP DATABASE IF EXISTS "${name}" WITH (FORCE)`);
      } finally {
        await dropper.end();
      }
    },
  };
}

import { existsSync, mkdirSync, readdirSync } from 'node:fs';
import path from 'node:path';
import type { DatabaseConfig } from '@clientele/config';
import { PGlite } from '@electric-sql/pglite';
import type { PgDatabase, PgQueryResultHKT } from 'drizzle-orm/pg-core';
import { drizzle as drizzlePglite } from 'drizzle-orm/pglite';
import { drizzle as drizzleNodePg } from 'drizzle-orm/node-postgres';
import pg from 'pg';
import { DatabaseSetupError } from './errors.js';
import { lockDataDir } from './lock.js';
import * as schema from './schema.js';

export type Schema = typeof schema;

/**
 * The drizzle database as both backends share it: typed against the common Postgres base,
 * so code written against it runs unchanged on PGlite and node-postgres.
 */
export type Database = PgDatabase<PgQueryResultHKT, Schema>;

/** The handle inside `db.transaction(async (tx) => …)`; always use it inside a transaction. */
export type Transaction = Parameters<Parameters<Database['transaction']>[0]>[0];

/** Either the database or a transaction: what repository functions take. */
export type Executor = Database | Transaction;

export interface DatabaseHandle {
  db: Database;
  kind: 'embedded' | 'postgres';
  /** Where the data lives, for logs and messages (never includes a password). */
  location: string;
  /** The raw PGlite instance or pg Pool, for COPY and other driver-specific work. */
  driver: { kind: 'embedded'; client: PGlite } | { kind: 'postgres'; pool: pg.Pool };
  ping(): Promise<void>;
  close(): Promise<void>;
}

export interface OpenOptions {
  /** Maximum pool size on PostgreSQL. */
  maxConnections?: number;
  /** Application name reported to PostgreSQL (pg_stat_activity). */
  applicationName?: string;
}

/** Strips the password from a connection URL so it can be printed. */
export function redactUrl(url: string): string {
  try {
    const parsed = new URL(url);
    if (parsed.password) parsed.password = '***';
    return parsed.toString();
  } catch {
    return '(unparsable URL)';
  }
}

function describePgError(error: unknown, url: string): string {
  const err = error as NodeJS.ErrnoException & { code?: string };
  const where = redactUrl(url);
  switch (err.code) {
    case 'ECONNREFUSED':
      return `cannot connect to PostgreSQL at ${where}: connection refused. Is the server running? Check DATABASE_URL`;
    case 'ENOTFOUND':
    case 'EAI_AGAIN':
      return `cannot connect to PostgreSQL at ${where}: unknown host. Check DATABASE_URL`;
    case '3D000':
      return `PostgreSQL at ${where}: the database does not exist. Create it (createdb) or fix DATABASE_URL`;
    case '28P01':
    case '28000':
      return `PostgreSQL at ${where} refused the credentials (${err.message}). Check the user and password in DATABASE_URL`;
    default:
      return `cannot use PostgreSQL at ${where}: ${err.message ?? String(error)}. Check DATABASE_URL`;
  }
}

async function openPostgres(url: string, options: OpenOptions): Promise<DatabaseHandle> {
  const pool = new pg.Pool({
    connectionString: url,
    max: options.maxConnections ?? 10,
    application_name: options.applicationName ?? 'clientele',
    connectionTimeoutMillis: 10_000,
  });
  // Idle clients can error when the server restarts; the pool replaces them, so only log.
  pool.on('error', () => undefined);
  // A client that is checked out but between queries (a transaction waiting on other work)
  // also emits 'error' when the server ends its session (restart, pg_terminate_backend), and
  // pg-pool listens only while the client is idle: without this, that ends the process. The
  // work using the client still fails at its next query, and the pool drops the broken
  // client when it is released.
  pool.on('connect', (client) => {
    client.on('error', () => undefined);
  });
  try {
    const client = await pool.connect();
    client.release();
  } catch (error) {
    await pool.end().catch(() => undefined);
    throw new DatabaseSetupError(describePgError(error, url), { cause: error });
  }
  const db = drizzleNodePg(pool, { schema });
  return {
    db,
    kind: 'postgres',
    location: redactUrl(url),
    driver: { kind: 'postgres', pool },
    async ping() {
      await pool.query('SELECT 1');
    },
    async close() {
      await pool.end();
    },
  };
}

async function openEmbedded(dataDir: string): Promise<DatabaseHandle> {
  const pgdata = path.join(dataDir, 'pgdata');
  const unlock = lockDataDir(dataDir);
  let client: PGlite;
  try {
    if (existsSync(pgdata) && readdirSync(pgdata).length > 0 && !existsSync(path.join(pgdata, 'PG_VERSION'))) {
      throw new Error('it has no PG_VERSION file');
    }
    mkdirSync(pgdata, { recursive: true });
    client = await PGlite.create(pgdata);
    await client.query('SELECT 1');
  } catch (error) {
    unlock();
    if (error instanceof DatabaseSetupError) throw error;
    throw new DatabaseSetupError(
      `the embedded database in ${pgdata} cannot be opened (${(error as Error).message ?? String(error)}): it may be corrupt. Move the folder away to start fresh, or set CLIENTELE_DATA_DIR to another folder`,
      { cause: error },
    );
  }
  return fromPglite(client, pgdata, unlock);
}

/** Wraps a PGlite instance (on disk or in memory) as a DatabaseHandle. */
export function fromPglite(client: PGlite, location: string, onClose?: () => void): DatabaseHandle {
  const db = drizzlePglite(client, { schema });
  return {
    db,
    kind: 'embedded',
    location,
    driver: { kind: 'embedded', client },
    async ping() {
      await client.query('SELECT 1');
    },
    async close() {
      try {
        await client.close();
      } finally {
        onClose?.();
      }
    },
  };
}

/** Opens the configured database: PostgreSQL when DATABASE_URL is set, PGlite otherwise. */
export async function openDatabase(
  config: DatabaseConfig,
  options: OpenOptions = {},
): Promise<DatabaseHandle> {
  return config.kind === 'postgres'
    ? openPostgres(config.url, options)
    : openEmbedded(config.dataDir);
}

/**
 * Runs raw SQL and returns its rows. Both drivers answer `execute` with an object holding
 * `rows`, but the shared base type cannot say so; this checks it at run time instead of
 * casting. The row type is the caller's statement about its own SELECT list.
 */
export async function selectRows<Row>(
  executor: Executor,
  query: Parameters<Executor['execute']>[0],
): Promise<Row[]> {
  const result: unknown = await executor.execute(query);
  if (typeof result === 'object' && result !== null && 'rows' in result && Array.isArray(result.rows)) {
    return result.rows as Row[];
  }
  throw new Error('unexpected result shape from the database driver');
}

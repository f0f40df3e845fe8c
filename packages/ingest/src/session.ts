import { finished } from 'node:stream/promises';
import type { DatabaseHandle } from '@clientele/db';
import type { PoolClient } from 'pg';
import { from as copyFrom } from 'pg-copy-streams';

/** The start (signature, flags, no extension) and the end of a binary COPY stream. */
const BINARY_COPY_HEADER = Buffer.from([0x50, 0x47, 0x43, 0x4f, 0x50, 0x59, 0x0a, 0xff, 0x0d, 0x0a, 0x00, 0, 0, 0, 0, 0, 0, 0, 0]);
const BINARY_COPY_TRAILER = Buffer.from([0xff, 0xff]);

// The little the importer needs from either driver: queries with parameters, COPY of text
// data into a table, and transactions. On PostgreSQL each transaction takes a connection
// from the pool and gives it back; on PGlite it is the embedded instance's transaction.

export interface QueryResult<Row> {
  rows: Row[];
  /** Rows inserted, updated or deleted. */
  count: number;
}

export interface Session {
  query<Row = Record<string, unknown>>(text: string, params?: unknown[]): Promise<QueryResult<Row>>;
  /**
   * COPY `data` into `table (columns)`: COPY text (UTF-8 when bytes), or binary rows (the
   * stream's header and trailer are added here).
   */
  copyIn(table: string, columns: readonly string[], data: string | Buffer, format?: 'text' | 'binary'): Promise<void>;
}

export interface Sessions {
  transaction<T>(work: (session: Session) => Promise<T>): Promise<T>;
  /** A statement on its own (its own transaction). */
  query<Row = Record<string, unknown>>(text: string, params?: unknown[]): Promise<QueryResult<Row>>;
}

type PgliteClient = Extract<DatabaseHandle['driver'], { kind: 'embedded' }>['client'];
type PgliteTransaction = Parameters<Parameters<PgliteClient['transaction']>[0]>[0];

function pgSession(client: PoolClient): Session {
  return {
    async query(text: string, params: unknown[] = []) {
      const result = await client.query(text, params);
      return { rows: result.rows, count: result.rowCount ?? 0 };
    },
    async copyIn(table, columns, data, format = 'text') {
      const stream = client.query(copyFrom(`COPY ${table} (${columns.join(', ')}) FROM STDIN${format === 'binary' ? ' WITH (FORMAT binary)' : ''}`));
      if (format === 'binary') {
        stream.write(BINARY_COPY_HEADER);
        stream.write(data);
        stream.end(BINARY_COPY_TRAILER);
      } else {
        stream.end(data);
      }
      await finished(stream);
    },
  };
}

function pgliteSession(tx: PgliteClient | PgliteTransaction): Session {
  return {
    async query<Row>(text: string, params: unknown[] = []) {
      const result = await tx.query<Row>(text, params);
      return { rows: result.rows, count: result.affectedRows ?? 0 };
    },
    async copyIn(table, columns, data, format = 'text') {
      const blob = format === 'binary' ? new Blob([BINARY_COPY_HEADER, data, BINARY_COPY_TRAILER]) : new Blob([data]);
      await tx.query(`COPY ${table} (${columns.join(', ')}) FROM '/dev/blob'${format === 'binary' ? ' WITH (FORMAT binary)' : ''}`, [], { blob });
    },
  };
}

export function sessions(database: DatabaseHandle): Sessions {
  const driver = database.driver;
  if (driver.kind === 'embedded') {
    const client = driver.client;
    return {
      transaction: (work) => client.transaction((tx) => work(pgliteSession(tx))),
      query: (text, params) => pgliteSession(client).query(text, params),
    };
  }
  const pool = driver.pool;
  return {
    async transaction(work) {
      const client = await pool.connect();
      let broken = false;
      try {
        await client.query('BEGIN');
        const result = await work(pgSession(client));
        await client.query('COMMIT');
        return result;
      } catch (error) {
        await client.query('ROLLBACK').catch(() => {
          broken = true;
        });
        throw error;
      } finally {
        client.release(broken);
      }
    },
    async query(text, params) {
      const result = await pool.query(text, params);
      return { rows: result.rows, count: result.rowCount ?? 0 };
    },
  };
}

import { BULK_FINALIZE_LOCK, BULK_JOB_LOCK_SPACE, BULK_LOAD_LOCK } from '@clientele/db';
import type pg from 'pg';
import type { InteractionRow } from '@clientele/domain';
import type { Session, Sessions } from './session.js';
import { CopyRows, ID_CACHE, loadTail, type PendingRow } from './bulk-rows.js';
import { IdCache } from './id-cache.js';
import type { UnknownReference } from './stage.js';

// The bulk path for large interaction imports on PostgreSQL (issue 4). Keeping six btrees up
// to date row by row costs 2–5 s per index per million rows; building them once over the
// loaded rows costs about a second each. So a bulk import:
//
// 1. holds BULK_LOAD_LOCK shared and its own job lock, on a connection of its own, for its
//    whole run: merges and erasures (which delete or re-id customers) wait for it, and a load
//    table whose job lock is free was left by a crash;
// 2. writes each batch, in its own transaction with the job's progress as before, into
//    `interactions_load_<job>`: a plain table with no index and no foreign key, its customer
//    and item ids resolved (stubs created) per batch as on the live path. Rows whose explicit
//    event id may repeat an earlier line (a Bloom filter in the reader says so, ~1 % false
//    positives) go to `…_repeats` with their line number instead;
// 3. at the end, first on its own tables, which nobody else reads: keeps the first line of each
//    repeated event id, removes event ids stored in the bulk partitions attached by then, and
//    builds the indexes (under their final names) on two connections at once — this one and one
//    more taken from the pool for the while; CREATE INDEX takes a SHARE lock, which does not
//    conflict with another CREATE INDEX. Then, in one transaction serialised with other bulk
//    loads (BULK_FINALIZE_LOCK), only what has to be: removes event ids stored in bulk
//    partitions attached since, adds the foreign keys, then — holding `interactions_live` in
//    SHARE mode, so no live write of the same event can commit in between — removes event ids
//    stored there and attaches the table as partition `interactions_bulk_<segment>`. When no
//    row is left (a re-import), the table is dropped and nothing is attached.
//
// A crash leaves the load table unattached: the next bulk import drops it (its job is no longer
// running, or its job lock is free). A re-run of the file then stores exactly its rows.

const LOAD_PREFIX = 'interactions_load_';
/** Columns COPYed into a load table; id, source, created_at and segment come from its defaults. */
const LOAD_COLUMNS = ['event_id', 'customer_id', 'item_id', 'type', 'value', 'quantity', 'amount', 'occurred_at'] as const;
const COLUMNS = 'event_id, customer_id, item_id, type, value, quantity, amount, occurred_at, source';
const LOAD_TABLE = /^interactions_load_([0-9a-f]{32})(_repeats)?$/;

/** The job id (a uuid) as written in table names. */
const tableId = (jobId: string): string => jobId.replace(/-/g, '').toLowerCase();
const uuidOf = (hex: string): string => `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;

/** maintenance_work_mem of each index build (two run at once): a million rows sort in about 90 MB. */
const INDEX_MEMORY = '256MB';
/** How long the index builds wait for a second connection of the pool before going on without. */
const BORROW_WAIT_MS = 2_000;
const ignoreError = (): void => undefined;
/** New names per statement from which a batch's stubs are inserted in two statements at once. */
const PARALLEL_STUBS = 2_000;

/**
 * The indexes of a bulk partition (those of `interactions`), under the partition's names, on
 * `table`. Built from both ends of the list at once (see `buildIndexes`). On a million rows,
 * two builds running, (event_id, segment) and (customer_id, occurred_at) took 0.9–1.5 s each,
 * item_id 0.8–1.4, occurred_at 0.7–1.1 and the primary key 0.5–1.0: the import's connection
 * takes the first two, the other the last two, and whichever is free first the primary key.
 */
// IF NOT EXISTS: after one connection fails, the other builds what is left, and an index whose
// COMMIT succeeded just before the failure must not be built twice.
const partitionIndexes = (name: string, table: string): string[] => [
  `CREATE UNIQUE INDEX IF NOT EXISTS ${name}_event_id_segment_idx ON ${table} (event_id, segment)`,
  `CREATE INDEX IF NOT EXISTS ${name}_customer_id_occurred_at_idx ON ${table} (customer_id, occurred_at)`,
  `CREATE UNIQUE INDEX IF NOT EXISTS ${name}_pkey ON ${table} (id, segment)`,
  `CREATE INDEX IF NOT EXISTS ${name}_occurred_at_idx ON ${table} (occurred_at)`,
  `CREATE INDEX IF NOT EXISTS ${name}_item_id_idx ON ${table} (item_id)`,
];

/** One index build in a transaction of its own, with the memory it needs (SET LOCAL: the connection may go back to the pool). */
async function buildIndex(client: pg.ClientBase, statement: string): Promise<void> {
  try {
    await client.query(`BEGIN; SET LOCAL maintenance_work_mem = '${INDEX_MEMORY}'; SET LOCAL max_parallel_maintenance_workers = 0`);
    await client.query(statement);
    await client.query('COMMIT');
  } catch (error) {
    await client.query('ROLLBACK').catch(() => undefined);
    throw error;
  }
}

/**
 * Drops load tables whose import is not running any more: it finished without attaching (an
 * error), or its process died (its job lock is free; the job is then marked failed).
 */
export async function dropAbandonedLoads(client: pg.ClientBase): Promise<string[]> {
  const { rows } = await client.query<{ relname: string }>(
    `SELECT c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
     WHERE n.nspname = current_schema() AND c.relkind = 'r' AND NOT c.relispartition AND c.relname LIKE 'interactions\\_load\\_%'`,
  );
  const jobs = new Map<string, string[]>();
  for (const { relname } of rows) {
    const match = LOAD_TABLE.exec(relname);
    if (!match?.[1]) continue;
    const list = jobs.get(match[1]) ?? [];
    list.push(relname);
    jobs.set(match[1], list);
  }
  const dropped: string[] = [];
  for (const [hex, tables] of jobs) {
    const jobId = uuidOf(hex);
    const { rows: status } = await client.query<{ status: string }>('SELECT status FROM import_jobs WHERE id = $1', [jobId]);
    if (status[0]?.status === 'running') {
      const { rows: free } = await client.query<{ free: boolean }>('SELECT pg_try_advisory_lock($1, hashtext($2)) AS free', [BULK_JOB_LOCK_SPACE, jobId]);
      if (!free[0]?.free) continue; // still being written
      await client.query('SELECT pg_advisory_unlock($1, hashtext($2))', [BULK_JOB_LOCK_SPACE, jobId]);
      await client.query(
        `UPDATE import_jobs SET status = 'failed', stage = 'failed', error = 'the importing process stopped before the import finished (nothing of it was stored; run it again)',
           finished_at = now(), updated_at = now() WHERE id = $1 AND status = 'running'`,
        [jobId],
      );
    }
    await client.query(`DROP TABLE IF EXISTS ${tables.join(', ')}`);
    dropped.push(...tables);
  }
  return dropped;
}

/**
 * A batch being gathered: rows whose customer and item ids are already known go straight
 * into binary COPY rows (nothing per row is kept), the others wait for `prepare`. Rows whose explicit
 * event id may repeat an earlier line go to the repeats table, with their line.
 */
export interface BulkBatch {
  rows: CopyRows;
  loaded: number;
  pending: PendingRow[];
  /** Repeats-table rows with known ids, and how many. */
  repeatRows: CopyRows;
  repeats: number;
}

export const emptyBulkBatch = (): BulkBatch => ({ rows: new CopyRows(), loaded: 0, pending: [], repeatRows: new CopyRows(1 << 12), repeats: 0 });

/** A batch with every id resolved, as binary COPY rows for the load table and the repeats table. */
export interface PreparedBatch {
  rows: Buffer;
  repeatRows: Buffer;
  loaded: number;
  repeats: number;
  stubCustomers: number;
  stubItems: number;
  /** Rows naming a customer or item that does not exist (only when not creating stubs), by line. */
  unknown: UnknownReference[];
}

export class BulkLoad {
  /** Rows in the load table and in the repeats table (committed batches only). */
  loaded = 0;
  repeats = 0;
  /** Load tables of crashed imports dropped when this one started. */
  droppedAbandoned: string[] = [];
  private released = false;

  private constructor(
    private readonly pool: pg.Pool,
    private readonly client: pg.PoolClient,
    readonly jobId: string,
    readonly segment: number,
    readonly table: string,
    readonly repeatsTable: string,
  ) {}

  /** Starts a bulk load for an import job (takes a connection of the pool for its whole run). */
  static async open(pool: pg.Pool, jobId: string, source: string): Promise<BulkLoad> {
    const client = await pool.connect();
    // A connection lost mid-import (server restart, terminated backend) fails the next query;
    // without a listener its 'error' event would end the process.
    client.on('error', () => undefined);
    try {
      // Waits for a merge or erasure in progress; then they wait for this import.
      await client.query('SELECT pg_advisory_lock_shared($1::bigint)', [BULK_LOAD_LOCK]);
      await client.query('SELECT pg_advisory_lock($1, hashtext($2))', [BULK_JOB_LOCK_SPACE, jobId]);
      const dropped = await dropAbandonedLoads(client);
      const { rows } = await client.query<{ n: string }>(`SELECT nextval('interactions_segment_seq')::text AS n`);
      const segment = Number(rows[0]?.n);
      const table = `${LOAD_PREFIX}${tableId(jobId)}`;
      const repeatsTable = `${table}_repeats`;
      // Autovacuum would analyse and vacuum the table while it grows, on the cores the import
      // needs; it is analysed once at the end instead.
      await client.query(`CREATE TABLE ${table} (LIKE interactions INCLUDING DEFAULTS) WITH (autovacuum_enabled = off)`);
      await client.query(
        `ALTER TABLE ${table} ALTER COLUMN segment SET DEFAULT ${segment}, ALTER COLUMN source SET DEFAULT ${client.escapeLiteral(source)},
           ADD CONSTRAINT ${table}_segment_check CHECK (segment = ${segment})`,
      );
      await client.query(`CREATE TABLE ${repeatsTable} (LIKE ${table} INCLUDING DEFAULTS, line bigint NOT NULL) WITH (autovacuum_enabled = off)`);
      const load = new BulkLoad(pool, client, jobId, segment, table, repeatsTable);
      load.droppedAbandoned = dropped;
      return load;
    } catch (error) {
      client.release(true);
      throw error;
    }
  }

  /** Adds an accepted row to a batch (synchronously, as the file is read). */
  add(batch: BulkBatch, line: number, row: InteractionRow, repeat: boolean): void {
    const customer = repeat ? undefined : this.cache.customers.get(row.customerExternalId);
    const item = customer === undefined ? undefined : this.cache.items.get(row.itemExternalId);
    if (customer !== undefined && item !== undefined) {
      batch.rows.appendLoadRow(row.eventId, customer, item, row);
      batch.loaded++;
    } else {
      batch.pending.push({ line, eventId: row.eventId, customer: row.customerExternalId, item: row.itemExternalId, tail: loadTail(row), repeat });
    }
  }

  /** Called with the ids `prepare` resolves, as it resolves them (a parallel import passes them to its reader threads). */
  onResolved: ((kind: 'customers' | 'items', names: string[], ids: number[]) => void) | null = null;

  /**
   * Resolves the customer and item ids of a batch's pending rows, creating stubs for unknown
   * ones (each kind in one short transaction of its own, new ids inserted in sorted order so
   * that concurrent batches wait for each other instead of deadlocking, and never for a whole
   * batch). Ids stay valid until the import ends: merges and erasures wait for it
   * (BULK_LOAD_LOCK), so they are remembered for the rows that follow.
   */
  async prepare(sessions: Sessions, batch: BulkBatch, createUnknown: boolean): Promise<PreparedBatch> {
    const customerNames = new Set<string>();
    const itemNames = new Set<string>();
    for (const row of batch.pending) {
      customerNames.add(row.customer);
      itemNames.add(row.item);
    }
    const [customers, items] = await Promise.all([
      this.resolveInTurn(sessions, 'customers', customerNames, createUnknown),
      this.resolveInTurn(sessions, 'items', itemNames, createUnknown),
    ]);
    let loaded = batch.loaded;
    let repeats = batch.repeats;
    const unknown: UnknownReference[] = [];
    for (const { line, eventId, customer: customerName, item: itemName, tail, repeat } of batch.pending) {
      const customer = customers.ids.get(customerName);
      const item = items.ids.get(itemName);
      if (customer === undefined || item === undefined) {
        unknown.push({ line, customer: customer === undefined ? customerName : null, item: item === undefined ? itemName : null });
        continue;
      }
      if (repeat) {
        batch.repeatRows.appendPendingRow(eventId, customer, item, tail, line);
        repeats++;
      } else {
        batch.rows.appendPendingRow(eventId, customer, item, tail, null);
        loaded++;
      }
    }
    unknown.sort((a, b) => a.line - b.line);
    return { rows: batch.rows.bytes(), repeatRows: batch.repeatRows.bytes(), loaded, repeats, stubCustomers: customers.stubs, stubItems: items.stubs, unknown };
  }

  private readonly cache = { customers: new IdCache(ID_CACHE), items: new IdCache(ID_CACHE) };
  /** The last resolution of each kind, which the next one waits for. */
  private readonly turns: Record<'customers' | 'items', Promise<unknown>> = { customers: Promise.resolve(), items: Promise.resolve() };

  /**
   * resolve(), one batch at a time per kind, the two kinds at once (each on a connection of its
   * own). The first batches of a file hold thousands of new names, most of them shared: two
   * batches inserting the same stubs at once made the second wait for the first's rows and
   * then look them up again; in turn, it finds them in the cache. Stubs are on the import's
   * critical path until the reader threads know most ids (the first 150,000 rows of the
   * benchmark's file took 4 s, the rest about 210,000 rows/s).
   */
  private resolveInTurn(sessions: Sessions, kind: 'customers' | 'items', names: Set<string>, create: boolean): Promise<{ ids: Map<string, number>; stubs: number }> {
    const result = this.turns[kind].then(() => this.resolve(sessions, kind, names, create));
    this.turns[kind] = result.catch(() => undefined);
    return result;
  }

  /** Internal ids of the given external ids (customers through merge aliases too). */
  private async resolve(sessions: Sessions, kind: 'customers' | 'items', names: Set<string>, create: boolean): Promise<{ ids: Map<string, number>; stubs: number }> {
    const cache = this.cache[kind];
    const ids = new Map<string, number>();
    let missing: string[] = [];
    for (const name of names) {
      const id = cache.get(name);
      if (id === undefined) missing.push(name);
      else ids.set(name, id);
    }
    const learned: { names: string[]; ids: number[] } = { names: [], ids: [] };
    const found = (rows: { external_id: string; id: string | number }[]) => {
      for (const r of rows) {
        const id = Number(r.id);
        ids.set(r.external_id, id);
        cache.set(r.external_id, id);
        learned.names.push(r.external_id);
        learned.ids.push(id);
      }
    };
    const load = async (wanted: string[]) => {
      found((await sessions.query<{ external_id: string; id: string }>(`SELECT external_id, id FROM ${kind} WHERE external_id = ANY($1::text[])`, [wanted])).rows);
      const rest = wanted.filter((name) => !ids.has(name));
      if (kind === 'customers' && rest.length > 0) {
        found((await sessions.query<{ external_id: string; id: string }>('SELECT external_id, customer_id AS id FROM customer_aliases WHERE external_id = ANY($1::text[])', [rest])).rows);
      }
      return wanted.filter((name) => !ids.has(name));
    };
    let stubs = 0;
    if (missing.length > 0) missing = await load(missing);
    if (create && missing.length > 0) {
      missing.sort();
      const insert =
        kind === 'customers'
          ? `INSERT INTO customers (external_id, attributes) SELECT x, '{"stub": true}'::jsonb FROM unnest($1::text[]) AS x ORDER BY 1
             ON CONFLICT (external_id) DO NOTHING RETURNING external_id, id`
          : `INSERT INTO items (external_id, title, attributes) SELECT x, x, '{"stub": true}'::jsonb FROM unnest($1::text[]) AS x ORDER BY 1
             ON CONFLICT (external_id) DO NOTHING RETURNING external_id, id`;
      // Many new names (the first batches of a file) are inserted in two halves at once, on two
      // connections: they are the import's critical path until the reader threads know most ids.
      // Each statement takes its names in order, so no two statements wait on each other in a cycle.
      const parts = missing.length >= 2 * PARALLEL_STUBS ? [missing.slice(0, missing.length >> 1), missing.slice(missing.length >> 1)] : [missing];
      const created = (await Promise.all(parts.map((part) => sessions.query<{ external_id: string; id: string }>(insert, [part])))).flatMap((result) => result.rows);
      stubs = created.length;
      found(created);
      // Created meanwhile by a concurrent batch or writer.
      const rest = missing.filter((name) => !ids.has(name));
      if (rest.length > 0) await load(rest);
    }
    this.onResolved?.(kind, learned.names, learned.ids);
    return { ids, stubs };
  }

  /**
   * Writes a prepared batch into the load tables inside the caller's transaction (on another
   * pool connection; up to `concurrency` at once). Counted by `committed` once it committed.
   */
  async write(session: Session, batch: PreparedBatch): Promise<void> {
    // Losing the last batches to a server crash is harmless here: nothing of a bulk load is
    // visible before it is attached, and the import is run again after a crash anyway.
    await session.query('SET LOCAL synchronous_commit = off');
    if (batch.loaded > 0) await session.copyIn(this.table, LOAD_COLUMNS, batch.rows, 'binary');
    if (batch.repeats > 0) await session.copyIn(this.repeatsTable, [...LOAD_COLUMNS, 'line'], batch.repeatRows, 'binary');
  }

  committed(batch: PreparedBatch): void {
    this.loaded += batch.loaded;
    this.repeats += batch.repeats;
  }

  /**
   * Deduplicates, indexes and attaches the loaded rows (see the top of this file). Returns
   * the rows stored: those whose event id was not stored before.
   */
  async finish(onStage?: (stage: string) => void): Promise<number> {
    const c = this.client;
    const t = this.table;
    const name = `interactions_bulk_${this.segment}`;
    const q = async (text: string, params?: unknown[]) => (await c.query(text, params)).rowCount ?? 0;
    // For the session: this connection is closed when the import ends, never given back to the pool.
    await q(`SET maintenance_work_mem = '${INDEX_MEMORY}'`); // the foreign key checks use it too
    await q(`SET work_mem = '64MB'`);
    await q('SET max_parallel_maintenance_workers = 0'); // slower than one process on 2 cores

    // On this import's own tables, which nobody else reads or writes: nothing to wait for.
    let rows = this.loaded;
    await q('BEGIN');
    try {
      if (this.repeats > 0) {
        // The first line of each event id that repeats: a row in the load table came first
        // (the reader flags no first occurrence of a repeated id), else the lowest line here.
        await q(`DELETE FROM ${this.repeatsTable} r USING ${t} l WHERE l.event_id = r.event_id`);
        rows += await q(`INSERT INTO ${t} (${COLUMNS}) SELECT DISTINCT ON (event_id) ${COLUMNS} FROM ${this.repeatsTable} ORDER BY event_id, line`);
      }
      await q(`DROP TABLE ${this.repeatsTable}`);
      await q('COMMIT');
    } catch (error) {
      await q('ROLLBACK').catch(() => undefined);
      throw error;
    }
    // Event ids stored by the bulk loads attached by now are removed before indexing (a
    // re-import then builds nothing); those attached later, in the serialised step below.
    const attached = await this.attachedSegments();
    if (rows > 0 && attached.length > 0) {
      onStage?.('deduplicate');
      // Statistics for the join (a quarter of a second on a million rows). Without one to
      // plan, the table is left to autovacuum, which analyses it once attached.
      await q(`ANALYZE ${t}`);
      rows -= await q(`DELETE FROM ${t} l USING interactions i WHERE i.event_id = l.event_id AND i.segment IN (${attached.join(', ')})`);
    }
    if (rows === 0) {
      await q(`DROP TABLE ${t}`);
      return 0;
    }
    onStage?.('index');
    // Under the partition's names: a table left by a crash is dropped with its indexes, and
    // its segment is never used again.
    await this.buildIndexes(partitionIndexes(name, t));
    await q(`ALTER TABLE ${t} ADD CONSTRAINT ${name}_pkey PRIMARY KEY USING INDEX ${name}_pkey`);

    await q('BEGIN');
    try {
      await q('SELECT pg_advisory_xact_lock($1::bigint)', [BULK_FINALIZE_LOCK]);
      // Stored by a bulk load attached since (none can attach now: finalisation is serialised).
      const since = (await this.attachedSegments()).filter((segment) => !attached.includes(segment));
      if (since.length > 0) rows -= await q(`DELETE FROM ${t} l USING interactions i WHERE i.event_id = l.event_id AND i.segment IN (${since.join(', ')})`);
      if (rows > 0) {
        await q(`ALTER TABLE ${t} RENAME TO ${name}`);
        // Checked here with one join each; ATTACH then adopts them instead of checking again.
        // (Not before this transaction: once committed, dropping the table after a failure
        // would need customers and items in ACCESS EXCLUSIVE mode; and not during the index
        // builds: ADD FOREIGN KEY's SHARE ROW EXCLUSIVE lock conflicts with their SHARE lock.)
        await q(
          `ALTER TABLE ${name} ADD CONSTRAINT ${name}_customer_id_fk FOREIGN KEY (customer_id) REFERENCES customers (id) ON DELETE CASCADE,
             ADD CONSTRAINT ${name}_item_id_fk FOREIGN KEY (item_id) REFERENCES items (id) ON DELETE CASCADE`,
        );
        onStage?.('attach');
        // From here to COMMIT, live writes wait: an event id written there before is removed
        // below, and one written after sees this partition.
        await q('LOCK TABLE interactions_live IN SHARE MODE');
        rows -= await q(`DELETE FROM ${name} l USING interactions_live i WHERE i.event_id = l.event_id`);
        if (rows > 0) {
          await q(`ALTER TABLE ${name} RESET (autovacuum_enabled), ALTER COLUMN source DROP DEFAULT`);
          await q(`ALTER TABLE interactions ATTACH PARTITION ${name} FOR VALUES IN (${this.segment})`);
        } else {
          await q(`DROP TABLE ${name}`);
        }
      } else {
        await q(`DROP TABLE ${t}`);
      }
      await q('COMMIT');
      return rows;
    } catch (error) {
      await q('ROLLBACK').catch(() => undefined);
      throw error;
    }
  }

  /** Segments of the bulk partitions of `interactions` attached now (from the catalog). */
  private async attachedSegments(): Promise<number[]> {
    const { rows } = await this.client.query<{ bound: string }>(
      `SELECT pg_get_expr(c.relpartbound, c.oid) AS bound FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid
       WHERE i.inhparent = 'interactions'::regclass`,
    );
    const segments: number[] = [];
    for (const { bound } of rows) {
      for (const value of /IN \(([^)]*)\)/.exec(bound)?.[1]?.split(',') ?? []) {
        const segment = Number(value.trim());
        if (Number.isSafeInteger(segment) && segment !== 0) segments.push(segment);
      }
    }
    return segments;
  }

  /**
   * Runs the index builds on this connection and, when the pool has one to spare, on one more
   * at once, taking them from the other end of the list. If that one fails, what it did not
   * build is built here; if this one fails, the other ends the build it is in (nothing is
   * left running on the load table) and the error is thrown. The other connection goes back
   * to the pool in every case (closed if it failed).
   */
  private async buildIndexes(statements: readonly string[]): Promise<void> {
    const queue = [...statements];
    let stop = false;
    const work = async (client: pg.ClientBase, take: () => string | undefined): Promise<void> => {
      for (let statement = take(); statement !== undefined; statement = stop ? undefined : take()) {
        try {
          await buildIndex(client, statement);
        } catch (error) {
          queue.push(statement);
          throw error;
        }
      }
    };
    const helper = await this.borrow();
    const mine = work(this.client, () => queue.shift()).catch((error: unknown) => {
      stop = true;
      throw error;
    });
    const theirs = helper ? work(helper, () => queue.pop()) : Promise.resolve();
    const [own, other] = await Promise.allSettled([mine, theirs]);
    if (helper) {
      helper.removeListener('error', ignoreError);
      helper.release(other.status === 'rejected');
    }
    if (own.status === 'rejected') throw own.reason;
    // The other connection failed (its build was rolled back): the rest is built here.
    await work(this.client, () => queue.shift());
  }

  /** Another connection of the pool, if it has one to spare now; null otherwise (no waiting for one). */
  private async borrow(): Promise<pg.PoolClient | null> {
    const pool = this.pool;
    if (pool.idleCount === 0 && pool.totalCount >= (pool.options.max ?? 10)) return null;
    const connecting = pool.connect();
    let timer: NodeJS.Timeout | undefined;
    const late = new Promise<null>((resolve) => {
      timer = setTimeout(() => resolve(null), BORROW_WAIT_MS);
    });
    try {
      const client = await Promise.race([connecting, late]);
      if (client === null) {
        connecting.then((c) => c.release(), () => undefined);
        return null;
      }
      client.on('error', ignoreError);
      return client;
    } catch {
      return null;
    } finally {
      clearTimeout(timer);
    }
  }

  /** Drops what was loaded (after a failure or a cancellation); best effort. */
  async abandon(): Promise<void> {
    if (this.released) return;
    await this.client.query(`DROP TABLE IF EXISTS ${this.table}, ${this.repeatsTable}`).catch(() => undefined);
    this.release();
  }

  /** Ends the session, which releases its advisory locks. */
  release(): void {
    if (this.released) return;
    this.released = true;
    this.client.release(true);
  }
}

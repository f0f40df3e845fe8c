import { BULK_FINALIZE_LOCK, BULK_JOB_LOCK_SPACE, BULK_LOAD_LOCK } from '@clientele/db';
import type pg from 'pg';
import type { InteractionRow } from '@clientele/domain';
import type { Session, Sessions } from './session.js';
import { copyNumber, copyText, type UnknownReference } from './stage.js';

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
// 3. at the end, in one transaction serialised with other bulk loads (BULK_FINALIZE_LOCK):
//    keeps the first line of each repeated event id, removes event ids stored in other bulk
//    partitions, builds the indexes and foreign keys, then — holding `interactions_live` in
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

/** One accepted row of a bulk import, with its line and whether its event id may repeat an earlier line. */
export interface BulkRow {
  line: number;
  row: InteractionRow;
  repeat: boolean;
}

/**
 * COPY text gathered in one growing buffer: a batch's 20,000 lines as strings (or one long
 * concatenation) outlived the young generation, and the garbage collector copying them cost
 * more than building them; and they had to be encoded to UTF-8 at the end anyway.
 */
export class CopyText {
  private buffer = Buffer.allocUnsafe(1 << 20);
  length = 0;

  append(text: string): void {
    if (this.length + text.length * 3 > this.buffer.length) {
      const bigger = Buffer.allocUnsafe(Math.max(this.buffer.length * 2, this.length + text.length * 3));
      this.buffer.copy(bigger, 0, 0, this.length);
      this.buffer = bigger;
    }
    this.length += this.buffer.write(text, this.length, 'utf8');
  }

  bytes(): Buffer {
    return this.buffer.subarray(0, this.length);
  }
}

/**
 * A batch being gathered: rows whose customer and item ids are already known go straight
 * into COPY text (nothing per row is kept), the others wait for `prepare`.
 */
export interface BulkBatch {
  text: CopyText;
  loaded: number;
  pending: BulkRow[];
}

export const emptyBulkBatch = (): BulkBatch => ({ text: new CopyText(), loaded: 0, pending: [] });

/** A batch with every id resolved, as COPY text for the load table and the repeats table. */
export interface PreparedBatch {
  text: Buffer;
  repeatsText: string;
  loaded: number;
  repeats: number;
  stubCustomers: number;
  stubItems: number;
  /** Rows naming a customer or item that does not exist (only when not creating stubs), by line. */
  unknown: UnknownReference[];
}

/** One load-table row as a line of COPY text (LOAD_COLUMNS). */
function loadLine(row: InteractionRow, customer: number, item: number): string {
  return `${copyText(row.eventId)}\t${customer}\t${item}\t${copyText(row.type)}\t${copyNumber(row.value)}\t${copyNumber(row.quantity)}\t${copyNumber(row.amount)}\t${row.occurredAt.toISOString()}\n`;
}

/** External ids known to be stored, with their internal ids; bounded, cleared when full. */
class IdCache {
  private readonly map = new Map<string, number>();
  constructor(private readonly limit: number) {}
  get(key: string): number | undefined {
    return this.map.get(key);
  }
  set(key: string, id: number): void {
    if (this.map.size >= this.limit) this.map.clear();
    this.map.set(key, id);
  }
}

/** External ids remembered per kind (~100 bytes each): enough for most catalogues and customer bases. */
const ID_CACHE = 500_000;

export class BulkLoad {
  /** Rows in the load table and in the repeats table (committed batches only). */
  loaded = 0;
  repeats = 0;
  /** Load tables of crashed imports dropped when this one started. */
  droppedAbandoned: string[] = [];
  private released = false;

  private constructor(
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
      const load = new BulkLoad(client, jobId, segment, table, repeatsTable);
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
      batch.text.append(loadLine(row, customer, item));
      batch.loaded++;
    } else {
      batch.pending.push({ line, row, repeat });
    }
  }

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
    for (const { row } of batch.pending) {
      customerNames.add(row.customerExternalId);
      itemNames.add(row.itemExternalId);
    }
    const customers = await this.resolve(sessions, 'customers', customerNames, createUnknown);
    const items = await this.resolve(sessions, 'items', itemNames, createUnknown);
    const text = batch.text;
    let repeatsText = '';
    let loaded = batch.loaded;
    let repeats = 0;
    const unknown: UnknownReference[] = [];
    for (const { line, row, repeat } of batch.pending) {
      const customer = customers.ids.get(row.customerExternalId);
      const item = items.ids.get(row.itemExternalId);
      if (customer === undefined || item === undefined) {
        unknown.push({ line, customer: customer === undefined ? row.customerExternalId : null, item: item === undefined ? row.itemExternalId : null });
      } else if (repeat) {
        repeatsText += `${loadLine(row, customer, item).slice(0, -1)}\t${line}\n`;
        repeats++;
      } else {
        text.append(loadLine(row, customer, item));
        loaded++;
      }
    }
    unknown.sort((a, b) => a.line - b.line);
    return { text: text.bytes(), repeatsText, loaded, repeats, stubCustomers: customers.stubs, stubItems: items.stubs, unknown };
  }

  private readonly cache = { customers: new IdCache(ID_CACHE), items: new IdCache(ID_CACHE) };

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
    const found = (rows: { external_id: string; id: string | number }[]) => {
      for (const r of rows) {
        const id = Number(r.id);
        ids.set(r.external_id, id);
        cache.set(r.external_id, id);
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
      const created = (await sessions.query<{ external_id: string; id: string }>(insert, [missing])).rows;
      stubs = created.length;
      found(created);
      // Created meanwhile by a concurrent batch or writer.
      const rest = missing.filter((name) => !ids.has(name));
      if (rest.length > 0) await load(rest);
    }
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
    if (batch.loaded > 0) await session.copyIn(this.table, LOAD_COLUMNS, batch.text);
    if (batch.repeats > 0) await session.copyIn(this.repeatsTable, [...LOAD_COLUMNS, 'line'], batch.repeatsText);
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
    const q = async (text: string, params?: unknown[]) => (await c.query(text, params)).rowCount ?? 0;
    await q('BEGIN');
    try {
      await q('SELECT pg_advisory_xact_lock($1::bigint)', [BULK_FINALIZE_LOCK]);
      await q(`SET LOCAL maintenance_work_mem = '256MB'`);
      await q(`SET LOCAL work_mem = '64MB'`);
      await q('SET LOCAL max_parallel_maintenance_workers = 0'); // slower than one process on 2 cores
      let rows = this.loaded;
      if (this.repeats > 0) {
        // The first line of each event id that repeats: a row in the load table came first
        // (the reader flags no first occurrence of a repeated id), else the lowest line here.
        await q(`DELETE FROM ${this.repeatsTable} r USING ${t} l WHERE l.event_id = r.event_id`);
        rows += await q(`INSERT INTO ${t} (${COLUMNS}) SELECT DISTINCT ON (event_id) ${COLUMNS} FROM ${this.repeatsTable} ORDER BY event_id, line`);
      }
      await q(`DROP TABLE ${this.repeatsTable}`);
      if (rows > 0) {
        onStage?.('deduplicate');
        await q(`ANALYZE ${t}`);
        // Stored by another bulk load (those cannot change now: finalisation is serialised).
        rows -= await q(`DELETE FROM ${t} l USING interactions i WHERE i.event_id = l.event_id AND i.segment <> 0`);
      }
      const name = `interactions_bulk_${this.segment}`;
      if (rows > 0) {
        onStage?.('index');
        await q(`ALTER TABLE ${t} RENAME TO ${name}`);
        await q(`CREATE UNIQUE INDEX ${name}_pkey ON ${name} (id, segment)`);
        await q(`ALTER TABLE ${name} ADD CONSTRAINT ${name}_pkey PRIMARY KEY USING INDEX ${name}_pkey`);
        await q(`CREATE UNIQUE INDEX ${name}_event_id_segment_idx ON ${name} (event_id, segment)`);
        await q(`CREATE INDEX ${name}_customer_id_occurred_at_idx ON ${name} (customer_id, occurred_at)`);
        await q(`CREATE INDEX ${name}_item_id_idx ON ${name} (item_id)`);
        await q(`CREATE INDEX ${name}_occurred_at_idx ON ${name} (occurred_at)`);
        // Checked here with one join each; ATTACH then adopts them instead of checking again.
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

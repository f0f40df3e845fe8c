import { Readable } from 'node:stream';
import { openDatabase, type DatabaseHandle } from '@clientele/db';
import { eraseCustomer, mergeCustomers, trackInteractions } from '@clientele/domain';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { getImportJob, importFile, ImportError, type ImportProgress } from '../src/index.js';
import { actor, count, fixture, INTERACTIONS_HEADER as HEADER, sql, type Fixture } from './helpers.js';

// The bulk path (PostgreSQL): a load table per import, indexed and attached as a partition at
// the end. These tests run on PostgreSQL only (DATABASE_URL set); on the embedded database
// only the refusal of mode 'bulk' is checked.

const postgres = Boolean(process.env.DATABASE_URL);

let f: Fixture;
beforeAll(async () => {
  f = await fixture();
});
afterAll(async () => {
  await f?.close();
});

/** n lines without event ids for customers/items with the given prefix; every 10th repeats the one before. */
function lines(prefix: string, n: number): string[] {
  const out: string[] = [];
  for (let i = 0; i < n; i++) {
    const k = i % 10 === 9 ? i - 1 : i;
    out.push(`,${prefix}c${k % 37},${prefix}i${k % 23},view,,,,2024-02-01T00:${String(Math.floor(k / 60) % 60).padStart(2, '0')}:${String(k % 60).padStart(2, '0')}Z`);
  }
  return out;
}

const csv = (rows: string[]) => `${HEADER}\n${rows.join('\n')}\n`;

/**
 * The file as a stream of one line per chunk that stops before line `at` until `resume()`:
 * an import caught in the middle, with some batches written.
 */
function pausedStream(rows: readonly string[], at: number): { stream: Readable; resume: () => void; reached: () => boolean } {
  let resume = () => undefined as void;
  const paused = new Promise<void>((resolve) => (resume = resolve));
  let reached = false;
  const stream = Readable.from(
    (async function* () {
      yield `${HEADER}\n`;
      for (let i = 0; i < rows.length; i++) {
        if (i === at) {
          reached = true;
          await paused;
        }
        yield `${rows[i]}\n`;
      }
    })(),
  );
  return { stream, resume: () => resume(), reached: () => reached };
}

/** Waits (up to 5 s) until the stream has paused and the import's load table exists. */
async function untilLoading(paused: { reached: () => boolean }): Promise<void> {
  for (let i = 0; i < 200 && !(paused.reached() && (await loadTables()) > 0); i++) await new Promise((resolve) => setTimeout(resolve, 25));
}
const stored = (prefix: string) => count(f.db, sql`SELECT count(*) AS n FROM interactions i JOIN customers c ON c.id = i.customer_id WHERE c.external_id LIKE ${`${prefix}c%`}`);
const loadTables = () => count(f.db, sql`SELECT count(*) AS n FROM pg_class WHERE relname LIKE 'interactions\_load\_%'`);
const partitions = () => count(f.db, sql`SELECT count(*) AS n FROM pg_inherits WHERE inhparent = 'interactions'::regclass`);

describe.skipIf(postgres)('bulk mode on the embedded database', () => {
  it('is refused with a message', async () => {
    const file = f.file('embedded.csv', csv(lines('em-', 3)));
    await expect(importFile(f.db, { path: file, kind: 'interactions', actor, store: f.store, mode: 'bulk' })).rejects.toThrow(/bulk needs PostgreSQL/);
    const summary = await importFile(f.db, { path: file, kind: 'interactions', actor, store: f.store, mode: 'auto' });
    expect(summary).toMatchObject({ mode: 'live', interactions: { created: 3 } });
  });
});

describe.skipIf(!postgres)('bulk mode', () => {
  it('loads a file into a new partition; a re-import adds nothing and attaches nothing', async () => {
    const file = f.file('bulk.csv', csv(lines('bk-', 1000)));
    const before = await partitions();
    const first = await importFile(f.db, { path: file, kind: 'interactions', actor, store: f.store, mode: 'bulk', batchSize: 130 });
    expect(first).toMatchObject({ mode: 'bulk', rowsRead: 1000, accepted: 1000, interactions: { created: 1000, unchanged: 0 }, stubs: { customers: 37, items: 23 } });
    expect(await stored('bk-')).toBe(1000);
    expect(await partitions()).toBe(before + 1);
    expect(await count(f.db, sql`SELECT count(*) AS n FROM interactions WHERE source = ${`import:${first.jobId}`} AND segment <> 0 AND event_id LIKE 'f:%:1'`)).toBe(100);
    // Indexes and foreign keys of the parent are there on the partition.
    expect(await count(f.db, sql`SELECT count(*) AS n FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid WHERE c.relname LIKE 'interactions\_bulk\_%\_idx' OR c.relname LIKE 'interactions\_bulk\_%\_pkey'`)).toBeGreaterThanOrEqual(5);
    const again = await importFile(f.db, { path: file, kind: 'interactions', actor, store: f.store, mode: 'bulk', batchSize: 77 });
    expect(again).toMatchObject({ mode: 'bulk', accepted: 1000, interactions: { created: 0, unchanged: 1000 }, stubs: { customers: 0, items: 0 } });
    expect(await stored('bk-')).toBe(1000);
    expect(await partitions()).toBe(before + 1);
    // The live path sees the bulk partition too.
    const live = await importFile(f.db, { path: file, kind: 'interactions', actor, store: f.store, mode: 'live' });
    expect(live.interactions).toEqual({ created: 0, updated: 0, unchanged: 1000 });
    expect(await stored('bk-')).toBe(1000);
    expect(await loadTables()).toBe(0);
  });

  it('keeps the first line of an explicit event id repeated in the file and counts it once', async () => {
    const rows = [
      'dup-1,dp-c1,dp-i1,view,,,,2024-01-01T00:00:00Z',
      'dup-2,dp-c1,dp-i1,view,,,,2024-01-01T00:00:01Z',
      'dup-1,dp-c2,dp-i1,click,,,,2024-01-01T00:00:02Z',
      ...Array.from({ length: 50 }, (_, i) => `dup-x${i},dp-c3,dp-i2,view,,,,2024-01-01T00:01:00Z`),
      'dup-2,dp-c2,dp-i2,purchase,,1,9.99,2024-01-01T00:00:03Z',
      'dup-1,dp-c3,dp-i2,rating,4,,,2024-01-01T00:00:04Z',
    ];
    const file = f.file('dups.csv', csv(rows));
    const s = await importFile(f.db, { path: file, kind: 'interactions', actor, store: f.store, mode: 'bulk', batchSize: 7 });
    expect(s.interactions).toEqual({ created: 52, updated: 0, unchanged: 3 });
    expect(await count(f.db, sql`SELECT count(*) AS n FROM interactions WHERE event_id IN ('e:dup-1', 'e:dup-2') AND type = 'view'`)).toBe(2);
    expect(await count(f.db, sql`SELECT count(*) AS n FROM interactions WHERE event_id LIKE 'e:dup-%'`)).toBe(52);
    expect(await loadTables()).toBe(0);
  });

  it('does not store an event trackInteractions stored, and trackInteractions does not store one a bulk load stored', async () => {
    const tracked = await trackInteractions(f.store, [{ eventId: 'tr-1', customerId: 'tr-c1', itemId: 'tr-i1', type: 'click', occurredAt: '2024-03-01T00:00:00Z' }], { actor });
    expect(tracked.createdCount).toBe(1);
    const file = f.file('track.csv', csv(['tr-1,tr-c1,tr-i1,view,,,,2024-03-01T00:00:00Z', 'tr-2,tr-c1,tr-i1,view,,,,2024-03-01T00:00:01Z', 'tr-3,tr-c2,tr-i1,view,,,,2024-03-01T00:00:02Z']));
    const s = await importFile(f.db, { path: file, kind: 'interactions', actor, store: f.store, mode: 'bulk' });
    expect(s.interactions).toEqual({ created: 2, updated: 0, unchanged: 1 });
    expect(await count(f.db, sql`SELECT count(*) AS n FROM interactions WHERE event_id = 'e:tr-1'`)).toBe(1);
    expect(await count(f.db, sql`SELECT count(*) AS n FROM interactions WHERE event_id = 'e:tr-1' AND type = 'click' AND segment = 0`)).toBe(1);
    const after = await trackInteractions(
      f.store,
      [
        { eventId: 'tr-2', customerId: 'tr-c1', itemId: 'tr-i1', type: 'view', occurredAt: '2024-03-01T00:00:01Z' },
        { eventId: 'tr-3', customerId: 'tr-c9', itemId: 'tr-i9', type: 'purchase', occurredAt: '2024-03-01T00:00:09Z' },
        { eventId: 'tr-4', customerId: 'tr-c1', itemId: 'tr-i1', type: 'view', occurredAt: '2024-03-01T00:00:04Z' },
      ],
      { actor },
    );
    expect(after.results.map((r) => r.status)).toEqual(['UNCHANGED', 'UNCHANGED', 'CREATED']);
    expect(await count(f.db, sql`SELECT count(*) AS n FROM interactions WHERE event_id IN ('e:tr-2', 'e:tr-3', 'e:tr-4')`)).toBe(3);
  });

  it('rejects rows naming unknown customers or items with their lines when asked', async () => {
    await trackInteractions(f.store, [{ eventId: 'rj-0', customerId: 'rj-known', itemId: 'rj-item', type: 'view', occurredAt: '2024-03-01T00:00:00Z' }], { actor });
    const file = f.file('reject.csv', csv(['rj-1,rj-known,rj-item,view,,,,2024-03-01T00:00:01Z', 'rj-2,rj-nobody,rj-item,view,,,,2024-03-01T00:00:02Z', 'rj-3,rj-known,rj-none,view,,,,2024-03-01T00:00:03Z']));
    const s = await importFile(f.db, { path: file, kind: 'interactions', actor, store: f.store, mode: 'bulk', unknownReferences: 'reject' });
    expect(s).toMatchObject({ accepted: 1, rejected: 2, rejectionsByCode: { UNKNOWN_CUSTOMER: 1, UNKNOWN_ITEM: 1 }, interactions: { created: 1 } });
    const job = await getImportJob(f.db.db, s.jobId);
    expect(job?.status).toBe('completed');
  });

  it('an import cancelled after some batches leaves nothing; run again it stores exactly the file', async () => {
    const rows = lines('cx-', 600);
    const file = f.file('cancel.csv', csv(rows));
    const controller = new AbortController();
    const before = await partitions();
    const stream = Readable.from(
      (async function* () {
        yield `${HEADER}\n`;
        for (let i = 0; i < rows.length; i++) {
          yield `${rows[i]}\n`;
          if (i === 350) await new Promise((resolve) => setTimeout(resolve, 300));
        }
      })(),
    );
    const progress: ImportProgress[] = [];
    const failing = importFile(f.db, {
      stream,
      fileName: 'cancel.csv',
      kind: 'interactions',
      actor,
      store: f.store,
      mode: 'bulk',
      batchSize: 100,
      signal: controller.signal,
      onProgress: (p) => {
        progress.push(p);
        if (p.accepted >= 200) controller.abort();
      },
    });
    await expect(failing).rejects.toThrow();
    expect(progress.some((p) => p.accepted >= 200)).toBe(true);
    expect(await stored('cx-')).toBe(0);
    expect(await loadTables()).toBe(0);
    expect(await partitions()).toBe(before);
    const s = await importFile(f.db, { path: file, kind: 'interactions', actor, store: f.store, mode: 'bulk', batchSize: 100 });
    expect(s.interactions.created).toBe(600);
    expect(await stored('cx-')).toBe(600);
  });

  it('after a crash mid-import (the process gone), the next bulk import drops the load table and stores exactly the file', async () => {
    const rows = lines('cr-', 800);
    const file = f.file('crash.csv', csv(rows));
    // The "crashing" process: its own connections, killed by the server mid-import.
    const url = f.db.url;
    if (!url) throw new Error('expected a PostgreSQL test database');
    const doomed = await openDatabase({ kind: 'postgres', url }, { applicationName: 'clientele-doomed', maxConnections: 4 });
    // The process freezes at line 400; its connections are killed.
    const { stream, resume: release } = pausedStream(rows, 400);
    let committed = 0;
    const crashed = importFile(doomed, { stream, fileName: 'crash.csv', kind: 'interactions', actor, store: { ...f.store, db: doomed.db }, mode: 'bulk', batchSize: 100, onProgress: (p) => (committed = p.accepted) });
    crashed.catch(() => undefined);
    for (let i = 0; i < 200 && (committed < 300 || (await loadTables()) === 0); i++) await new Promise((resolve) => setTimeout(resolve, 50));
    expect(committed).toBeGreaterThanOrEqual(300);
    const [job] = await sqlRows<{ id: string }>(f.db, sql`SELECT id FROM import_jobs WHERE file_name = 'crash.csv' AND status = 'running'`);
    expect(job).toBeDefined();
    await f.db.db.execute(sql`SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = 'clientele-doomed'`);
    // Wait for the server to end those sessions (and with them their advisory locks).
    for (let i = 0; i < 100 && (await count(f.db, sql`SELECT count(*) AS n FROM pg_stat_activity WHERE application_name = 'clientele-doomed'`)) > 0; i++) {
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    expect(await loadTables()).toBe(2); // the load table and its repeats table, left behind
    expect(await stored('cr-')).toBe(0);

    const s = await importFile(f.db, { path: file, kind: 'interactions', actor, store: f.store, mode: 'bulk', batchSize: 100 });
    expect(s.interactions.created).toBe(800);
    expect(await stored('cr-')).toBe(800);
    expect(await loadTables()).toBe(0);
    const old = await getImportJob(f.db.db, job?.id ?? '');
    expect(old?.status).toBe('failed');
    release();
    await crashed.catch(() => undefined);
    await doomed.close().catch(() => undefined);
    expect(await stored('cr-')).toBe(800);
  });

  it('a merge or an erasure waits for a running bulk load; the result is consistent', async () => {
    const rows = [
      ...Array.from({ length: 300 }, (_, i) => `mg-${i},mg-${['a', 'b', 'c'][i % 3]},mg-i${i % 7},view,,,,2024-04-01T00:00:00Z`),
      ...Array.from({ length: 300 }, (_, i) => `mg-late-${i},mg-${['a', 'b', 'c'][i % 3]},mg-i${i % 7},click,,,,2024-04-01T00:00:00Z`),
    ];
    const paused = pausedStream(rows, 300);
    const { stream, resume } = paused;
    const importing = importFile(f.db, { stream, fileName: 'merge.csv', kind: 'interactions', actor, store: f.store, mode: 'bulk', batchSize: 50 });
    importing.catch(() => undefined);
    await untilLoading(paused);
    expect(paused.reached()).toBe(true);
    // Merges and erasures come from another process (their own connections).
    const url = f.db.url;
    if (!url) throw new Error('expected a PostgreSQL test database');
    const other = await openDatabase({ kind: 'postgres', url }, { maxConnections: 3 });
    const otherStore = { ...f.store, db: other.db };
    let merged = false;
    let erased = false;
    const merging = mergeCustomers(otherStore, 'mg-a', ['mg-b'], actor).then((r) => {
      merged = true;
      return r;
    });
    const erasing = eraseCustomer(otherStore, 'mg-c', actor).then((r) => {
      erased = true;
      return r;
    });
    await new Promise((resolve) => setTimeout(resolve, 500));
    expect(merged).toBe(false);
    expect(erased).toBe(false);
    resume();
    const summary = await importing;
    expect(summary.interactions.created).toBe(600);
    const merge = await merging;
    const erase = await erasing;
    await other.close();
    // Both ran after the rows were attached: they moved and deleted the bulk-loaded rows too.
    expect(merge.movedInteractions).toBe(200);
    expect(erase.interactions).toBe(200);
    expect(await count(f.db, sql`SELECT count(*) AS n FROM interactions i JOIN customers c ON c.id = i.customer_id WHERE c.external_id = 'mg-a'`)).toBe(400);
    expect(await count(f.db, sql`SELECT count(*) AS n FROM interactions WHERE event_id LIKE 'e:mg-%'`)).toBe(400);
    expect(await count(f.db, sql`SELECT count(*) AS n FROM customers WHERE external_id IN ('mg-b', 'mg-c')`)).toBe(0);
    // A later import naming the merged id lands on the survivor (aliases resolve on the bulk path).
    const again = await importFile(f.db, {
      path: f.file('merge2.csv', csv(['mg-new,mg-b,mg-i1,view,,,,2024-04-02T00:00:00Z'])),
      kind: 'interactions',
      actor,
      store: f.store,
      mode: 'bulk',
    });
    expect(again.interactions.created).toBe(1);
    expect(await count(f.db, sql`SELECT count(*) AS n FROM interactions i JOIN customers c ON c.id = i.customer_id WHERE c.external_id = 'mg-a' AND i.event_id = 'e:mg-new'`)).toBe(1);
  });

  it('gives the partition the indexes and foreign keys of interactions under its own names; the pool gets every connection back', async () => {
    const url = f.db.url;
    if (!url) throw new Error('expected a PostgreSQL test database');
    // Two connections only: the import's own and one for batches; the index builds take a
    // second connection only when one is free, and never wait for one.
    for (const maxConnections of [5, 2]) {
      const db = await openDatabase({ kind: 'postgres', url }, { maxConnections });
      try {
        const prefix = `nm${maxConnections}-`;
        const s = await importFile(db, { path: f.file(`${prefix}.csv`, csv(lines(prefix, 300))), kind: 'interactions', actor, store: { ...f.store, db: db.db }, mode: 'bulk', batchSize: 60 });
        expect(s.interactions.created).toBe(300);
        expect(await stored(prefix)).toBe(300);
        await expectPartition(s.jobId);
        const pool = poolOf(db);
        expect(pool.totalCount).toBe(pool.idleCount);
        expect(pool.waitingCount).toBe(0);
      } finally {
        await db.close();
      }
    }
    expect(await loadTables()).toBe(0);
  });

  it('builds the indexes on the import’s own connection when the second one fails; the import completes', async () => {
    const rows = lines('ix-', 400);
    const paused = pausedStream(rows, 200);
    const { stream, resume } = paused;
    const importing = importFile(f.db, { stream, fileName: 'index.csv', kind: 'interactions', actor, store: f.store, mode: 'bulk', batchSize: 50 });
    importing.catch(() => undefined);
    await untilLoading(paused);
    expect(paused.reached()).toBe(true);
    const [load] = await sqlRows<{ relname: string }>(f.db, sql`SELECT relname FROM pg_class WHERE relname LIKE 'interactions\_load\_%' AND relname NOT LIKE '%\_repeats'`);
    if (!load) throw new Error('expected a load table');
    // Another process holds the load table in ROW EXCLUSIVE mode: both index builds wait for it.
    const url = f.db.url;
    if (!url) throw new Error('expected a PostgreSQL test database');
    const other = await openDatabase({ kind: 'postgres', url }, { maxConnections: 2 });
    const locker = await poolOf(other).connect();
    try {
      await locker.query('BEGIN');
      await locker.query(`LOCK TABLE ${load.relname} IN ROW EXCLUSIVE MODE`);
      resume();
      const building = sql`FROM pg_stat_activity a WHERE a.wait_event_type = 'Lock' AND a.query LIKE ${`CREATE%INDEX%${load.relname}%`}`;
      const waiting = () => count(f.db, sql`SELECT count(*) AS n ${building}`);
      for (let i = 0; i < 400 && (await waiting()) < 2; i++) await new Promise((resolve) => setTimeout(resolve, 25));
      expect(await waiting()).toBe(2);
      // The second connection is the one without the import's advisory locks.
      const killed = await sqlRows<{ ok: boolean }>(
        f.db,
        sql`SELECT pg_terminate_backend(a.pid) AS ok ${building} AND NOT EXISTS (SELECT 1 FROM pg_locks l WHERE l.pid = a.pid AND l.locktype = 'advisory')`,
      );
      expect(killed).toEqual([{ ok: true }]);
      for (let i = 0; i < 200 && (await waiting()) > 1; i++) await new Promise((resolve) => setTimeout(resolve, 25));
      await locker.query('COMMIT');
    } finally {
      locker.release();
      await other.close();
    }
    const s = await importing;
    expect(s.interactions.created).toBe(400);
    expect(await stored('ix-')).toBe(400);
    await expectPartition(s.jobId);
    const pool = poolOf(f.db);
    expect(pool.totalCount).toBe(pool.idleCount);
    expect(await loadTables()).toBe(0);
  });

  it('refuses mode bulk for other kinds and unknown modes', async () => {
    const file = f.file('customers-bulk.csv', 'id,name\nu1,Ada\n');
    await expect(importFile(f.db, { path: file, kind: 'customers', actor, store: f.store, mode: 'bulk' })).rejects.toBeInstanceOf(ImportError);
    await expect(importFile(f.db, { path: file, kind: 'customers', actor, store: f.store, mode: 'fast' as never })).rejects.toThrow(/expected auto, bulk or live/);
  });
});

async function sqlRows<Row>(db: DatabaseHandle, query: ReturnType<typeof sql>): Promise<Row[]> {
  const result: unknown = await db.db.execute(query);
  return (result as { rows: Row[] }).rows;
}

function poolOf(db: DatabaseHandle) {
  if (db.driver.kind !== 'postgres') throw new Error('expected PostgreSQL');
  return db.driver.pool;
}

/** The partition of a bulk import has the five indexes and two foreign keys of `interactions`, attached to them, under its own names. */
async function expectPartition(jobId: string): Promise<void> {
  const [row] = await sqlRows<{ segment: number }>(f.db, sql`SELECT DISTINCT segment FROM interactions WHERE source = ${`import:${jobId}`}`);
  const name = `interactions_bulk_${row?.segment}`;
  const indexes = await sqlRows<{ name: string; attached: boolean }>(
    f.db,
    sql`SELECT c.relname AS name, EXISTS (SELECT 1 FROM pg_inherits i WHERE i.inhrelid = c.oid) AS attached
        FROM pg_index x JOIN pg_class c ON c.oid = x.indexrelid WHERE x.indrelid = ${name}::regclass ORDER BY 1`,
  );
  expect(indexes).toEqual(
    ['customer_id_occurred_at_idx', 'event_id_segment_idx', 'item_id_idx', 'occurred_at_idx', 'pkey'].map((suffix) => ({ name: `${name}_${suffix}`, attached: true })),
  );
  const constraints = await sqlRows<{ name: string; type: string; valid: boolean; inherited: boolean }>(
    f.db,
    sql`SELECT conname AS name, contype AS type, convalidated AS valid, conparentid <> 0 AS inherited FROM pg_constraint
        WHERE conrelid = ${name}::regclass AND contype IN ('f', 'p') ORDER BY 1`,
  );
  expect(constraints).toEqual([
    { name: `${name}_customer_id_fk`, type: 'f', valid: true, inherited: true },
    { name: `${name}_item_id_fk`, type: 'f', valid: true, inherited: true },
    { name: `${name}_pkey`, type: 'p', valid: true, inherited: true },
  ]);
}

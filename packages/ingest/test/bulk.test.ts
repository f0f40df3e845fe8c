import { Readable } from 'node:stream';
import { openDatabase, type DatabaseHandle } from '@clientele/db';
import { eraseCustomer, mergeCustomers, trackInteractions } from '@clientele/domain';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { getImportJob, importFile, ImportError, type ImportProgress } from '../src/index.js';
import { actor, count, fixture, sql, type Fixture } from './helpers.js';

// The bulk path (PostgreSQL): a load table per import, indexed and attached as a partition at
// the end. These tests run on PostgreSQL only (DATABASE_URL set); on the embedded database
// only the refusal of mode 'bulk' is checked.

const HEADER = 'event_id,customer_id,item_id,type,value,quantity,amount,occurred_at';
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
    let release = () => undefined as void;
    const hang = new Promise<void>((resolve) => (release = resolve));
    const stream = Readable.from(
      (async function* () {
        yield `${HEADER}\n`;
        for (let i = 0; i < rows.length; i++) {
          if (i === 400) await hang; // the process freezes here; its connections are killed
          yield `${rows[i]}\n`;
        }
      })(),
    );
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
    let resume = () => undefined as void;
    const paused = new Promise<void>((resolve) => (resume = resolve));
    let reachedPause = false;
    const stream = Readable.from(
      (async function* () {
        yield `${HEADER}\n`;
        for (let i = 0; i < rows.length; i++) {
          if (i === 300) {
            reachedPause = true;
            await paused;
          }
          yield `${rows[i]}\n`;
        }
      })(),
    );
    const importing = importFile(f.db, { stream, fileName: 'merge.csv', kind: 'interactions', actor, store: f.store, mode: 'bulk', batchSize: 50 });
    importing.catch(() => undefined);
    for (let i = 0; i < 200 && !(reachedPause && (await loadTables()) > 0); i++) await new Promise((resolve) => setTimeout(resolve, 25));
    expect(reachedPause).toBe(true);
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

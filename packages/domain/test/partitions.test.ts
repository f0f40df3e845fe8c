import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { BULK_LOAD_LOCK, migrate, migrationsFolder, openDatabase, selectRows, type DatabaseHandle } from '@clientele/db';
import { createTestDatabase, type TestDatabase } from '@clientele/db/testing';
import { ContactCipher, generateKeyringEntry } from '@clientele/privacy';
import { sql } from 'drizzle-orm';
import { migrate as migrateNodePg } from 'drizzle-orm/node-postgres/migrator';
import { migrate as migratePglite } from 'drizzle-orm/pglite/migrator';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { eraseCustomer, listInteractions, mergeCustomers, trackInteractions, type Store } from '../src/index.js';

// Interactions are partitioned since migration 0006: the live partition takes the API's
// writes; bulk imports attach partitions of their own (PostgreSQL). Runs on both databases.
const actor = { type: 'system' as const, name: 'test' };
const types = ['view', 'click', 'purchase'];
const cipher = new ContactCipher([generateKeyringEntry('k1')]);

const rows = async <Row>(db: DatabaseHandle, query: ReturnType<typeof sql>) => selectRows<Row>(db.db, query);
const n = async (db: DatabaseHandle, query: ReturnType<typeof sql>) => Number((await rows<{ n: string | number }>(db, query))[0]?.n ?? 0);

/** A copy of the migrations folder holding those before 0006 only. */
function migrationsBefore0006(dir: string): string {
  const folder = path.join(dir, 'migrations');
  mkdirSync(path.join(folder, 'meta'), { recursive: true });
  for (const name of readdirSync(migrationsFolder)) if (/^000[0-5]_.*\.sql$/.test(name)) copyFileSync(path.join(migrationsFolder, name), path.join(folder, name));
  const journal = JSON.parse(readFileSync(path.join(migrationsFolder, 'meta', '_journal.json'), 'utf8')) as { entries: { idx: number }[] };
  journal.entries = journal.entries.filter((e) => e.idx < 6);
  writeFileSync(path.join(folder, 'meta', '_journal.json'), JSON.stringify(journal));
  return folder;
}

/** A fresh database and a store on it for the tests of one describe block. */
function freshStore(): { handle: TestDatabase; store: Store } {
  const t = {} as { handle: TestDatabase; store: Store };
  beforeAll(async () => {
    t.handle = await createTestDatabase();
    t.store = { db: t.handle.db, cipher, interactionTypes: types };
  });
  afterAll(async () => {
    await t.handle?.close();
  });
  return t;
}

describe('migration 0006 on a database that already holds interactions', () => {
  let dir: string;
  let handle: DatabaseHandle;
  let drop = async () => undefined as void;
  beforeAll(async () => {
    dir = mkdtempSync(path.join(os.tmpdir(), 'clientele-0006-'));
    const url = process.env.DATABASE_URL;
    if (url) {
      const name = `clientele_test_0006_${Date.now().toString(36)}`;
      const admin = await openDatabase({ kind: 'postgres', url }, { maxConnections: 1 });
      await admin.db.execute(sql.raw(`CREATE DATABASE "${name}"`));
      const target = new URL(url);
      target.pathname = `/${name}`;
      handle = await openDatabase({ kind: 'postgres', url: target.toString() }, { maxConnections: 3 });
      drop = async () => {
        await admin.db.execute(sql.raw(`DROP DATABASE IF EXISTS "${name}" WITH (FORCE)`));
        await admin.close();
      };
    } else {
      handle = await openDatabase({ kind: 'embedded', dataDir: path.join(dir, 'data') });
    }
  });
  afterAll(async () => {
    await handle?.close();
    await drop();
    rmSync(dir, { recursive: true, force: true });
  });

  it('keeps the rows and their ids; the API reads and writes them afterwards', async () => {
    const before = migrationsBefore0006(dir);
    if (handle.driver.kind === 'embedded') await migratePglite(handle.db as Parameters<typeof migratePglite>[0], { migrationsFolder: before });
    else await migrateNodePg(handle.db as Parameters<typeof migrateNodePg>[0], { migrationsFolder: before });
    await handle.db.execute(sql`INSERT INTO customers (external_id) VALUES ('old-c1'), ('old-c2')`);
    await handle.db.execute(sql`INSERT INTO items (external_id, title) VALUES ('old-i1', 'One')`);
    await handle.db.execute(sql`
      INSERT INTO interactions (customer_id, item_id, type, occurred_at, event_id, source)
      SELECT c.id, i.id, 'view', timestamptz '2024-01-01' + g * interval '1 hour', 'e:old-' || g, 'api'
      FROM generate_series(1, 6) g, customers c, items i WHERE c.external_id = 'old-c' || (1 + g % 2) AND i.external_id = 'old-i1'`);
    await handle.db.execute(sql`DELETE FROM interactions WHERE event_id = 'e:old-6'`);
    const old = await rows<{ id: string; event_id: string; customer_id: string }>(handle, sql`SELECT id, event_id, customer_id FROM interactions ORDER BY id`);
    expect(old).toHaveLength(5);

    await migrate(handle);

    const after = await rows<{ id: string; event_id: string; customer_id: string; segment: number }>(handle, sql`SELECT id, event_id, customer_id, segment FROM interactions ORDER BY id`);
    expect(after.map(({ segment, ...r }) => ({ ...r, id: String(r.id), customer_id: String(r.customer_id), segment }))).toEqual(
      old.map((r) => ({ ...r, id: String(r.id), customer_id: String(r.customer_id), segment: 0 })),
    );
    expect(await n(handle, sql`SELECT count(*) AS n FROM interactions_live`)).toBe(5);
    expect(await n(handle, sql`SELECT count(*) AS n FROM pg_class WHERE relname = 'interactions' AND relkind = 'p'`)).toBe(1);

    const store: Store = { db: handle.db, cipher, interactionTypes: types };
    const page = await listInteractions(store, { first: 10 });
    expect(page.nodes.map((r) => r.eventId).sort()).toEqual(['e:old-1', 'e:old-2', 'e:old-3', 'e:old-4', 'e:old-5']);
    const tracked = await trackInteractions(
      store,
      [
        { eventId: 'old-3', customerId: 'old-c1', itemId: 'old-i1', type: 'view', occurredAt: '2024-01-01T03:00:00Z' },
        { eventId: 'new-1', customerId: 'old-c1', itemId: 'old-i1', type: 'click', occurredAt: '2024-01-02T00:00:00Z' },
      ],
      { actor },
    );
    expect(tracked.results.map((r) => r.status)).toEqual(['UNCHANGED', 'CREATED']);
    const maxOld = Math.max(...old.map((r) => Number(r.id)));
    const [created] = await rows<{ id: string; segment: number }>(handle, sql`SELECT id, segment FROM interactions WHERE event_id = 'e:new-1'`);
    expect(Number(created?.id)).toBeGreaterThan(maxOld);
    expect(created?.segment).toBe(0);
    // Foreign keys still cascade: erasing a customer removes their interactions.
    expect((await eraseCustomer(store, 'old-c2', actor)).interactions).toBe(3);
    expect(await n(handle, sql`SELECT count(*) AS n FROM interactions`)).toBe(3);
  });
});

describe('event ids across partitions', () => {
  const t = freshStore();

  it('trackInteractions does not store an event a bulk partition holds', async () => {
    await trackInteractions(t.store, [{ eventId: 'seed', customerId: 'p-c1', itemId: 'p-i1', type: 'view', occurredAt: '2024-05-01T00:00:00Z' }], { actor });
    // A partition as a bulk import attaches it (built by hand here, so this runs on both databases).
    await t.handle.db.execute(sql`CREATE TABLE interactions_bulk_test (LIKE interactions INCLUDING DEFAULTS)`);
    await t.handle.db.execute(sql`ALTER TABLE interactions_bulk_test ALTER COLUMN segment SET DEFAULT 77`);
    await t.handle.db.execute(sql`
      INSERT INTO interactions_bulk_test (customer_id, item_id, type, occurred_at, event_id, source)
      SELECT customer_id, item_id, 'click', occurred_at, 'e:bulk-1', 'import:test' FROM interactions WHERE event_id = 'e:seed'`);
    await t.handle.db.execute(sql`ALTER TABLE interactions ATTACH PARTITION interactions_bulk_test FOR VALUES IN (77)`);
    const result = await trackInteractions(
      t.store,
      [
        { eventId: 'bulk-1', customerId: 'p-c1', itemId: 'p-i1', type: 'click', occurredAt: '2024-05-01T00:00:00Z' },
        { eventId: 'live-1', customerId: 'p-c1', itemId: 'p-i1', type: 'click', occurredAt: '2024-05-01T00:00:00Z' },
      ],
      { actor },
    );
    expect(result.results.map((r) => r.status)).toEqual(['UNCHANGED', 'CREATED']);
    expect(await n(t.handle, sql`SELECT count(*) AS n FROM interactions WHERE event_id = 'e:bulk-1'`)).toBe(1);
    const page = await listInteractions(t.store, { first: 10, orderBy: 'OCCURRED_AT_ASC' });
    expect(page.nodes.map((r) => r.eventId).sort()).toEqual(['e:bulk-1', 'e:live-1', 'e:seed']);
    // Merging moves rows of every partition.
    await trackInteractions(t.store, [{ eventId: 'other', customerId: 'p-c2', itemId: 'p-i1', type: 'view', occurredAt: '2024-05-01T00:00:00Z' }], { actor });
    const merged = await mergeCustomers(t.store, 'p-c2', ['p-c1'], actor);
    expect(merged.movedInteractions).toBe(3);
  });
});

describe.skipIf(!process.env.DATABASE_URL)('merges and erasures wait for bulk loads', () => {
  const t = freshStore();

  it('waits while the bulk-load lock is held shared', async () => {
    await trackInteractions(
      t.store,
      [
        { eventId: 'w1', customerId: 'w-a', itemId: 'w-i', type: 'view', occurredAt: '2024-05-01T00:00:00Z' },
        { eventId: 'w2', customerId: 'w-b', itemId: 'w-i', type: 'view', occurredAt: '2024-05-01T00:00:00Z' },
        { eventId: 'w3', customerId: 'w-c', itemId: 'w-i', type: 'view', occurredAt: '2024-05-01T00:00:00Z' },
      ],
      { actor },
    );
    if (t.handle.driver.kind !== 'postgres') throw new Error('expected PostgreSQL');
    const holder = await t.handle.driver.pool.connect();
    await holder.query('SELECT pg_advisory_lock_shared($1::bigint)', [BULK_LOAD_LOCK]);
    let done = 0;
    const merging = mergeCustomers(t.store, 'w-a', ['w-b'], actor).then(() => done++);
    const erasing = eraseCustomer(t.store, 'w-c', actor).then(() => done++);
    await new Promise((resolve) => setTimeout(resolve, 400));
    expect(done).toBe(0);
    await holder.query('SELECT pg_advisory_unlock_shared($1::bigint)', [BULK_LOAD_LOCK]);
    holder.release();
    await Promise.all([merging, erasing]);
    expect(done).toBe(2);
    expect(await n(t.handle, sql`SELECT count(*) AS n FROM interactions`)).toBe(2);
  });
});

import { mkdtempSync, readFileSync, writeFileSync, mkdirSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { eq, sql } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  customers,
  DatabaseSetupError,
  interactions,
  items,
  migrate,
  openDatabase,
  recordAudit,
  selectRows,
  auditLog,
} from '../src/index.js';
import { createTestDatabase, type TestDatabase } from '../src/testing.js';

describe('schema and migrations (on the configured backend)', () => {
  let handle: TestDatabase;
  beforeAll(async () => {
    handle = await createTestDatabase();
  });
  afterAll(async () => {
    await handle?.close();
  });

  it('creates the foundation tables', async () => {
    const rows = await selectRows<{ table_name: string }>(
      handle.db,
      sql`SELECT table_name FROM information_schema.tables WHERE table_schema = 'public' ORDER BY table_name`,
    );
    const names = rows.map((row) => row.table_name);
    expect(names).toEqual(
      expect.arrayContaining(['admin_users', 'api_keys', 'audit_log', 'customers', 'interactions', 'items', 'sessions']),
    );
  });

  it('running the migrations again changes nothing', async () => {
    await migrate(handle);
    const count = await selectRows<{ n: number }>(
      handle.db,
      sql`SELECT count(*)::int AS n FROM drizzle.__drizzle_migrations`,
    );
    const journal = JSON.parse(readFileSync(new URL('../migrations/meta/_journal.json', import.meta.url), 'utf8')) as { entries: unknown[] };
    expect(count[0]?.n).toBe(journal.entries.length);
  });

  it('keeps external ids unique and cascades interactions with their customer', async () => {
    const [customer] = await handle.db
      .insert(customers)
      .values({ externalId: 'c-1', name: 'Ada' })
      .returning();
    const [item] = await handle.db.insert(items).values({ externalId: 'i-1', title: 'Lamp' }).returning();
    await expect(
      handle.db.insert(customers).values({ externalId: 'c-1' }),
    ).rejects.toThrow();
    await handle.db.insert(interactions).values({
      customerId: customer!.id,
      itemId: item!.id,
      type: 'purchase',
      quantity: 2,
      amount: '19.90',
      occurredAt: new Date('2026-01-02T03:04:05Z'),
    });
    await handle.db.delete(customers).where(eq(customers.id, customer!.id));
    const left = await handle.db.select().from(interactions);
    expect(left).toHaveLength(0);
  });

  it('rejects a negative price at the database level', async () => {
    await expect(
      handle.db.insert(items).values({ externalId: 'neg', title: 'x', price: '-1.00' }),
    ).rejects.toThrow();
  });

  it('rolls a transaction back as a whole, audit entry included', async () => {
    await expect(
      handle.db.transaction(async (tx) => {
        await tx.insert(customers).values({ externalId: 'tx-1' });
        await recordAudit(tx, { actor: { type: 'system' }, operation: 'test.insert' });
        throw new Error('abort');
      }),
    ).rejects.toThrow('abort');
    expect(await handle.db.select().from(customers).where(eq(customers.externalId, 'tx-1'))).toHaveLength(0);
    expect(await handle.db.select().from(auditLog).where(eq(auditLog.operation, 'test.insert'))).toHaveLength(0);
  });
});

describe('embedded data folder', () => {
  let dir: string;
  beforeAll(() => {
    dir = mkdtempSync(path.join(os.tmpdir(), 'clientele-db-'));
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('persists data across openings and refuses a second opener while in use', async () => {
    const dataDir = path.join(dir, 'data');
    const first = await openDatabase({ kind: 'embedded', dataDir });
    await migrate(first);
    await first.db.insert(customers).values({ externalId: 'persisted' });
    await expect(openDatabase({ kind: 'embedded', dataDir })).rejects.toThrow(/in use by process/);
    await first.close();
    const second = await openDatabase({ kind: 'embedded', dataDir });
    const rows = await second.db.select().from(customers);
    expect(rows.map((row) => row.externalId)).toEqual(['persisted']);
    await second.close();
  }, 60_000);

  it('reports a corrupt data folder with what to do', async () => {
    const dataDir = path.join(dir, 'corrupt');
    mkdirSync(path.join(dataDir, 'pgdata'), { recursive: true });
    writeFileSync(path.join(dataDir, 'pgdata', 'garbage'), 'not a database');
    const error = await openDatabase({ kind: 'embedded', dataDir }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(DatabaseSetupError);
    expect((error as Error).message).toMatch(/may be corrupt.*CLIENTELE_DATA_DIR/);
  });

  it('reports an unreachable PostgreSQL with the URL and no password', async () => {
    const error = await openDatabase({
      kind: 'postgres',
      url: 'postgres://user:secret@127.0.0.1:1/nothing',
    }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(DatabaseSetupError);
    expect((error as Error).message).toMatch(/connection refused/);
    expect((error as Error).message).not.toContain('secret');
  });
});

describe.runIf(process.env['DATABASE_URL'])('a session ended by the server (PostgreSQL)', () => {
  it('fails the work that was using it, not the process, and the pool carries on', async () => {
    const handle = await createTestDatabase();
    const name = `clientele-killed-${Math.random().toString(36).slice(2)}`;
    const url = handle.url;
    if (!url) throw new Error('expected a PostgreSQL test database');
    const victim = await openDatabase({ kind: 'postgres', url }, { applicationName: name, maxConnections: 2 });
    try {
      const work = victim.db.transaction(async (tx) => {
        await tx.execute(sql`SELECT 1`);
        // Idle in its transaction while the server ends the session.
        await handle.db.execute(sql`SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = ${name}`);
        await new Promise((resolve) => setTimeout(resolve, 300));
        await tx.execute(sql`SELECT 1`);
      });
      await expect(work).rejects.toThrow();
      expect(await selectRows<{ n: number }>(victim.db, sql`SELECT 1 AS n`)).toEqual([{ n: 1 }]);
    } finally {
      await victim.close();
      await handle.close();
    }
  });
});

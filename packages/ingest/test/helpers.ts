import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { selectRows } from '@clientele/db';
import { createTestDatabase, type TestDatabase } from '@clientele/db/testing';
import { sql } from 'drizzle-orm';
import type { Store } from '@clientele/domain';
import { testCipher } from '@clientele/privacy';
import { KIND_FIELDS } from '../src/index.js';

export const actor = { type: 'system' as const, name: 'ingest-test' };

/** The header of an interactions file in the project's own columns. */
export const INTERACTIONS_HEADER = KIND_FIELDS.interactions.join(',');

export interface Fixture {
  db: TestDatabase;
  store: Store;
  dir: string;
  file(name: string, content: string | Buffer): string;
  close(): Promise<void>;
}

export async function fixture(): Promise<Fixture> {
  const db = await createTestDatabase();
  const dir = mkdtempSync(path.join(os.tmpdir(), 'clientele-ingest-'));
  return {
    db,
    store: { db: db.db, cipher: testCipher(), interactionTypes: ['view', 'click', 'add_to_cart', 'purchase', 'rating', 'wishlist'] },
    dir,
    file(name, content) {
      const file = path.join(dir, name);
      writeFileSync(file, content);
      return file;
    },
    async close() {
      await db.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

export async function count(db: TestDatabase, query: ReturnType<typeof sql>): Promise<number> {
  const [row] = await selectRows<{ n: number | string }>(db.db, query);
  return Number(row?.n ?? 0);
}

export { sql };

import { customers, items, type Database } from '@clientele/db';
import type { CustomerRecord, ItemRecord } from '@clientele/domain';
import DataLoader from 'dataloader';
import { inArray } from 'drizzle-orm';
import type { Context } from '../context.js';

/** Per-request loaders: one query per list of interactions, however many rows it has. */
export function createLoaders(db: Database): Context['loaders'] {
  return {
    customer: new DataLoader<number, CustomerRecord | null>(async (ids) => {
      const rows = await db.select().from(customers).where(inArray(customers.id, [...ids]));
      const byId = new Map(rows.map((row) => [row.id, row]));
      return ids.map((id) => byId.get(id) ?? null);
    }),
    item: new DataLoader<number, ItemRecord | null>(async (ids) => {
      const rows = await db.select().from(items).where(inArray(items.id, [...ids]));
      const byId = new Map(rows.map((row) => [row.id, row]));
      return ids.map((id) => byId.get(id) ?? null);
    }),
  };
}

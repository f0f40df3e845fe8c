import { customers, interactions, items } from '@clientele/db';
import { createTestDatabase, type TestDatabase } from '@clientele/db/testing';
import { count } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { testCipher } from '@clientele/privacy';
import { generateDemoData, INTERACTION_TYPES, loadDemoData } from '../src/index.js';

describe('generateDemoData', () => {
  const data = generateDemoData({ seed: 7, customers: 1500, items: 600, interactions: 100_000, now: new Date('2026-06-01T00:00:00Z') });

  it('has the requested scale', () => {
    expect(data.customers).toHaveLength(1500);
    expect(data.items).toHaveLength(600);
    expect(data.interactions.length).toBeGreaterThan(70_000);
    expect(data.interactions.length).toBeLessThan(140_000);
  });

  it('is deterministic for a seed', () => {
    const again = generateDemoData({ seed: 7, customers: 1500, items: 600, interactions: 100_000, now: new Date('2026-06-01T00:00:00Z') });
    expect(again.interactions.item).toEqual(data.interactions.item);
    expect(again.customers[42]).toEqual(data.customers[42]);
  });

  it('has a heavy-tailed item popularity: the top 10% of items draw over a third of views', () => {
    const views = new Array<number>(600).fill(0);
    const viewCode = INTERACTION_TYPES.indexOf('view');
    for (let i = 0; i < data.interactions.length; i++) {
      if (data.interactions.type[i] === viewCode) views[data.interactions.item[i] ?? 0]! += 1;
    }
    const sorted = [...views].sort((a, b) => b - a);
    const top = sorted.slice(0, 60).reduce((a, b) => a + b, 0);
    const all = sorted.reduce((a, b) => a + b, 0);
    expect(top / all).toBeGreaterThan(0.33);
  });

  it('clusters tastes: customers of one cluster share their favourite categories', () => {
    // Share of a cluster's interactions in its top three categories, versus 3/12 by chance.
    const byCluster = new Map<number, Map<string, number>>();
    for (let i = 0; i < data.interactions.length; i++) {
      const customer = data.customers[data.interactions.customer[i] ?? 0]!;
      const category = data.items[data.interactions.item[i] ?? 0]!.categories[0]!;
      const counts = byCluster.get(customer.cluster) ?? new Map<string, number>();
      counts.set(category, (counts.get(category) ?? 0) + 1);
      byCluster.set(customer.cluster, counts);
    }
    for (const counts of byCluster.values()) {
      const values = [...counts.values()].sort((a, b) => b - a);
      const share = (values[0]! + values[1]! + values[2]!) / values.reduce((a, b) => a + b, 0);
      expect(share).toBeGreaterThan(0.6);
    }
  });

  it('has repeat purchases and a purchase funnel narrower than views', () => {
    const purchase = INTERACTION_TYPES.indexOf('purchase');
    const view = INTERACTION_TYPES.indexOf('view');
    const pairs = new Map<string, number>();
    let purchases = 0;
    let views = 0;
    for (let i = 0; i < data.interactions.length; i++) {
      if (data.interactions.type[i] === view) views++;
      if (data.interactions.type[i] !== purchase) continue;
      purchases++;
      const key = `${data.interactions.customer[i]}:${data.interactions.item[i]}`;
      pairs.set(key, (pairs.get(key) ?? 0) + 1);
    }
    const repeated = [...pairs.values()].filter((n) => n > 1).length;
    expect(repeated).toBeGreaterThan(200);
    expect(purchases).toBeLessThan(views / 4);
  });
});

describe('loadDemoData', () => {
  let handle: TestDatabase;
  beforeAll(async () => {
    handle = await createTestDatabase();
  });
  afterAll(async () => {
    await handle?.close();
  });

  it('loads once into an empty database and reports progress', async () => {
    const stages: string[] = [];
    const result = await loadDemoData(handle.db, testCipher(), {
      customers: 200,
      items: 100,
      interactions: 30_000,
      onProgress: (p) => stages.push(p.stage),
    });
    expect(result.loaded).toBe(true);
    const [c] = await handle.db.select({ n: count() }).from(customers);
    const [i] = await handle.db.select({ n: count() }).from(items);
    const [x] = await handle.db.select({ n: count() }).from(interactions);
    expect([c?.n, i?.n, x?.n]).toEqual([200, 100, result.interactions]);
    expect(stages).toContain('interactions');
    const second = await loadDemoData(handle.db, testCipher(), { customers: 200, items: 100, interactions: 30_000 });
    expect(second.loaded).toBe(false);
  });
});

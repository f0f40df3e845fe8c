import { seededRandom } from '@clientele/compute';
import { createTestDatabase, type TestDatabase } from '@clientele/db/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Explainer, ModelServer, decodeArtifact } from '../src/index.js';
import { activateSynthetic, insertCustomersAndItems, syntheticArtifact } from './synthetic.js';

// An explicit model is scored as [y, b] rows, and serving holds only that matrix: reasons and
// similar items read the item factors at its stride. They must come out as they do from the
// artifact as stored.

const CUSTOMERS = 6;
const ITEMS = 300;
const F = 6;
const RATED = 12;

describe('serving an explicit model from its scored matrix alone', () => {
  let database: TestDatabase;
  let artifact: Uint8Array;
  let server: ModelServer;

  beforeAll(async () => {
    database = await createTestDatabase();
    const db = database.db;
    const { userIds, itemIds } = await insertCustomersAndItems(db, CUSTOMERS, ITEMS);
    const random = seededRandom(5);
    const indptr = Int32Array.from({ length: CUSTOMERS + 1 }, (_, u) => u * RATED);
    const rated = Int32Array.from({ length: CUSTOMERS * RATED }, (_, p) => (Math.floor(p / RATED) * 37 + (p % RATED) * 11) % ITEMS);
    artifact = syntheticArtifact({
      factors: F,
      userFactors: Float32Array.from({ length: CUSTOMERS * F }, () => random() - 0.5),
      itemFactors: Float32Array.from({ length: ITEMS * F }, () => random() - 0.5),
      userIds,
      itemIds,
      bias: { user: Float32Array.from({ length: CUSTOMERS }, () => random() - 0.5), item: Float32Array.from({ length: ITEMS }, () => random() - 0.5), globalMean: 3.5 },
      seen: { indptr, items: rated, values: Float32Array.from(rated, () => 0.5 + Math.floor(random() * 10) / 2) },
    });
    await activateSynthetic(db, artifact, { customers: CUSTOMERS, items: ITEMS, maxInteractionId: 0 }, 'explicit');
    server = new ModelServer(database, { pollMs: 60_000, catalogueMs: 60_000 });
    await server.start();
  });

  afterAll(async () => {
    await server?.stop();
    await database?.close();
  });

  it('holds the item factors once: the scored rows, bias last', () => {
    type Held = { loaded: { model: object; items: { data: Float32Array; stride: number }; scorer: { itemFactors: Float32Array } } };
    const { loaded } = server as unknown as Held;
    expect('itemFactors' in loaded.model).toBe(false);
    expect(loaded.items.data).toBe(loaded.scorer.itemFactors);
    expect(loaded.items.stride).toBe(F + 1);
  });

  it('gives each recommendation the reasons the stored artifact gives', async () => {
    const { itemFactors, ...stored } = decodeArtifact(artifact);
    const rowOf = new Map(Array.from(stored.itemIds, (id, row) => [id, row]));
    let reasons = 0;
    for (let u = 0; u < CUSTOMERS; u++) {
      const list = await server.recommend(`c${u}`, 5);
      expect(list.coldStart).toBe(false);
      const reference = new Explainer(stored, u, { data: itemFactors, stride: F });
      for (const r of list.items) {
        const expected = reference.contributions(rowOf.get(r.itemId) ?? -1).map((c) => ({ itemId: stored.itemIds[c.row], weight: c.weight, interaction: c.type }));
        expect(r.reasons()).toEqual(expected);
        reasons += expected.length;
      }
    }
    expect(reasons).toBeGreaterThan(0);
  });

  it('finds similar items by the cosine of their factors, the bias left out', async () => {
    const { itemFactors, itemIds } = decodeArtifact(artifact);
    const row = (r: number) => itemFactors.subarray(r * F, (r + 1) * F);
    const norm = (v: Float32Array) => Math.sqrt(v.reduce((s, x) => s + x * x, 0));
    const cosine = (a: number, b: number) => row(a).reduce((s, x, j) => s + x * (row(b)[j] ?? 0), 0) / (norm(row(a)) * norm(row(b)));
    for (const item of [5, 123]) {
      const expected = Array.from({ length: ITEMS }, (_, r) => r)
        .filter((r) => r !== item)
        .sort((a, b) => cosine(item, b) - cosine(item, a))
        .slice(0, 5);
      const got = await server.similar(`i${item}`, 5);
      expect(got.items.map((i) => i.itemId)).toEqual(expected.map((r) => itemIds[r]));
      got.items.forEach((i, n) => expect(i.score).toBeCloseTo(cosine(item, expected[n] ?? 0), 5));
    }
  });
});

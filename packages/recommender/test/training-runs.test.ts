import { createTestDatabase, type TestDatabase } from '@clientele/db/testing';
import { eraseCustomer, trackInteractions, type InteractionInput, type Store } from '@clientele/domain';
import { ContactCipher, generateKeyringEntry } from '@clientele/privacy';
import { sql } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { currentActivation, getModelVersion, type RunProgress, loadArtifact, loadDataset, parseTrainingParams, runTraining } from '../src/index.js';

// What enters training (weights, decay, returns, off-scale ratings, erased customers), checked
// against values worked out by hand, and when a new version auto-activates.

const actor = { type: 'system', name: 'test' } as const;
const DAY = 86_400_000;
/** The newest interaction of the data; decay is measured back from it. */
const NEWEST = Date.parse('2026-03-01T00:00:00Z');
const at = (daysBefore: number) => new Date(NEWEST - daysBefore * DAY).toISOString();

function rng(seed: number) {
  let a = seed;
  return () => {
    a = (a * 1664525 + 1013904223) >>> 0;
    return a / 2 ** 32;
  };
}

/** Two taste groups (c1–c30 items i1–i15, c31–c60 items i16–i30), 8 views each, all before NEWEST. */
function tastes(): InteractionInput[] {
  const next = rng(3);
  const rows: InteractionInput[] = [];
  for (let c = 1; c <= 60; c++) {
    const offset = c <= 30 ? 1 : 16;
    for (let n = 0; n < 8; n++) rows.push({ customerId: `c${c}`, itemId: `i${offset + Math.floor(next() * 15)}`, type: 'view', occurredAt: at(20 + n + (c % 7)) });
  }
  return rows;
}

describe('training runs', () => {
  let database: TestDatabase;
  let store: Store;
  const ids = new Map<string, number>();

  beforeAll(async () => {
    database = await createTestDatabase();
    store = { db: database.db, cipher: new ContactCipher([generateKeyringEntry('test')]), interactionTypes: ['view', 'click', 'add_to_cart', 'purchase', 'rating'] };
    const rows: InteractionInput[] = [
      ...tastes(),
      // x1: a view 10 days before the newest row and a purchase at it (one pair), a view of i2,
      // a return of i3 (never a purchase), ratings of i5 (3, then 4).
      { customerId: 'x1', itemId: 'i1', type: 'view', occurredAt: at(10) },
      { customerId: 'x1', itemId: 'i1', type: 'purchase', quantity: 1, amount: 10, occurredAt: at(0) },
      { customerId: 'x1', itemId: 'i2', type: 'view', occurredAt: at(0) },
      { customerId: 'x1', itemId: 'i3', type: 'purchase', quantity: -1, amount: -10, occurredAt: at(0) },
      { customerId: 'x1', itemId: 'i5', type: 'rating', value: 3, occurredAt: at(1) },
      { customerId: 'x1', itemId: 'i5', type: 'rating', value: 4, occurredAt: at(0.5) },
      // gone: erased below, with everything it did.
      { customerId: 'gone', itemId: 'i1', type: 'purchase', quantity: 2, amount: 20, occurredAt: at(2) },
      { customerId: 'gone', itemId: 'i7', type: 'rating', value: 5, occurredAt: at(2) },
    ];
    const result = await trackInteractions(store, rows, { actor, unknownReferences: 'create' });
    expect(result.rejectedCount).toBe(0);
    // A rating off the 0.5–5 scale, as an old bulk load could hold (the API refuses it).
    await database.db.execute(sql`INSERT INTO interactions (customer_id, item_id, type, value, occurred_at)
      SELECT c.id, i.id, 'rating', 9, ${at(3)}::timestamptz FROM customers c, items i WHERE c.external_id = 'x1' AND i.external_id = 'i4'`);
    await eraseCustomer(store, 'gone', actor);
    const found = (await database.db.execute(sql`SELECT external_id, id FROM customers UNION ALL SELECT external_id, id FROM items`)) as unknown as { rows: { external_id: string; id: string | number }[] };
    for (const r of found.rows) ids.set(r.external_id, Number(r.id));
  });

  afterAll(async () => {
    await database?.close();
  });

  /** The dataset's pairs of one customer as { item external id: value }. */
  const pairsOf = (data: Awaited<ReturnType<typeof loadDataset>>, customer: string) => {
    const byId = new Map([...ids].map(([external, id]) => [id, external]));
    const row = data.users.row(ids.get(customer) ?? -1);
    const out: Record<string, number> = {};
    for (let i = 0; i < data.userRows.length; i++) {
      if (data.userRows[i] === row) out[byId.get(data.items.id(data.itemRows[i] ?? 0)) ?? '?'] = Number((data.values[i] ?? 0).toFixed(6));
    }
    return out;
  };

  it('sums weights per pair with time decay, and leaves out returns, off-scale ratings and erased customers', async () => {
    const decayed = await loadDataset(database.db, parseTrainingParams({ kind: 'implicit', weights: { view: 1, purchase: 5, rating: 2 }, decayHalfLifeDays: 10 }));
    // i1: the view is one half-life old (1 × 0.5) plus the purchase (5 × 1); i5: two ratings,
    // 1 and 0.5 days old (2 × 2^-0.1 + 2 × 2^-0.05); no i3 (a return), no i4 (rated 9).
    expect(pairsOf(decayed, 'x1')).toEqual({ i1: 5.5, i2: 1, i5: Number((2 * 2 ** -0.1 + 2 * 2 ** -0.05).toFixed(6)) });
    const flat = await loadDataset(database.db, parseTrainingParams({ kind: 'implicit', weights: { view: 1, purchase: 5 } }));
    expect(pairsOf(flat, 'x1')).toEqual({ i1: 6, i2: 1 });
    const ratings = await loadDataset(database.db, parseTrainingParams({ kind: 'explicit' }));
    expect(pairsOf(ratings, 'x1')).toEqual({ i5: 4 });
    // The erased customer's rows are gone: not a row of any dataset, and i7 (only it rated i7) is not an item.
    expect(ids.has('gone')).toBe(false);
    expect(decayed.users.size).toBe(61);
    expect(ratings.items.row(ids.get('i7') ?? -1)).toBeUndefined();
    // The trained artifact remembers what a customer has seen with the same values.
    const progress: RunProgress[] = [];
    const run = await runTraining({ db: database.db, params: parseTrainingParams({ kind: 'implicit', factors: 4, iterations: 3, weights: { view: 1, purchase: 5 }, split: { validationFraction: 0 } }), actor, onProgress: (p) => progress.push(p) });
    // Progress names each stage in turn, and each ALS iteration with its loss, which never rises.
    expect([...new Set(progress.map((p) => p.stage))]).toEqual(['extract', 'train', 'evaluate', 'final', 'save']);
    for (const stage of ['train', 'final']) {
      const steps = progress.filter((p) => p.stage === stage && p.detail);
      expect(steps.map((p) => p.detail?.['iteration'])).toEqual([1, 2, 3]);
      const losses = steps.map((p) => Number(p.detail?.['loss']));
      expect(losses.every((l) => Number.isFinite(l) && l > 0)).toBe(true);
      for (let i = 1; i < losses.length; i++) expect(losses[i]).toBeLessThanOrEqual((losses[i - 1] ?? 0) * (1 + 1e-6));
    }
    const artifact = await loadArtifact(database.db, run.version);
    const row = [...artifact.userIds].indexOf(ids.get('x1') ?? -1);
    const seen = [...artifact.seenItems.subarray(artifact.seenIndptr[row], artifact.seenIndptr[row + 1])].map((i) => artifact.itemIds[i]);
    expect(seen.sort()).toEqual([ids.get('i1'), ids.get('i2')].sort());
  });

  it('auto-activates a version only when it beats the active one on the same metric and split', async () => {
    const train = (input: Record<string, unknown>) => runTraining({ db: database.db, params: parseTrainingParams({ kind: 'implicit', weights: { view: 1 }, split: { validationFraction: 0 }, seed: 5, autoActivate: true, ...input }), actor });
    // A model regularised to nothing first: it is activated because nothing is.
    const weak = await train({ factors: 2, iterations: 1, regularization: 1000 });
    expect(weak.activation).toBe('activated: no version was active');
    expect((await currentActivation(database.db))?.version).toBe(weak.version);
    // The defaults learn the two tastes and beat it on the same split.
    const strong = await train({ factors: 8 });
    // Coverage is of the catalogue: 1,000 more items that nobody touched lower it in proportion
    // (the model, and so what it recommends, is the same).
    const catalogue = async () => Number(((await database.db.execute(sql`SELECT count(*)::int AS n FROM items`)) as unknown as { rows: { n: number }[] }).rows[0]?.n);
    const before = await catalogue();
    await database.db.execute(sql`INSERT INTO items (external_id, title) SELECT 'unsold' || n, 'Unsold ' || n FROM generate_series(1, 1000) n`);
    const wide = await train({ factors: 8 });
    expect(await catalogue()).toBe(before + 1000);
    expect(strong.metrics['coverage']).toBeGreaterThan(0.3);
    expect(wide.metrics['coverage']).toBeCloseTo(((strong.metrics['coverage'] ?? 0) * before) / (before + 1000), 6);
    expect(strong.activation).toMatch(new RegExp(`^activated: precision@10 \\S+ beats version ${weak.version}'s`));
    expect((await currentActivation(database.db))?.version).toBe(strong.version);
    // The same run again ties: not activated.
    const same = await train({ factors: 8 });
    expect(same.primaryValue).toBe(strong.primaryValue);
    expect(same.activation).toMatch(new RegExp(`^not activated: precision@10 \\S+ does not beat version ${strong.version}'s`));
    // Figures of another split or another k do not compare, whatever their values.
    const other = await train({ factors: 8, split: { method: 'leave-last-out' } });
    expect(other.activation).toBe(`not activated: the active version ${strong.version} was tested on "random 80/0/20 (train/validation/test), seed 5", this one on "leave-last-out: each customer’s latest item is test, the one before validation (customers with 3+ items)", so the metrics do not compare`);
    const atFive = await train({ factors: 8, evaluationK: 5 });
    expect(atFive.activation).toBe(`not activated: the active version ${strong.version} was measured by precision@10, this one by precision@5, so the metrics do not compare`);
    expect((await currentActivation(database.db))?.version).toBe(strong.version);
    expect((await getModelVersion(database.db, atFive.version))?.primaryMetric).toBe('precision@5');
  });

  it('searches on the validation part within its budget and keeps the best trial', async () => {
    const search = async (input: Record<string, unknown>) => {
      const run = await runTraining({ db: database.db, params: parseTrainingParams({ kind: 'implicit', weights: { view: 1 }, iterations: 3, ...input }), actor });
      const version = await getModelVersion(database.db, run.version);
      return { search: version?.search as { stopped: string; trials: { params: Record<string, number>; metrics: Record<string, number> }[] }, params: version?.params ?? {} };
    };
    const full = await search({ search: { trials: 3 } });
    expect(full.search.stopped).toBe('trials');
    expect(full.search.trials).toHaveLength(3);
    const best = full.search.trials.reduce((a, t) => ((t.metrics['precision@10'] ?? 0) > (a.metrics['precision@10'] ?? 0) ? t : a));
    expect(full.params).toMatchObject({ factors: best.params['factors'], iterations: best.params['iterations'], regularization: best.params['regularization'], alpha: best.params['alpha'] });
    // A budget of a millisecond: the first trial always runs, the budget is spent before the second.
    const budget = await search({ search: { trials: 50, maxSeconds: 0.001 } });
    expect(budget.search.stopped).toBe('time');
    expect(budget.search.trials).toHaveLength(1);
  });

  it('refuses a search with nothing to tune on', async () => {
    // The temporal split's validation part is the 4 days before the last 4: no pair's latest row falls there.
    const params = parseTrainingParams({ kind: 'implicit', split: { method: 'temporal', days: 4 }, search: { trials: 2 } });
    await expect(runTraining({ db: database.db, params, actor })).rejects.toThrow(/split leaves no validation pairs for the search's 2 trials/);
    // Without a search the same split trains: x1's pairs i1 and i2 (latest rows at the newest
    // time) are the test part, everything else (20 days old or more) the training part.
    const run = await runTraining({ db: database.db, params: parseTrainingParams({ kind: 'implicit', weights: { view: 1, purchase: 5 }, factors: 4, iterations: 2, split: { method: 'temporal', days: 4 } }), actor });
    expect(run.data['split']).toBe('temporal: test = the last 4 days, validation = the 4 days before');
    expect(run.data['parts']).toEqual({ train: run.data['pairs'] as number - 2, validation: 0, test: 2 });
  });
});

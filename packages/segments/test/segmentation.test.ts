import { schema } from '@clientele/db';
import { createTestDatabase, type TestDatabase } from '@clientele/db/testing';
import { DomainError } from '@clientele/domain';
import { count, eq } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  FEATURE_NAMES,
  LABEL_THRESHOLDS,
  activateSegmentationRun,
  activeSegmentationRun,
  adjustedRandIndex,
  checkSegmentationData,
  computeFeatures,
  customerSegment,
  listSegmentationRuns,
  percentileRank,
  profilesOf,
  runSegmentation,
  seededRandom,
  segmentTable,
  segmentationRunMembers,
  validateSegmentationParams,
  type FeatureTable,
  type SegmentationRunRecord,
} from '../src/index.js';
import { actor, plantedData, seed, type PlantedGroup } from './helpers.js';

const R = new Date('2024-06-30T00:00:00Z');
const GROUPS: PlantedGroup[] = [
  { name: 'champion', count: 150, recency: 5, orders: 20, spendPerOrder: 100, tenure: 350 },
  { name: 'newcomer', count: 150, recency: 10, orders: 1, spendPerOrder: 20, tenure: 10 },
  { name: 'lapsing', count: 100, recency: 150, orders: 8, spendPerOrder: 200, tenure: 330 },
  { name: 'dormant', count: 300, recency: 300, orders: 1, spendPerOrder: 15, tenure: 340 },
];

async function memberships(database: TestDatabase, run: SegmentationRunRecord): Promise<Map<string, number>> {
  const rows = await database.db
    .select({ id: schema.customers.externalId, segment: schema.segmentMemberships.segment })
    .from(schema.segmentMemberships)
    .innerJoin(schema.customers, eq(schema.customers.id, schema.segmentMemberships.customerId))
    .where(eq(schema.segmentMemberships.runId, run.id));
  return new Map(rows.map((r) => [r.id, r.segment]));
}

describe('k-means segmentation runs', () => {
  let database: TestDatabase;
  let groupOf: Map<string, number>;
  beforeAll(async () => {
    database = await createTestDatabase();
    const planted = plantedData(GROUPS, R);
    groupOf = planted.groupOf;
    await seed(database.db, planted.data);
  });
  afterAll(async () => {
    await database?.close();
  });

  it('refuses empty data and k larger than the customers, storing nothing', async () => {
    const small = await createTestDatabase();
    try {
      const params = validateSegmentationParams({ k: 3 });
      await expect(runSegmentation(small.db, params, { actor })).rejects.toThrow(/no customer has an order in the window/);
      await expect(checkSegmentationData(small.db, params)).rejects.toBeInstanceOf(DomainError);
      await seed(small.db, plantedData([{ name: 'few', count: 3, recency: 5, orders: 2, spendPerOrder: 10, tenure: 30 }], R).data);
      const tooMany = validateSegmentationParams({ k: 5 });
      await expect(checkSegmentationData(small.db, tooMany)).rejects.toThrow('k: expected at most the number of customers with an order in the window (3), got 5');
      const error = await runSegmentation(small.db, tooMany, { actor }).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(DomainError);
      expect(error).toMatchObject({ code: 'BAD_USER_INPUT', field: 'k', message: 'k: expected at most the number of customers with an order in the window (3), got 5' });
      await expect(runSegmentation(small.db, validateSegmentationParams({}), { actor })).rejects.toThrow(/kMax: choosing k up to 8 needs more than 8 customers with an order in the window, found 3/);
      const [stored] = await small.db.select({ n: count() }).from(schema.segmentationRuns);
      expect(stored?.n).toBe(0);
      const [members] = await small.db.select({ n: count() }).from(schema.segmentMemberships);
      expect(members?.n).toBe(0);
    } finally {
      await small.close();
    }
    expect(() => validateSegmentationParams({ features: ['recency_days', 'ltv'] })).toThrow("features[1]: unknown feature 'ltv'");
    expect(() => validateSegmentationParams({ kMin: 5, kMax: 3 })).toThrow('kMax: expected at least kMin (5), got 3');
    expect(() => validateSegmentationParams({ k: 0 })).toThrow('k: expected an integer from 1 to 50, got 0');
  });

  it('finds the planted k by silhouette and recovers the groups (ARI ≥ 0.9), with labels that match the figures', async () => {
    const run = await runSegmentation(database.db, validateSegmentationParams({ referenceDate: R.toISOString(), kMin: 2, kMax: 8, seed: 11 }), { actor });
    expect(run.k).toBe(GROUPS.length);
    expect(run.kChosenBy).toBe('silhouette');
    const curve = run.silhouetteCurve.map((p) => p['k']);
    expect(curve).toEqual([2, 3, 4, 5, 6, 7, 8]);
    const members = await memberships(database, run);
    const ids = [...groupOf.keys()];
    const ari = adjustedRandIndex(
      ids.map((id) => groupOf.get(id) ?? -1),
      ids.map((id) => members.get(id) ?? -1),
    );
    expect(ari).toBeGreaterThanOrEqual(0.9);
    expect(run.active).toBe(true);

    // Labels against an independent reading of the figures: percentile ranks of each segment's
    // medians among all customers, recomputed here from the features.
    const table = await computeFeatures(database.db, { referenceDate: R, windowDays: 365 });
    const col = (name: string) => Float64Array.from(table.customerIds, (_, i) => table.values[i * table.names.length + table.names.indexOf(name as (typeof FEATURE_NAMES)[number])]!);
    const rank = (name: string, value: number | null | undefined) => percentileRank(col(name), value ?? Number.NaN);
    const t = LABEL_THRESHOLDS;
    const profiles = profilesOf(run);
    expect(profiles.map((p) => p.size).reduce((a, b) => a + b, 0)).toBe(700);
    for (const p of profiles) {
      const r = rank('recency_days', p.medians['recency_days']);
      const m = rank('monetary', p.medians['monetary']);
      if (/recent/.test(p.label) && !/less recent/.test(p.label)) expect(r).toBeLessThan(t.recentBelow);
      if (/^Lapsing/.test(p.label)) expect(r >= t.recentBelow && r < t.dormantFrom).toBe(true);
      if (/^Dormant/.test(p.label)) expect(r).toBeGreaterThanOrEqual(t.dormantFrom);
      if (/High value|big spenders/.test(p.label)) expect(m).toBeGreaterThanOrEqual(t.highValueFrom);
      if (/low value/.test(p.label)) expect(m).toBeLessThan(t.lowValueBelow);
      if (/one purchase/.test(p.label)) expect(p.medians['frequency']).toBeLessThanOrEqual(1);
      if (/^New/.test(p.label)) expect(rank('tenure_days', p.medians['tenure_days'])).toBeLessThan(t.newBelow);
    }
    // The planted groups were built to read as these four.
    expect(profiles.map((p) => p.label).sort()).toEqual(['Dormant', 'High value, recent', 'Lapsing big spenders', 'New, one purchase']);
    // Numbered by revenue, largest first; shares add up.
    for (let i = 1; i < profiles.length; i++) expect(profiles[i - 1]!.revenue).toBeGreaterThanOrEqual(profiles[i]!.revenue);
    expect(profiles.reduce((a, p) => a + p.revenueShare, 0)).toBeCloseTo(1, 9);
    expect(profiles.reduce((a, p) => a + p.customerShare, 0)).toBeCloseTo(1, 9);

    const champion = await database.db.query.customers.findFirst({ where: eq(schema.customers.externalId, 'champion-0') });
    const segment = await customerSegment(database.db, champion?.id ?? 0);
    expect(segment?.label).toBe('High value, recent');
    const page = await segmentationRunMembers(database.db, run, { segment: segment?.segment ?? 0, first: 500 });
    expect(page.nodes.every((c) => c.externalId.startsWith('champion-'))).toBe(true);
    expect(await page.totalCount?.()).toBe(150);
  });

  it('gives the same segments when re-run on unchanged data with the same seed, and keeps one run active', async () => {
    const params = validateSegmentationParams({ referenceDate: R.toISOString(), k: 4, seed: 5, restarts: 2 });
    const first = await runSegmentation(database.db, params, { actor });
    const second = await runSegmentation(database.db, params, { actor });
    expect(second.version).toBe(first.version + 1);
    expect(await memberships(database, second)).toEqual(await memberships(database, first));
    expect(profilesOf(second)).toEqual(profilesOf(first));
    expect((await activeSegmentationRun(database.db))?.id).toBe(second.id);
    await activateSegmentationRun(database.db, first.id, actor);
    const actives = await database.db.select().from(schema.segmentationRuns).where(eq(schema.segmentationRuns.active, true));
    expect(actives.map((r) => r.id)).toEqual([first.id]);
    const listed = await listSegmentationRuns(database.db, { first: 2 });
    expect(listed.nodes.map((r) => r.version)).toEqual([second.version, first.version]);
    expect(listed.hasNextPage).toBe(true);
    await expect(segmentationRunMembers(database.db, first, { segment: 9 })).rejects.toThrow('segment: expected a segment index from 0 to 3, got 9');
  });
});

describe('segmentation without the database', () => {
  it('chooses k for Gaussian blobs in 6 dimensions and recovers them', async () => {
    const random = seededRandom(3);
    const gauss = () => Math.sqrt(-2 * Math.log(1 - random())) * Math.cos(2 * Math.PI * random());
    const k = 5;
    const n = 5000;
    const names = FEATURE_NAMES;
    const centres = Array.from({ length: k }, () => Array.from({ length: 6 }, () => gauss() * 6));
    const values = new Float64Array(n * names.length).fill(0);
    const truth: number[] = [];
    for (let i = 0; i < n; i++) {
      const g = i % k;
      truth.push(g);
      for (let f = 0; f < 6; f++) values[i * names.length + f] = centres[g]![f]! + gauss();
    }
    const table: FeatureTable = { featuresVersion: 1, referenceDate: R, windowDays: 365, customerIds: truth.map((_, i) => i + 1), names, values };
    const outcome = await segmentTable(table, {
      features: [...names.slice(0, 6)],
      transforms: Array.from({ length: 6 }, () => 'none' as const),
      k: null,
      kMin: 2,
      kMax: 9,
      restarts: 3,
      seed: 1,
      maxIterations: 100,
      threads: 0,
      curveSampleSize: 2000,
      silhouetteSampleSize: 2000,
    });
    expect(outcome.k).toBe(k);
    expect(adjustedRandIndex(truth, outcome.labels)).toBeGreaterThanOrEqual(0.9);
    expect(outcome.curve).toHaveLength(8);
    expect(outcome.curve.find((p) => p.k === k)?.silhouette).toBe(Math.max(...outcome.curve.map((p) => p.silhouette)));
  });
});

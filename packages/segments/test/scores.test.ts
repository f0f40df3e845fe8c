import { schema } from '@clientele/db';
import { createTestDatabase, type TestDatabase } from '@clientele/db/testing';
import { and, count, eq, gte } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  activateScoreModel,
  activeScoreModel,
  calibrationTable,
  countRule,
  customerScore,
  fitLinear,
  fitLogistic,
  listScoreModels,
  logLoss,
  prepareRule,
  rSquared,
  rmse,
  rocAuc,
  seededRandom,
  solveSymmetric,
  specOf,
  trainScoreModel,
  validateScoreModelParams,
} from '../src/index.js';
import { DAY, actor, seed, type SeedData } from './helpers.js';

describe('regression and metrics', () => {
  it('computes AUC, log loss and calibration as by hand', () => {
    expect(rocAuc([0.1, 0.4, 0.35, 0.8], [0, 0, 1, 1])).toBe(0.75);
    expect(rocAuc([0.5, 0.5], [0, 1])).toBe(0.5);
    expect(rocAuc([0.2, 0.9, 0.9, 0.1], [0, 1, 0, 0])).toBeCloseTo((1 + 1 + 0.5) / 3, 12);
    expect(Number.isNaN(rocAuc([0.1, 0.2], [1, 1]))).toBe(true);
    expect(logLoss([0.5, 0.5], [0, 1])).toBeCloseTo(Math.log(2), 12);
    expect(logLoss([0.9, 0.2], [1, 0])).toBeCloseTo(-(Math.log(0.9) + Math.log(0.8)) / 2, 12);
    const bins = calibrationTable([0.1, 0.2, 0.3, 0.4], [0, 0, 1, 1], 2);
    expect(bins).toEqual([
      { lower: 0.1, upper: 0.2, count: 2, meanPredicted: expect.closeTo(0.15, 12), observedRate: 0 },
      { lower: 0.3, upper: 0.4, count: 2, meanPredicted: expect.closeTo(0.35, 12), observedRate: 1 },
    ]);
    expect(rmse([1, 2, 3], [1, 2, 5])).toBeCloseTo(Math.sqrt(4 / 3), 12);
    expect(rSquared([1, 2, 3], [1, 2, 3])).toBe(1);
    expect(Array.from(solveSymmetric(Float64Array.from([4, 2, 2, 3]), Float64Array.from([2, 5]), 2))).toEqual([expect.closeTo(-0.5, 12), expect.closeTo(2, 12)]);
  });

  it('recovers known coefficients', () => {
    const random = seededRandom(9);
    const gauss = () => Math.sqrt(-2 * Math.log(1 - random())) * Math.cos(2 * Math.PI * random());
    const n = 20_000;
    const x = new Float64Array(n * 2);
    const y = new Float64Array(n);
    const target = new Float64Array(n);
    for (let i = 0; i < n; i++) {
      x[2 * i] = gauss();
      x[2 * i + 1] = gauss();
      const z = 0.3 + 1.5 * x[2 * i]! - 2 * x[2 * i + 1]!;
      y[i] = random() < 1 / (1 + Math.exp(-z)) ? 1 : 0;
      target[i] = 4 - 3 * x[2 * i]! + 0.5 * x[2 * i + 1]!;
    }
    const logistic = fitLogistic(x, y, n, 2, { l2: 0.01 });
    expect(logistic.converged).toBe(true);
    expect(logistic.intercept).toBeCloseTo(0.3, 1);
    expect(logistic.weights[0]).toBeCloseTo(1.5, 1);
    expect(logistic.weights[1]).toBeCloseTo(-2, 1);
    const linear = fitLinear(x, target, n, 2, { l2: 0 });
    expect(linear.intercept).toBeCloseTo(4, 9);
    expect(Array.from(linear.weights)).toEqual([expect.closeTo(-3, 9), expect.closeTo(0.5, 9)]);
  });
});

const R = new Date('2024-12-31T00:00:00Z');

/** Loyal customers who keep ordering, customers who stop at some point, and occasional ones. */
function history(): SeedData {
  const random = seededRandom(21);
  const data: SeedData = { customers: [], items: [{ id: 'sku', categories: ['all'] }], events: [] };
  const order = (customer: string, daysAgo: number, amount: number) =>
    data.events.push({ customer, item: 'sku', type: 'purchase', quantity: 1, amount: Math.round(amount * 100) / 100, at: new Date(R.getTime() - daysAgo * DAY) });
  for (let i = 0; i < 200; i++) {
    const id = `loyal-${i}`;
    data.customers.push({ id });
    const gap = 10 + random() * 30;
    for (let t = 500 - random() * gap; t > 0; t -= gap * (0.6 + random() * 0.8)) order(id, t, 40 + random() * 40);
  }
  for (let i = 0; i < 200; i++) {
    const id = `leaver-${i}`;
    data.customers.push({ id });
    const gap = 15 + random() * 30;
    const stop = random() * 500;
    for (let t = 500 - random() * gap; t > stop; t -= gap * (0.6 + random() * 0.8)) order(id, t, 30 + random() * 40);
  }
  for (let i = 0; i < 200; i++) {
    const id = `occasional-${i}`;
    data.customers.push({ id });
    for (let t = 500 * random(); t > 0; t -= -Math.log(1 - random()) * 120) order(id, t, 10 + random() * 60);
  }
  return data;
}

describe('churn and value models', () => {
  let database: TestDatabase;
  beforeAll(async () => {
    database = await createTestDatabase();
    await seed(database.db, history());
  });
  afterAll(async () => {
    await database?.close();
  });

  it('refuses too little history and stores nothing', async () => {
    const early = validateScoreModelParams('churn', { referenceDate: new Date(R.getTime() - 330 * DAY).toISOString(), horizonDays: 90 });
    await expect(trainScoreModel(database.db, early, { actor })).rejects.toThrow(/too little history for a churn model: the training set needs at least 30 customers/);
    const [models] = await database.db.select({ n: count() }).from(schema.scoreModels);
    expect(models?.n).toBe(0);
    expect(() => validateScoreModelParams('churn', { horizonDays: 3 })).toThrow('horizonDays: expected an integer from 7 to 730, got 3');
    expect(() => validateScoreModelParams('value', { activation: 'sometimes' })).toThrow('activation: expected one of always, if-better, never');
  });

  it('trains a churn model out of time, scores every customer and explains a score', async () => {
    const model = await trainScoreModel(database.db, validateScoreModelParams('churn', { referenceDate: R.toISOString() }), { actor });
    const auc = Number(model.metrics['auc']);
    console.log(`synthetic churn: AUC ${auc.toFixed(3)}, log loss ${Number(model.metrics['logLoss']).toFixed(3)} (baseline ${Number(model.metrics['baselineLogLoss']).toFixed(3)}), ${model.trainingCount} training / ${model.evaluationCount} evaluation customers`);
    expect(auc).toBeGreaterThan(0.8);
    expect(Number(model.metrics['logLoss'])).toBeLessThan(Number(model.metrics['baselineLogLoss']));
    expect(model.metrics['calibration']).toHaveLength(10);
    expect(model.active).toBe(true);
    expect(model.version).toBe(1);
    const [scored] = await database.db.select({ n: count() }).from(schema.customerScores).where(eq(schema.customerScores.modelId, model.id));
    expect(scored?.n).toBe(model.scoredCount);

    const leaver = await database.db.query.customers.findFirst({ where: eq(schema.customers.externalId, 'leaver-3') });
    const loyal = await database.db.query.customers.findFirst({ where: eq(schema.customers.externalId, 'loyal-3') });
    const loyalScore = await customerScore(database.db, loyal?.id ?? 0, 'churn');
    expect(loyalScore?.score).toBeLessThan(0.5);
    // Long since the last order pushes churn up; for a customer who has stopped it is the main reason.
    const spec = specOf(model);
    expect(spec.weights[spec.preprocessing.features.indexOf('recency_days')]).toBeGreaterThan(0);
    const leaverScore = await customerScore(database.db, leaver?.id ?? 0, 'churn');
    expect(leaverScore?.score).toBeGreaterThan(0.5);
    expect(leaverScore?.contributions[0]).toMatchObject({ feature: 'recency_days' });
    expect(leaverScore?.contributions[0]?.contribution).toBeGreaterThan(0);
    expect(loyalScore?.contributions.map((c) => Math.abs(c.contribution))).toEqual([...(loyalScore?.contributions ?? [])].map((c) => Math.abs(c.contribution)).sort((a, b) => b - a));

    // Scores are usable in rules.
    const rule = await prepareRule(database.db, { score: 'churn', op: 'gte', value: 0.5 }, { referenceDate: R });
    const [high] = await database.db
      .select({ n: count() })
      .from(schema.customerScores)
      .where(and(eq(schema.customerScores.modelId, model.id), gte(schema.customerScores.score, 0.5)));
    expect(high?.n).toBeGreaterThan(0);
    expect(await countRule(database.db, rule)).toBe(high?.n);

    // The same data again is not better: stored as version 2, not activated, until asked.
    const again = await trainScoreModel(database.db, validateScoreModelParams('churn', { referenceDate: R.toISOString() }), { actor });
    expect(again.version).toBe(2);
    expect(again.active).toBe(false);
    expect(again.metrics['activationDecision']).toMatch(/^not activated: the active version 1 scores/);
    await activateScoreModel(database.db, again.id, actor);
    expect((await activeScoreModel(database.db, 'churn'))?.version).toBe(2);
    expect((await listScoreModels(database.db, 'churn', {})).nodes.map((m) => [m.version, m.active])).toEqual([
      [2, true],
      [1, false],
    ]);
  });

  it('trains a value model that beats the mean', async () => {
    const model = await trainScoreModel(database.db, validateScoreModelParams('value', { referenceDate: R.toISOString() }), { actor });
    console.log(`synthetic value: RMSE ${Number(model.metrics['rmse']).toFixed(2)} (mean baseline ${Number(model.metrics['baselineRmse']).toFixed(2)}), R² ${Number(model.metrics['r2']).toFixed(3)}`);
    expect(Number(model.metrics['r2'])).toBeGreaterThan(0.3);
    expect(Number(model.metrics['rmse'])).toBeLessThan(Number(model.metrics['baselineRmse']));
    expect(model.active).toBe(true);
    const loyal = await database.db.query.customers.findFirst({ where: eq(schema.customers.externalId, 'loyal-0') });
    const value = await customerScore(database.db, loyal?.id ?? 0, 'value');
    expect(value?.score).toBeGreaterThan(0);
  });
});

import { describe, expect, it } from 'vitest';
import { datasetFromPairs, rankingMetrics, ratingMetrics, splitDataset } from '../src/index.js';

describe('evaluation metrics, against values worked out by hand', () => {
  it('RMSE and MAE', () => {
    // errors 1, -2, 0, 1 → squared 1+4+0+1 = 6 → RMSE √(6/4) = 1.224744…; MAE (1+2+0+1)/4 = 1
    const m = ratingMetrics([4, 1, 3, 5], [3, 3, 3, 4]);
    expect(m.rmse).toBeCloseTo(Math.sqrt(1.5), 12);
    expect(m.mae).toBe(1);
    expect(m.count).toBe(4);
  });

  it('precision, recall, NDCG, MAP and coverage at k = 3', () => {
    // Customer A: list [1, 2, 3], held out {1, 3, 9}: hits at ranks 1 and 3.
    //   P = 2/3; R = 2/3; DCG = 1/log2(2) + 1/log2(4) = 1.5; IDCG (3 relevant) = 1 + 1/log2(3) + 1/2 = 2.130930
    //   NDCG = 1.5/2.130930 = 0.703918; AP = (1/1 + 2/3) / min(3, 3) = 0.555556
    // Customer B: list [4, 5, 6], held out {6}: hit at rank 3.
    //   P = 1/3; R = 1; DCG = 1/2; IDCG = 1 → NDCG 0.5; AP = (1/3)/1 = 0.333333
    // Customer C: no held-out items → not evaluated.
    // Coverage: items 1..6 recommended to evaluated customers out of a catalogue of 10 → 0.6
    const m = rankingMetrics([[1, 2, 3], [4, 5, 6], [7, 8, 9]], [new Set([1, 3, 9]), new Set([6]), new Set()], 3, 10);
    expect(m.users).toBe(2);
    expect(m.precision).toBeCloseTo((2 / 3 + 1 / 3) / 2, 12);
    expect(m.recall).toBeCloseTo((2 / 3 + 1) / 2, 12);
    const idcgA = 1 + 1 / Math.log2(3) + 0.5;
    expect(m.ndcg).toBeCloseTo((1.5 / idcgA + 0.5) / 2, 12);
    expect(m.ndcg).toBeCloseTo(0.601959, 5);
    expect(m.map).toBeCloseTo(((1 + 2 / 3) / 3 + 1 / 3) / 2, 12);
    expect(m.coverage).toBeCloseTo(0.6, 12);
  });

  it('a list shorter than k still divides precision by k, and MAP by min(k, held out)', () => {
    const m = rankingMetrics([[5]], [new Set([5, 6])], 4, 10);
    expect(m.precision).toBe(0.25);
    expect(m.recall).toBe(0.5);
    expect(m.map).toBe(0.5); // (1/1) / min(4, 2)
  });
});

describe('splits', () => {
  const pairs = [];
  for (let u = 1; u <= 10; u++) for (let i = 1; i <= 8; i++) pairs.push({ customerId: u, itemId: i, value: 1, at: u * 1000 + i * 86_400 });
  const data = datasetFromPairs('implicit', pairs);

  it('random: the parts are disjoint, cover the data, and have the asked sizes', () => {
    const s = splitDataset(data, { method: 'random', testFraction: 0.2, validationFraction: 0.1, days: 30, seed: 7 });
    expect(s.test.userRows.length).toBe(16);
    expect(s.validation.userRows.length).toBe(8);
    expect(s.train.userRows.length).toBe(56);
    const key = (d: typeof data, p: number) => `${d.userRows[p]}:${d.itemRows[p]}`;
    const all = new Set<string>();
    for (const part of [s.train, s.validation, s.test]) for (let p = 0; p < part.userRows.length; p++) all.add(key(part, p));
    expect(all.size).toBe(80);
    const again = splitDataset(data, { method: 'random', testFraction: 0.2, validationFraction: 0.1, days: 30, seed: 7 });
    expect(Array.from(again.test.itemRows)).toEqual(Array.from(s.test.itemRows));
  });

  it('leave-last-out: each customer’s latest pair is test and the one before validation', () => {
    const s = splitDataset(data, { method: 'leave-last-out', testFraction: 0.2, validationFraction: 0.1, days: 30, seed: 1 });
    expect(s.test.userRows.length).toBe(10);
    expect(new Set(s.test.itemRows).size).toBe(1);
    expect(data.items.id(s.test.itemRows[0] ?? -1)).toBe(8);
    expect(data.items.id(s.validation.itemRows[0] ?? -1)).toBe(7);
  });

  it('temporal: the last N days are test, the N days before validation', () => {
    const s = splitDataset(data, { method: 'temporal', testFraction: 0.2, validationFraction: 0.1, days: 2, seed: 1 });
    // Items 7 and 8 fall in the last two days (item 8 is newest), items 5 and 6 in the two before.
    expect(new Set(Array.from(s.test.itemRows, (r) => data.items.id(r)))).toEqual(new Set([7, 8]));
    expect(new Set(Array.from(s.validation.itemRows, (r) => data.items.id(r)))).toEqual(new Set([5, 6]));
  });
});

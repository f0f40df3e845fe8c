import { describe, expect, it } from 'vitest';

import { FACTORS_FORMAT_VERSION, ItemScorer, cpuFeatures, deserializeFactors, scorePairs, serializeFactors, topK } from '../src/index.js';
import { built, randomMatrix } from './helpers.js';

function referenceTopK(q: Float32Array, M: Float32Array, d: number, k: number, exclude: number[] = [], candidates?: number[], cosine = false) {
  const rows = M.length / d;
  const ex = new Set(exclude);
  const pool = candidates ?? Array.from({ length: rows }, (_, j) => j);
  const qn = Math.hypot(...q);
  const scored = pool
    .filter((j) => !ex.has(j))
    .map((j) => {
      let s = 0;
      let n = 0;
      for (let p = 0; p < d; p++) {
        s += q[p]! * M[j * d + p]!;
        n += M[j * d + p]! ** 2;
      }
      return { j, s: cosine ? s / Math.sqrt(n) / qn : s };
    });
  scored.sort((a, b) => b.s - a.s || a.j - b.j);
  return scored.slice(0, k);
}

describe.skipIf(!built)('scoring', () => {
  const d = 16;
  const M = randomMatrix(5000, d, 11);
  const q = randomMatrix(1, d, 12);
  const kernels = cpuFeatures().avx2 && cpuFeatures().fma ? (['portable', 'avx2'] as const) : (['portable'] as const);

  it('top-k matches a reference, with exclusions and candidate sets, on both kernels and thread counts', () => {
    const scorer = new ItemScorer(M, d);
    const exclude = [5, 17, 4000];
    for (const kernel of kernels)
      for (const threads of [1, 2]) {
        const ref = referenceTopK(q, M, d, 10, exclude);
        const got = scorer.topK(q, { k: 10, exclude: Int32Array.from(exclude), kernel, threads });
        expect(Array.from(got.indices)).toEqual(ref.map((r) => r.j));
        got.scores.forEach((s, i) => expect(s).toBeCloseTo(ref[i]!.s, 4));
      }
    const candidates = [1, 2, 3, 5, 8, 13, 21, 34];
    const got = scorer.topK(q, { k: 3, exclude: Int32Array.from([13]), candidates: Int32Array.from(candidates) });
    expect(Array.from(got.indices)).toEqual(referenceTopK(q, M, d, 3, [13], candidates).map((r) => r.j));
    expect(scorer.topK(q, { k: 0 }).indices.length).toBe(0);
    expect(scorer.topK(q, { k: 100, candidates: Int32Array.from([7, 9]) }).indices.length).toBe(2);
    expect(topK(q, M, { k: 1 }).indices[0]).toBe(referenceTopK(q, M, d, 1)[0]!.j);
  });

  it('gives the same results with and without the compact (8-bit or half-float) scan', () => {
    const big = M.slice();
    big[3] = 1e6; // beyond the half range: a half copy falls back to float32; an 8-bit copy takes it
    for (const data of [M, big]) {
      const compact = new ItemScorer(data, d);
      const plain = new ItemScorer(data, d, { compact: false });
      for (let t = 0; t < 5; t++) {
        const query = randomMatrix(1, d, 100 + t);
        const a = compact.topK(query, { k: 20, exclude: Int32Array.from([7]) });
        const b = plain.topK(query, { k: 20, exclude: Int32Array.from([7]) });
        expect(Array.from(a.indices)).toEqual(Array.from(b.indices));
        // Equal within float32 rounding (the rescoring and the plain scan sum in different orders).
        a.scores.forEach((s, i) => expect(Math.abs(s - b.scores[i]!)).toBeLessThanOrEqual(1e-6 * Math.max(1, Math.abs(b.scores[i]!))));
      }
    }
  });

  it('batch top-k and similar items match the single-query path', async () => {
    const scorer = new ItemScorer(M, d);
    const queries = randomMatrix(7, d, 13);
    const exclude = Array.from({ length: 3 }, (_, i) => Int32Array.from([i, i + 100]));
    const rows = Int32Array.from([6, 0, 3]);
    const batch = await scorer.topKBatch(queries, { k: 5, rows, exclude, threads: 2 });
    expect(batch.k).toBe(5);
    for (let b = 0; b < 3; b++) {
      const one = scorer.topK(queries.subarray(rows[b]! * d, rows[b]! * d + d), { k: 5, exclude: exclude[b] });
      expect(Array.from(batch.indices.subarray(b * 5, b * 5 + 5))).toEqual(Array.from(one.indices));
      expect(batch.counts[b]).toBe(5);
    }
    const sim = await scorer.similarItems(Int32Array.from([42, 7]), { k: 4 });
    const item42 = M.subarray(42 * d, 43 * d);
    const ref = referenceTopK(item42, M, d, 4, [42], undefined, true);
    expect(Array.from(sim.indices.subarray(0, 4))).toEqual(ref.map((r) => r.j));
    sim.scores.subarray(0, 4).forEach((s, i) => expect(s).toBeCloseTo(ref[i]!.s, 4));
    const few = await scorer.similarItems(Int32Array.from([1]), { k: 3, candidates: Int32Array.from([1, 2]) });
    expect(few.k).toBe(2); // k is capped at the number of candidates
    expect(Array.from(few.indices)).toEqual([2, -1]);
    expect(few.counts[0]).toBe(1);
  });

  it('batch top-k over many rows (one blocked pass, rows split across threads) matches the single-query path', async () => {
    const dim = 16;
    const big = randomMatrix(20_000, dim, 21);
    const scorer = new ItemScorer(big, dim, { compact: false });
    const queries = randomMatrix(9, dim, 22);
    const exclude = Array.from({ length: 9 }, (_, i) => Int32Array.from([i * 3, 19_999 - i, 10_000 + i]));
    for (const threads of [1, 2]) {
      const batch = await scorer.topKBatch(queries, { k: 12, exclude, threads });
      for (let b = 0; b < 9; b++) {
        const one = scorer.topK(queries.subarray(b * dim, (b + 1) * dim), { k: 12, exclude: exclude[b] });
        expect(Array.from(batch.indices.subarray(b * 12, b * 12 + 12))).toEqual(Array.from(one.indices));
        batch.scores.subarray(b * 12, b * 12 + 12).forEach((s, i) => expect(s).toBeCloseTo(one.scores[i]!, 5));
        expect(batch.counts[b]).toBe(12);
      }
    }
  });

  it('batch top-k over the half-float copy returns the same items as the float32 pass, ties included', async () => {
    const dim = 64;
    const big = randomMatrix(30_000, dim, 31);
    // Exact duplicates of the rows that will score best: ties the half scan cannot tell apart
    // must still come out smaller index first, as in the float32 pass.
    for (const [from, to] of [
      [10, 29_990],
      [10, 15_000],
      [20, 20],
    ] as const)
      big.copyWithin(to * dim, from * dim, (from + 1) * dim);
    const compact = new ItemScorer(big, dim);
    const plain = new ItemScorer(big, dim, { compact: false });
    const queries = new Float32Array(6 * dim);
    queries.set(big.subarray(10 * dim, 11 * dim), 0); // its best items are the three copies of row 10
    queries.set(randomMatrix(5, dim, 32), dim);
    const exclude = Array.from({ length: 6 }, (_, i) => Int32Array.from(i === 0 ? [15_000] : [i, 29_999 - i]));
    for (const threads of [1, 2])
      for (const rows of [undefined, Int32Array.from([0]), Int32Array.from([5, 0, 2])]) {
        const options = { k: 15, exclude: rows ? exclude.slice(0, rows.length) : exclude, threads, ...(rows ? { rows } : {}) };
        const a = await compact.topKBatch(queries, options);
        const b = await plain.topKBatch(queries, options);
        expect(Array.from(a.indices)).toEqual(Array.from(b.indices));
        expect(Array.from(a.counts)).toEqual(Array.from(b.counts));
        a.scores.forEach((s, i) => expect(s).toBeCloseTo(b.scores[i]!, 5));
      }
    const first = await compact.topKBatch(queries, { k: 3, rows: Int32Array.from([0]), exclude: [Int32Array.from([15_000])] });
    expect(Array.from(first.indices)).toEqual([10, 29_990, first.indices[2]]);
  });

  it('scores pairs with and without biases', async () => {
    const U = randomMatrix(10, d, 14);
    const users = Int32Array.from([0, 9, 3]);
    const items = Int32Array.from([4999, 0, 7]);
    const ub = Float32Array.from({ length: 10 }, (_, i) => i / 10);
    const ib = new Float32Array(5000).fill(0.5);
    const plain = await scorePairs(U, M, users, items, { dim: d });
    const biased = await scorePairs(U, M, users, items, { dim: d, userBias: ub, itemBias: ib, globalMean: 3 });
    for (let k = 0; k < 3; k++) {
      let s = 0;
      for (let p = 0; p < d; p++) s += U[users[k]! * d + p]! * M[items[k]! * d + p]!;
      expect(plain[k]).toBeCloseTo(s, 4);
      expect(biased[k]).toBeCloseTo(s + ub[users[k]!]! + 0.5 + 3, 4);
    }
  });

  it('validates arguments with named errors', async () => {
    expect(() => new ItemScorer(new Float32Array(10), 3)).toThrow(
      new RangeError('ItemScorer: itemFactors: expected a length divisible by dim=3, received length 10'),
    );
    const scorer = new ItemScorer(M, d);
    expect(() => scorer.topK(new Float32Array(3), { k: 1 })).toThrow(/topK: query: expected length 16 \(dim\), received length 3/);
    expect(() => scorer.topK(q, { k: -1 })).toThrow(RangeError);
    expect(() => scorer.topK(q, { k: 1, candidates: Int32Array.from([5000]) })).toThrow(
      /options\.candidates: expected indices in \[0, item count=5000\), received 5000 at index 0/,
    );
    expect(() => scorer.topK(q, { k: 1, exclude: [1] as unknown as Int32Array })).toThrow(TypeError);
    await expect(scorer.topKBatch(q, { k: 1, exclude: [] })).rejects.toThrow(/options\.exclude: expected length 1/);
    await expect(scorePairs(M, M, Int32Array.from([0]), Int32Array.from([5000]), { dim: d })).rejects.toThrow(/items: expected indices/);
  });
});

describe.skipIf(!built)('factor serialisation', () => {
  const model = {
    factors: 3,
    userFactors: randomMatrix(4, 3, 1),
    itemFactors: randomMatrix(5, 3, 2),
    userBias: Float32Array.from([1, 2, 3, 4]),
    itemBias: Float32Array.from([5, 6, 7, 8, 9]),
    globalMean: 3.5,
  };

  it('round-trips with and without biases', () => {
    const bytes = serializeFactors(model);
    expect(bytes.length).toBe(48 + (12 + 15 + 9) * 4 + 4);
    const back = deserializeFactors(bytes);
    expect(back.version).toBe(FACTORS_FORMAT_VERSION);
    expect(back.hasBias).toBe(true);
    expect(Array.from(back.userFactors)).toEqual(Array.from(model.userFactors));
    expect(Array.from(back.itemBias)).toEqual(Array.from(model.itemBias));
    expect(back.globalMean).toBe(3.5);
    const plain = deserializeFactors(serializeFactors({ factors: 3, userFactors: model.userFactors, itemFactors: model.itemFactors }));
    expect(plain.hasBias).toBe(false);
    expect(Array.from(plain.itemFactors)).toEqual(Array.from(model.itemFactors));
    // An unaligned view (e.g. a slice of a larger buffer) works too.
    const padded = new Uint8Array(bytes.length + 1);
    padded.set(bytes, 1);
    expect(deserializeFactors(padded.subarray(1)).factors).toBe(3);
  });

  it('detects corruption, truncation, wrong magic and unknown versions', () => {
    const bytes = serializeFactors(model);
    const flipped = bytes.slice();
    flipped[60] = flipped[60]! ^ 1;
    expect(() => deserializeFactors(flipped)).toThrow(/the data is corrupt/);
    expect(() => deserializeFactors(bytes.subarray(0, bytes.length - 1))).toThrow(RangeError);
    const magic = bytes.slice();
    magic[0] = 0;
    expect(() => deserializeFactors(magic)).toThrow(/not a factor model/);
    const version = bytes.slice();
    version[4] = 99;
    expect(() => deserializeFactors(version)).toThrow(/format version 1\.\.1, received version 99/);
    expect(() => serializeFactors({ ...model, itemBias: undefined })).toThrow(TypeError);
  });
});

import { describe, expect, it } from 'vitest';

import { buildCsr, predictRatings, scorePairs, trainExplicit, trainImplicit, type Progress } from '../src/index.js';
import { built, randn, rng } from './helpers.js';

/** Ratings from a planted rank-r model plus biases and Gaussian noise, on a random subset of cells. */
function plantedRatings(nu: number, ni: number, rank: number, density: number, noise: number, seed: number) {
  const r = rng(seed);
  const U = Array.from({ length: nu * rank }, () => randn(r));
  const V = Array.from({ length: ni * rank }, () => randn(r));
  const bu = Array.from({ length: nu }, () => randn(r) * 0.5);
  const bi = Array.from({ length: ni }, () => randn(r) * 0.5);
  const truth = (u: number, i: number) => {
    let s = 3 + bu[u]! + bi[i]!;
    for (let p = 0; p < rank; p++) s += U[u * rank + p]! * V[i * rank + p]!;
    return s;
  };
  const users: number[] = [];
  const items: number[] = [];
  const ratings: number[] = [];
  const test: [number, number][] = [];
  for (let u = 0; u < nu; u++)
    for (let i = 0; i < ni; i++) {
      const x = r();
      if (x < density) {
        users.push(u);
        items.push(i);
        ratings.push(truth(u, i) + randn(r) * noise);
      } else if (x < density * 1.2) test.push([u, i]);
    }
  return {
    data: { users: Int32Array.from(users), items: Int32Array.from(items), ratings: Float32Array.from(ratings) },
    test,
    truth,
  };
}

describe.skipIf(!built)('buildCsr', () => {
  it('builds CSR and its transpose, summing duplicates in order', async () => {
    const rows = Int32Array.from([2, 0, 2, 1, 0, 2]);
    const cols = Int32Array.from([1, 3, 0, 2, 3, 1]);
    const values = Float32Array.from([1, 2, 3, 4, 5, 6]);
    const { matrix, transpose } = await buildCsr({ rows, cols, values }, { nRows: 4, nCols: 4, transpose: true });
    expect(Array.from(matrix.indptr)).toEqual([0, 1, 2, 4, 4]);
    expect(Array.from(matrix.indices)).toEqual([3, 2, 0, 1]);
    expect(Array.from(matrix.data)).toEqual([7, 4, 3, 7]);
    expect(Array.from(transpose!.indptr)).toEqual([0, 1, 2, 3, 4]);
    expect(Array.from(transpose!.indices)).toEqual([2, 2, 1, 0]);
    expect(Array.from(transpose!.data)).toEqual([3, 7, 4, 7]);
  });

  it('rejects duplicates and out-of-range indices when asked', async () => {
    const rows = Int32Array.from([0, 0]);
    const cols = Int32Array.from([1, 1]);
    await expect(buildCsr({ rows, cols }, { nRows: 1, nCols: 2, duplicates: 'reject' })).rejects.toThrow(/duplicate entry \(0, 1\)/);
    await expect(buildCsr({ rows, cols }, { nRows: 1, nCols: 1 })).rejects.toThrow(
      new RangeError('buildCsr: triplets.cols: expected indices in [0, options.nCols=1), received 1 at index 0'),
    );
    await expect(buildCsr({ rows, cols: Int32Array.from([1]) }, { nRows: 1, nCols: 2 })).rejects.toThrow(
      /triplets\.cols: expected length 2/,
    );
  });
});

describe.skipIf(!built)('trainExplicit', () => {
  it('recovers a planted low-rank model to near the noise level', async () => {
    const noise = 0.1;
    const { data, test, truth } = plantedRatings(150, 120, 3, 0.35, noise, 1);
    const events: Progress[] = [];
    const model = await trainExplicit(data, {
      nUsers: 150,
      nItems: 120,
      factors: 3,
      iterations: 25,
      regularization: 0.002,
      biasRegularization: 0.1,
      seed: 2,
      onProgress: (p) => events.push(p),
    });
    expect(events.map((e) => e.done)).toEqual(Array.from({ length: 25 }, (_, i) => i + 1));
    expect(model.rmse.at(-1)!).toBeLessThan(noise * 1.2);
    // Loss never goes up (ALS decreases the regularised objective monotonically).
    for (let i = 1; i < model.loss.length; i++) expect(model.loss[i]!).toBeLessThanOrEqual(model.loss[i - 1]! * (1 + 1e-5));
    const pred = await predictRatings(model, Int32Array.from(test, (t) => t[0]), Int32Array.from(test, (t) => t[1]));
    let se = 0;
    test.forEach(([u, i], j) => (se += (pred[j]! - truth(u, i)) ** 2));
    expect(Math.sqrt(se / test.length)).toBeLessThan(noise * 1.5);
  });

  it('satisfies the normal equations of the last half-step (reference check)', async () => {
    const { data } = plantedRatings(12, 9, 2, 0.6, 0.3, 3);
    const f = 2;
    const reg = 0.1;
    const breg = 2;
    const m = await trainExplicit(data, { nUsers: 12, nItems: 9, factors: f, iterations: 3, regularization: reg, biasRegularization: breg });
    // Gradient of the objective with respect to each item's (factors, bias) must vanish.
    for (let i = 0; i < 9; i++) {
      const g = new Float64Array(f + 1);
      let n = 0;
      for (let k = 0; k < data.users.length; k++) {
        if (data.items[k] !== i) continue;
        n++;
        const u = data.users[k]!;
        let pred = m.globalMean + m.userBias[u]! + m.itemBias[i]!;
        for (let p = 0; p < f; p++) pred += m.userFactors[u * f + p]! * m.itemFactors[i * f + p]!;
        const err = pred - data.ratings[k]!;
        for (let p = 0; p < f; p++) g[p]! += err * m.userFactors[u * f + p]!;
        g[f]! += err;
      }
      if (n === 0) continue;
      for (let p = 0; p < f; p++) g[p]! += reg * n * m.itemFactors[i * f + p]!;
      g[f]! += breg * m.itemBias[i]!;
      for (const v of g) expect(Math.abs(v)).toBeLessThan(1e-3);
    }
  });

  it('validates arguments', async () => {
    const data = { users: Int32Array.from([0]), items: Int32Array.from([0]), ratings: Float32Array.from([NaN]) };
    await expect(trainExplicit(data, { nUsers: 1, nItems: 1 })).rejects.toThrow(
      /trainExplicit: data\.ratings: expected finite numbers \(no NaN or Infinity\), received NaN at index 0/,
    );
    await expect(trainExplicit({ ...data, ratings: Float32Array.from([4]) }, { nUsers: 1, nItems: 1, factors: 0 })).rejects.toThrow(
      new RangeError('trainExplicit: options.factors: expected an integer in [1, 1024], received 0'),
    );
    await expect(
      trainExplicit({ users: Int32Array.from([0, 0]), items: Int32Array.from([0, 0]), ratings: Float32Array.from([1, 2]) }, { nUsers: 1, nItems: 1 }),
    ).rejects.toThrow(/duplicate entry/);
  });
});

/** Implicit data with taste clusters: users in group g interact mostly with items in group g. */
function clustered(nu: number, ni: number, groups: number, perUser: number, seed: number) {
  const r = rng(seed);
  const users: number[] = [];
  const items: number[] = [];
  const heldOut: [number, number][] = [];
  const seen = new Set<string>();
  for (let u = 0; u < nu; u++) {
    const g = u % groups;
    for (let t = 0; t < perUser + 1; t++) {
      const inGroup = r() < 0.9;
      const block = ni / groups;
      const i = inGroup ? g * block + Math.floor(r() * block) : Math.floor(r() * ni);
      const key = `${u},${i}`;
      if (seen.has(key)) continue;
      seen.add(key);
      if (t === perUser) heldOut.push([u, i]);
      else {
        users.push(u);
        items.push(i);
      }
    }
  }
  return { users: Int32Array.from(users), items: Int32Array.from(items), heldOut, seen };
}

describe.skipIf(!built)('trainImplicit', () => {
  it('ranks held-out positives above random items', async () => {
    const nu = 400;
    const ni = 200;
    const { users, items, heldOut, seen } = clustered(nu, ni, 5, 15, 4);
    for (const solver of ['cg', 'cholesky'] as const) {
      const model = await trainImplicit({ users, items }, { nUsers: nu, nItems: ni, factors: 16, iterations: 10, regularization: 0.1, alpha: 10, solver, seed: 1 });
      const r = rng(9);
      const pu: number[] = [];
      const pi: number[] = [];
      const nuRand: number[] = [];
      const niRand: number[] = [];
      for (const [u, i] of heldOut) {
        let j = Math.floor(r() * ni);
        while (seen.has(`${u},${j}`)) j = Math.floor(r() * ni);
        pu.push(u);
        pi.push(i);
        nuRand.push(u);
        niRand.push(j);
      }
      const opts = { dim: 16 };
      const pos = await scorePairs(model.userFactors, model.itemFactors, Int32Array.from(pu), Int32Array.from(pi), opts);
      const neg = await scorePairs(model.userFactors, model.itemFactors, Int32Array.from(nuRand), Int32Array.from(niRand), opts);
      let wins = 0;
      for (let k = 0; k < pos.length; k++) wins += pos[k]! > neg[k]! ? 1 : 0;
      expect(wins / pos.length).toBeGreaterThan(0.8);
    }
  });

  it('CG approaches the exact Cholesky solution and reports loss', async () => {
    const { users, items } = clustered(100, 60, 3, 10, 5);
    const base = { nUsers: 100, nItems: 60, factors: 8, iterations: 8, regularization: 0.1, alpha: 5, seed: 3, computeLoss: true };
    const exact = await trainImplicit({ users, items }, { ...base, solver: 'cholesky' });
    const cg = await trainImplicit({ users, items }, { ...base, cgSteps: 8 });
    expect(exact.loss.length).toBe(8);
    expect(Math.abs(cg.loss.at(-1)! - exact.loss.at(-1)!) / exact.loss.at(-1)!).toBeLessThan(0.02);
    for (let i = 1; i < exact.loss.length; i++) expect(exact.loss[i]!).toBeLessThanOrEqual(exact.loss[i - 1]! * (1 + 1e-4));
  });

  it('is deterministic, cancellable, and validates arguments', async () => {
    const { users, items } = clustered(200, 80, 4, 10, 6);
    const o = { nUsers: 200, nItems: 80, factors: 8, iterations: 4, seed: 5, threads: 2 };
    const a = await trainImplicit({ users, items }, o);
    const b = await trainImplicit({ users, items }, o);
    expect(Array.from(a.userFactors)).toEqual(Array.from(b.userFactors));

    const ac = new AbortController();
    const p = trainImplicit({ users, items }, { ...o, iterations: 100_000, signal: ac.signal, onProgress: (e) => e.done === 1 && ac.abort() });
    await expect(p).rejects.toMatchObject({ name: 'AbortError' });

    await expect(trainImplicit({ users, items, values: new Float32Array(users.length).fill(-1) }, o)).rejects.toThrow(
      /data\.values: expected finite numbers ≥ 0, received -1 at index 0/,
    );
    await expect(trainImplicit({ users, items }, { ...o, nUsers: 10 })).rejects.toThrow(/data\.users: expected indices in \[0, options\.nUsers=10\)/);
    await expect(trainImplicit({ users, items }, { ...o, solver: 'lu' as never })).rejects.toThrow(/options\.solver: expected one of 'cg', 'cholesky', received 'lu'/);
  });
});

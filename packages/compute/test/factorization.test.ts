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
    await expect(trainImplicit({ users, items }, { ...o, regularizationExponent: 3 })).rejects.toThrow(
      /options\.regularizationExponent: expected a finite number in \[0, 2\], received 3/,
    );
    await expect(trainImplicit({ users, items }, { ...o, regularizationOffset: -1 })).rejects.toThrow(
      /options\.regularizationOffset: expected a finite number in \[0, 1000000000\], received -1/,
    );
    await expect(trainImplicit({ users, items }, { ...o, regularizationOffset: Number.NaN })).rejects.toThrow(/options\.regularizationOffset: .*received NaN/);
  });
});

describe.skipIf(!built)('trainImplicit with frequency-scaled regularisation', () => {
  it('exponent 0 is the plain solve, bit for bit, whatever the offset', async () => {
    const { users, items } = clustered(120, 50, 4, 10, 11);
    const o = { nUsers: 120, nItems: 50, factors: 6, iterations: 5, regularization: 0.7, alpha: 3, seed: 2, threads: 1 };
    for (const solver of ['cg', 'cholesky'] as const) {
      const plain = await trainImplicit({ users, items }, { ...o, solver });
      const zero = await trainImplicit({ users, items }, { ...o, solver, regularizationExponent: 0, regularizationOffset: 50 });
      expect(Array.from(zero.userFactors)).toEqual(Array.from(plain.userFactors));
      expect(Array.from(zero.itemFactors)).toEqual(Array.from(plain.itemFactors));
    }
  });

  it('with every row of the same count, λ·(n + offset)^ν is the plain solve with that λ', async () => {
    // Circulant pattern: user u has items u, u+1, u+2 (mod 30), so every user and item has 3.
    const n = 30;
    const users: number[] = [];
    const items: number[] = [];
    for (let u = 0; u < n; u++) {
      for (const d of [0, 1, 2]) {
        users.push(u);
        items.push((u + d) % n);
      }
    }
    const data = { users: Int32Array.from(users), items: Int32Array.from(items) };
    const o = { nUsers: n, nItems: n, factors: 4, iterations: 6, alpha: 2, seed: 4, solver: 'cholesky' as const, threads: 1 };
    const scaled = await trainImplicit(data, { ...o, regularization: 0.05, regularizationExponent: 1.5, regularizationOffset: 1 });
    const plain = await trainImplicit(data, { ...o, regularization: 0.05 * Math.pow(3 + 1, 1.5) });
    for (let k = 0; k < scaled.userFactors.length; k++) expect(scaled.userFactors[k]!).toBeCloseTo(plain.userFactors[k]!, 4);
    for (let k = 0; k < scaled.itemFactors.length; k++) expect(scaled.itemFactors[k]!).toBeCloseTo(plain.itemFactors[k]!, 4);
  });

  it('the last half-step satisfies the normal equations with each item’s own λ (reference check)', async () => {
    const nu = 40;
    const ni = 24; // a multiple of the 3 groups, so clustered() gives whole item indices
    const { users, items } = clustered(nu, ni, 3, 6, 12);
    const values = Float32Array.from(users, (_, k) => 1 + (k % 3));
    const f = 4;
    const reg = 0.3;
    const nuExp = 1;
    const offset = 2;
    const alpha = 2;
    const m = await trainImplicit({ users, items, values }, { nUsers: nu, nItems: ni, factors: f, iterations: 3, regularization: reg, regularizationExponent: nuExp, regularizationOffset: offset, alpha, solver: 'cholesky', seed: 1 });
    // Items are solved last: (XᵀX + λ_i I + Σ_u (c−1) x xᵀ) y_i = Σ_u c x, λ_i = reg·(n_i + offset)^ν.
    const X = m.userFactors;
    const Y = m.itemFactors;
    const xtx = new Float64Array(f * f);
    for (let u = 0; u < nu; u++) for (let a = 0; a < f; a++) for (let b = 0; b < f; b++) xtx[a * f + b]! += X[u * f + a]! * X[u * f + b]!;
    let checked = 0;
    const counts = new Set<number>();
    for (let i = 0; i < ni; i++) {
      const A = Float64Array.from(xtx);
      const rhs = new Float64Array(f);
      let n = 0;
      for (let k = 0; k < users.length; k++) {
        if (items[k] !== i) continue;
        n++;
        const u = users[k]!;
        const c = 1 + alpha * values[k]!;
        for (let a = 0; a < f; a++) {
          rhs[a]! += c * X[u * f + a]!;
          for (let b = 0; b < f; b++) A[a * f + b]! += (c - 1) * X[u * f + a]! * X[u * f + b]!;
        }
      }
      if (n === 0) continue;
      counts.add(n);
      const lambda = reg * Math.pow(n + offset, nuExp);
      for (let a = 0; a < f; a++) A[a * f + a]! += lambda;
      for (let a = 0; a < f; a++) {
        let lhs = 0;
        for (let b = 0; b < f; b++) lhs += A[a * f + b]! * Y[i * f + b]!;
        expect(Math.abs(lhs - rhs[a]!)).toBeLessThan(1e-3 * (1 + Math.abs(rhs[a]!)));
      }
      checked++;
    }
    expect(checked).toBeGreaterThan(10);
    expect(counts.size).toBeGreaterThan(2); // items of different counts, so different λ
  });

  it('CG with the scaled λ approaches the exact solution, and the loss falls', async () => {
    const { users, items } = clustered(100, 60, 3, 10, 5);
    const base = { nUsers: 100, nItems: 60, factors: 8, iterations: 8, regularization: 0.05, regularizationExponent: 1, regularizationOffset: 10, alpha: 5, seed: 3, computeLoss: true };
    const exact = await trainImplicit({ users, items }, { ...base, solver: 'cholesky' });
    const cg = await trainImplicit({ users, items }, { ...base, cgSteps: 8 });
    expect(Math.abs(cg.loss.at(-1)! - exact.loss.at(-1)!) / exact.loss.at(-1)!).toBeLessThan(0.02);
    for (let i = 1; i < exact.loss.length; i++) expect(exact.loss[i]!).toBeLessThanOrEqual(exact.loss[i - 1]! * (1 + 1e-4));
  });
});

import { describe, expect, it } from 'vitest';

import { cpuFeatures, kmeans, silhouetteScore, type Progress } from '../src/index.js';
import { built, randn, rng } from './helpers.js';

/** n points around k well-separated centres; returns data and the planted labels. */
function planted(n: number, d: number, k: number, seed: number, spread = 10) {
  const r = rng(seed);
  const centres = Array.from({ length: k * d }, () => (r() * 2 - 1) * spread);
  const data = new Float32Array(n * d);
  const truth = new Int32Array(n);
  for (let i = 0; i < n; i++) {
    const c = i % k;
    truth[i] = c;
    for (let p = 0; p < d; p++) data[i * d + p] = centres[c * d + p]! + randn(r) * 0.3;
  }
  return { data, truth };
}

/** Adjusted Rand index (reference implementation). */
function ari(a: Int32Array, b: Int32Array): number {
  const n = a.length;
  const table = new Map<string, number>();
  const ca = new Map<number, number>();
  const cb = new Map<number, number>();
  for (let i = 0; i < n; i++) {
    const key = `${a[i]},${b[i]}`;
    table.set(key, (table.get(key) ?? 0) + 1);
    ca.set(a[i]!, (ca.get(a[i]!) ?? 0) + 1);
    cb.set(b[i]!, (cb.get(b[i]!) ?? 0) + 1);
  }
  const c2 = (x: number) => (x * (x - 1)) / 2;
  let index = 0;
  for (const v of table.values()) index += c2(v);
  let sa = 0;
  let sb = 0;
  for (const v of ca.values()) sa += c2(v);
  for (const v of cb.values()) sb += c2(v);
  const expected = (sa * sb) / c2(n);
  const max = (sa + sb) / 2;
  return (index - expected) / (max - expected);
}

function sqdist(data: Float32Array, i: number, c: Float32Array, j: number, d: number): number {
  let s = 0;
  for (let p = 0; p < d; p++) s += (data[i * d + p]! - c[j * d + p]!) ** 2;
  return s;
}

const kernels = (): ('portable' | 'avx2')[] => (cpuFeatures().avx2 && cpuFeatures().fma ? ['portable', 'avx2'] : ['portable']);

describe.skipIf(!built)('kmeans', () => {
  it('recovers planted clusters (ARI ≈ 1) with labels that are nearest centroids', async () => {
    const d = 5;
    const k = 6;
    const { data, truth } = planted(3000, d, k, 1);
    for (const kernel of kernels()) {
      const r = await kmeans(data, { dim: d, k, seed: 3, restarts: 3, kernel, threads: 2 });
      expect(ari(r.labels, truth)).toBeGreaterThan(0.99);
      // Reference check: each label is the nearest centroid, and inertia is the sum of distances.
      let inertia = 0;
      for (let i = 0; i < 3000; i++) {
        let best = Infinity;
        for (let j = 0; j < k; j++) best = Math.min(best, sqdist(data, i, r.centroids, j, d));
        const mine = sqdist(data, i, r.centroids, r.labels[i]!, d);
        expect(mine).toBeLessThanOrEqual(best * (1 + 1e-4) + 1e-4);
        inertia += mine;
      }
      expect(Math.abs(inertia - r.inertia) / inertia).toBeLessThan(1e-3);
    }
  });

  it('never increases inertia between iterations', async () => {
    const { data } = planted(5000, 8, 20, 2, 1);
    const r = await kmeans(data, { dim: 8, k: 20, maxIterations: 50, tolerance: 0, init: 'random', seed: 1 });
    expect(r.history.length).toBe(r.iterations);
    for (let i = 1; i < r.history.length; i++) expect(r.history[i]!).toBeLessThanOrEqual(r.history[i - 1]! * (1 + 1e-6));
  });

  it('agrees between the portable and AVX2 kernels within tolerance', async () => {
    if (kernels().length < 2) return;
    const { data } = planted(4000, 33, 17, 4, 3);
    const centroids = data.slice(0, 17 * 33);
    const a = await kmeans(data, { dim: 33, k: 17, maxIterations: 10, tolerance: 0, centroids, kernel: 'portable' });
    const b = await kmeans(data, { dim: 33, k: 17, maxIterations: 10, tolerance: 0, centroids, kernel: 'avx2' });
    expect(Math.abs(a.inertia - b.inertia) / a.inertia).toBeLessThan(1e-4);
    let same = 0;
    for (let i = 0; i < a.labels.length; i++) same += a.labels[i] === b.labels[i] ? 1 : 0;
    expect(same / a.labels.length).toBeGreaterThan(0.999);
  });

  it('is deterministic for a seed and thread count', async () => {
    const { data } = planted(2000, 4, 5, 5, 2);
    const a = await kmeans(data, { dim: 4, k: 5, seed: 9, threads: 2 });
    const b = await kmeans(data, { dim: 4, k: 5, seed: 9, threads: 2 });
    expect(Array.from(a.labels)).toEqual(Array.from(b.labels));
    expect(Array.from(a.centroids)).toEqual(Array.from(b.centroids));
    expect(a.inertia).toBe(b.inertia);
  });

  it('reseeds empty clusters and handles k = n and duplicate points', async () => {
    const data = new Float32Array([0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 5, 5]); // 6 points in 2-D, many duplicates
    const r = await kmeans(data, { dim: 2, k: 3, seed: 1 });
    expect(r.inertia).toBeCloseTo(0, 5);
    const all = await kmeans(new Float32Array([1, 2, 3]), { dim: 1, k: 3 });
    expect(all.inertia).toBeCloseTo(0, 6);
    expect(new Set(all.labels).size).toBe(3);
    const same = await kmeans(new Float32Array(20).fill(2), { dim: 2, k: 4, init: 'random' });
    expect(same.inertia).toBe(0);
  });

  it('reports progress and can be aborted', async () => {
    const { data } = planted(20000, 16, 32, 6, 1);
    const events: Progress[] = [];
    await kmeans(data, { dim: 16, k: 32, maxIterations: 5, tolerance: 0, onProgress: (p) => events.push(p) });
    expect(events.length).toBe(5);
    expect(events[0]).toMatchObject({ stage: 'kmeans', done: 1, total: 5 });
    expect(events[4]!.value).toBeLessThanOrEqual(events[0]!.value);

    const ac = new AbortController();
    const reason = new Error('stop now');
    const p = kmeans(data, {
      dim: 16,
      k: 32,
      maxIterations: 10_000,
      tolerance: 0,
      signal: ac.signal,
      onProgress: (e) => {
        if (e.done === 2) ac.abort(reason);
      },
    });
    await expect(p).rejects.toBe(reason);
  });

  it('validates arguments with named errors', async () => {
    const data = new Float32Array(10);
    await expect(kmeans(data, { dim: 2, k: 6 })).rejects.toThrow(
      new RangeError('kmeans: options.k: expected an integer in [1, 5] (k ≤ n, the number of points), received 6'),
    );
    await expect(kmeans(data, { dim: 3, k: 1 })).rejects.toThrow(/data: expected a length divisible by options\.dim=3, received length 10/);
    await expect(kmeans(new Float32Array([1, Infinity]), { dim: 1, k: 1 })).rejects.toThrow(/received Infinity at index 1/);
    await expect(kmeans(new Float64Array(4) as unknown as Float32Array, { dim: 1, k: 1 })).rejects.toThrow(TypeError);
    await expect(kmeans(data, { dim: 2, k: 2, centroids: new Float32Array(3) })).rejects.toThrow(/options\.centroids: expected length 4/);
    await expect(kmeans(data, { dim: 2, k: 2, threads: -1 })).rejects.toThrow(/options\.threads/);
  });
});

describe.skipIf(!built)('silhouetteScore', () => {
  function reference(data: Float32Array, labels: Int32Array, d: number): number {
    const n = labels.length;
    let total = 0;
    for (let i = 0; i < n; i++) {
      const sums = new Map<number, [number, number]>();
      for (let j = 0; j < n; j++) {
        if (i === j) continue;
        let s = 0;
        for (let p = 0; p < d; p++) s += (data[i * d + p]! - data[j * d + p]!) ** 2;
        const e = sums.get(labels[j]!) ?? [0, 0];
        e[0] += Math.sqrt(s);
        e[1] += 1;
        sums.set(labels[j]!, e);
      }
      const own = sums.get(labels[i]!);
      if (!own) continue;
      const a = own[0] / own[1];
      let b = Infinity;
      for (const [c, [s, m]] of sums) if (c !== labels[i]) b = Math.min(b, s / m);
      total += (b - a) / Math.max(a, b);
    }
    return total / n;
  }

  it('matches a reference on a small sample and is high for planted clusters', async () => {
    const { data, truth } = planted(300, 3, 4, 7, 5);
    const s = await silhouetteScore(data, truth, { dim: 3, sampleSize: 0 });
    expect(s).toBeCloseTo(reference(data, truth, 3), 4);
    expect(s).toBeGreaterThan(0.8);
    const sampled = await silhouetteScore(data, truth, { dim: 3, sampleSize: 100, seed: 2 });
    expect(Math.abs(sampled - s)).toBeLessThan(0.1);
  });
});

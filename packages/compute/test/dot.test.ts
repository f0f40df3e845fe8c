import { describe, expect, it } from 'vitest';

import { cpuFeatures, dotBatch } from '../src/index.js';
import { built, randomMatrix } from './helpers.js';

function referenceDots(q: Float32Array, m: Float32Array, dim: number): Float64Array {
  const nq = q.length / dim;
  const rows = m.length / dim;
  const out = new Float64Array(nq * rows);
  for (let a = 0; a < nq; a++)
    for (let j = 0; j < rows; j++) {
      let s = 0;
      for (let p = 0; p < dim; p++) s += q[a * dim + p]! * m[j * dim + p]!;
      out[a * rows + j] = s;
    }
  return out;
}

describe.skipIf(!built)('dotBatch', () => {
  it('reports CPU features', () => {
    const f = cpuFeatures();
    expect(f.kernel === 'avx2').toBe(f.avx2 && f.fma && process.env.CLIENTELE_NATIVE_KERNEL !== 'portable');
    expect(f.threads).toBeGreaterThan(0);
  });

  for (const dim of [1, 3, 8, 17, 64]) {
    it(`matches a reference for dim=${dim} on both kernels`, async () => {
      const q = randomMatrix(5, dim, 1);
      const m = randomMatrix(203, dim, 2);
      const ref = referenceDots(q, m, dim);
      const kernels = cpuFeatures().avx2 && cpuFeatures().fma ? (['portable', 'avx2'] as const) : (['portable'] as const);
      for (const kernel of kernels) {
        const out = await dotBatch(q, m, { dim, kernel, threads: 2 });
        expect(out.length).toBe(ref.length);
        for (let i = 0; i < ref.length; i++) expect(Math.abs(out[i]! - ref[i]!)).toBeLessThan(1e-5 * (1 + dim));
      }
    });
  }

  it('handles empty inputs', async () => {
    expect((await dotBatch(new Float32Array(0), randomMatrix(4, 2, 3), { dim: 2 })).length).toBe(0);
  });

  it('validates arguments with named errors', async () => {
    const m = randomMatrix(4, 2, 3);
    await expect(dotBatch([1, 2] as unknown as Float32Array, m, { dim: 2 })).rejects.toThrow(
      new TypeError('dotBatch: queries: expected a Float32Array, received an array of length 2'),
    );
    await expect(dotBatch(new Float32Array(3), m, { dim: 2 })).rejects.toThrow(
      new RangeError('dotBatch: queries: expected a length divisible by options.dim=2, received length 3'),
    );
    await expect(dotBatch(new Float32Array([NaN, 1]), m, { dim: 2 })).rejects.toThrow(
      /queries: expected finite numbers \(no NaN or Infinity\), received NaN at index 0/,
    );
    await expect(dotBatch(new Float32Array(2), m, { dim: 0 })).rejects.toThrow(RangeError);
    await expect(dotBatch(new Float32Array(2), m, { dim: 2, kernel: 'sse' as never })).rejects.toThrow(
      /options\.kernel: expected one of 'auto', 'portable', 'avx2', received 'sse'/,
    );
  });

  it('rejects with the abort reason when the signal is already aborted', async () => {
    const ac = new AbortController();
    ac.abort(new Error('stop'));
    await expect(dotBatch(new Float32Array(2), new Float32Array(2), { dim: 2, signal: ac.signal })).rejects.toThrow('stop');
  });
});

import { describe, expect, it } from 'vitest';
import { decodeArtifact, Explainer } from '../src/index.js';
import { syntheticArtifact } from './synthetic.js';

// Reasons are parts of the score worked out from the factors; these two cases are small enough
// to invert A by hand (2×2), so the expected parts are fractions written out below.

describe('Explainer on hand-worked cases', () => {
  it('splits an implicit score into c_j · y_jᵀ A⁻¹ y_i per seen item', () => {
    // Items y0 = (1, 0), y1 = (0, 1), y2 = (1, 1); YᵀY = [[2, 1], [1, 2]]. The customer has
    // weights 1 (item 0) and 3 (item 1): c = 2 and 4 with α = 1. λ = 0.1 · (2 pairs + 8)¹ = 1.
    // A = YᵀY + I + 1·y0y0ᵀ + 3·y1y1ᵀ = [[4, 1], [1, 6]], det 23, A⁻¹ = [[6, −1], [−1, 4]] / 23.
    // For item 2: A⁻¹y2 = (5, 3) / 23, so item 0 gives 2 · 5/23 and item 1 gives 4 · 3/23.
    const itemFactors = Float32Array.of(1, 0, 0, 1, 1, 1);
    const model = decodeArtifact(
      syntheticArtifact({
        factors: 2,
        userFactors: new Float32Array(2),
        itemFactors,
        userIds: Float64Array.of(1),
        itemIds: Float64Array.of(10, 11, 12),
        regularizationExponent: 1,
        regularizationOffset: 8,
        seen: { indptr: Int32Array.of(0, 2), items: Int32Array.of(0, 1), values: Float32Array.of(1, 3) },
      }),
    );
    const parts = new Explainer(model, 0, { data: itemFactors, stride: 2 }).contributions(2);
    expect(parts.map((p) => p.row)).toEqual([1, 0]);
    expect(parts[0]?.weight).toBeCloseTo(12 / 23, 6);
    expect(parts[1]?.weight).toBeCloseTo(10 / 23, 6);
    // Their sum is the score of the customer's vector recomputed from these items: x = A⁻¹(2y0 + 4y1) = (8, 14)/23, x·y2 = 22/23.
    expect((parts[0]?.weight ?? 0) + (parts[1]?.weight ?? 0)).toBeCloseTo(22 / 23, 6);
  });

  it('splits an explicit score into t_j · z_jᵀ A⁻¹ [y_i, 0], leaving out parts that lower it', () => {
    // One factor: y = (1, 2, 0.5), item biases (0.1, −0.2, 0), μ = 3. The customer rated item 0
    // 4 and item 1 2: t = 4 − 3 − 0.1 = 0.9 and 2 − 3 + 0.2 = −0.8; z0 = (1, 1), z1 = (2, 1).
    // A = z0z0ᵀ + z1z1ᵀ + diag(0.1 · 2, 10) = [[5.2, 3], [3, 12]], det 53.4.
    // For item 2: A⁻¹(0.5, 0) = (6, −1.5) / 53.4, so item 0 gives 0.9 · 4.5/53.4 and item 1
    // −0.8 · 10.5/53.4 (negative: not a reason).
    const itemFactors = Float32Array.of(1, 2, 0.5);
    const model = decodeArtifact(
      syntheticArtifact({
        factors: 1,
        userFactors: new Float32Array(1),
        itemFactors,
        userIds: Float64Array.of(1),
        itemIds: Float64Array.of(10, 11, 12),
        bias: { user: new Float32Array(1), item: Float32Array.of(0.1, -0.2, 0), globalMean: 3 },
        seen: { indptr: Int32Array.of(0, 2), items: Int32Array.of(0, 1), values: Float32Array.of(4, 2) },
      }),
    );
    // Serving's rows: [y, b] per item.
    const rows = Float32Array.of(1, 0.1, 2, -0.2, 0.5, 0);
    const parts = new Explainer(model, 0, { data: rows, stride: 2 }).contributions(2);
    expect(parts).toHaveLength(1);
    expect(parts[0]?.row).toBe(0);
    expect(parts[0]?.weight).toBeCloseTo((0.9 * 4.5) / 53.4, 6);
    expect(parts[0]?.type).toBe('rating');
  });
});

import type { ModelArtifact } from './artifact.js';

// Why an item was recommended, from the factors. In both models a customer's vector is a linear
// function of their own items (one ALS half-step), so each score splits exactly into one part
// per item the customer has:
//   implicit (Hu, Koren & Volinsky 2008): x = A⁻¹ Σ_j c_j y_j, A = YᵀY + λI + Σ_j (c_j − 1) y_j y_jᵀ,
//     so the part of item j in the score of i is c_j · y_jᵀ A⁻¹ y_i  (c_j = 1 + α·weight_j);
//   explicit (biased MF): [x, b_u] = A⁻¹ Σ_j t_j z_j with z_j = [y_j, 1], t_j = r_j − μ − b_j,
//     A = Σ_j z_j z_jᵀ + diag(λ·n, …, λ·n, 10), so the part of j is t_j · z_jᵀ A⁻¹ [y_i, 0].
// A is factored once per customer (Cholesky) and reused for every recommended item.

export interface Contribution {
  /** Item row in the model. */
  row: number;
  /** The part of the score owed to this item. */
  weight: number;
  /** The pair's strongest interaction type (purchase, rating, view, …). */
  type: string;
}

/**
 * Item factor rows as read here: `stride` values per row, of which the first `factors` are the
 * item's factors (serving passes the matrix it scores: explicit rows carry the bias after them).
 */
export interface ItemRows {
  data: Float32Array;
  stride: number;
}

/** What explanations read of a model: everything but the stored item matrix (see ItemRows). */
export type ExplainedModel = Omit<ModelArtifact, 'itemFactors'>;

const EXPLICIT_BIAS_REGULARIZATION = 10; // trainExplicit's default, used in training

/** In-place Cholesky of a symmetric positive-definite n×n matrix (lower triangle); false if not SPD. */
function cholesky(a: Float64Array, n: number): boolean {
  for (let j = 0; j < n; j++) {
    let d = a[j * n + j] ?? 0;
    for (let k = 0; k < j; k++) d -= (a[j * n + k] ?? 0) ** 2;
    if (!(d > 0)) return false;
    const l = Math.sqrt(d);
    a[j * n + j] = l;
    for (let i = j + 1; i < n; i++) {
      let s = a[i * n + j] ?? 0;
      for (let k = 0; k < j; k++) s -= (a[i * n + k] ?? 0) * (a[j * n + k] ?? 0);
      a[i * n + j] = s / l;
    }
  }
  return true;
}

function solve(l: Float64Array, n: number, b: Float64Array): Float64Array {
  const y = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    let s = b[i] ?? 0;
    for (let k = 0; k < i; k++) s -= (l[i * n + k] ?? 0) * (y[k] ?? 0);
    y[i] = s / (l[i * n + i] ?? 1);
  }
  for (let i = n - 1; i >= 0; i--) {
    let s = y[i] ?? 0;
    for (let k = i + 1; k < n; k++) s -= (l[k * n + i] ?? 0) * (y[k] ?? 0);
    y[i] = s / (l[i * n + i] ?? 1);
  }
  return y;
}

/** Explanations for one customer (a model row): build once, ask for any number of items. */
export class Explainer {
  private readonly factor: Float64Array | null;
  private readonly n: number;
  private readonly seen: Int32Array;
  private readonly coefficients: Float64Array;
  private readonly from: number;

  constructor(
    private readonly model: ExplainedModel,
    userRow: number,
    private readonly items: ItemRows,
  ) {
    const f = model.factors;
    if (!Number.isInteger(items.stride) || items.stride < f) throw new RangeError(`Explainer: items.stride: expected a whole number ≥ factors=${f}, got ${items.stride}`);
    const { data: rows, stride } = items;
    const from = model.seenIndptr[userRow] ?? 0;
    const to = model.seenIndptr[userRow + 1] ?? from;
    this.from = from;
    this.seen = model.seenItems.subarray(from, to);
    const values = model.seenValues.subarray(from, to);
    const explicit = model.kind === 'explicit';
    const n = explicit ? f + 1 : f;
    this.n = n;
    const a = new Float64Array(n * n);
    this.coefficients = new Float64Array(this.seen.length);
    const z = new Float64Array(n);
    if (!explicit) {
      a.set(model.gram);
      // The customer's own λ, as training scaled it by the customer's number of pairs.
      const lambda = model.regularization * (model.regularizationExponent > 0 ? (this.seen.length + model.regularizationOffset) ** model.regularizationExponent : 1);
      for (let j = 0; j < f; j++) a[j * n + j] = (a[j * n + j] ?? 0) + lambda;
    } else {
      for (let j = 0; j < f; j++) a[j * n + j] = model.regularization * this.seen.length;
      a[f * n + f] = EXPLICIT_BIAS_REGULARIZATION;
    }
    this.seen.forEach((item, p) => {
      const v = values[p] ?? 0;
      for (let j = 0; j < f; j++) z[j] = rows[item * stride + j] ?? 0;
      if (explicit) z[f] = 1;
      // implicit: A gets (c − 1) y yᵀ and the part is c·(…); explicit: A gets z zᵀ, the part t·(…).
      const w = explicit ? 1 : model.alpha * v;
      this.coefficients[p] = explicit ? v - model.globalMean - (model.itemBias?.[item] ?? 0) : 1 + model.alpha * v;
      if (w === 0) return;
      for (let r = 0; r < n; r++) {
        const zr = (z[r] ?? 0) * w;
        if (zr === 0) continue;
        for (let c = 0; c <= r; c++) a[r * n + c] = (a[r * n + c] ?? 0) + zr * (z[c] ?? 0);
      }
    });
    for (let r = 0; r < n; r++) for (let c = r + 1; c < n; c++) a[r * n + c] = a[c * n + r] ?? 0;
    this.factor = this.seen.length > 0 && cholesky(a, n) ? a : null;
  }

  /** The customer's items that contributed most (positively) to the score of `itemRow`, largest first. */
  contributions(itemRow: number, limit = 3): Contribution[] {
    if (!this.factor) return [];
    const { model, n } = this;
    const f = model.factors;
    const { data: rows, stride } = this.items;
    const target = new Float64Array(n);
    for (let j = 0; j < f; j++) target[j] = rows[itemRow * stride + j] ?? 0;
    const w = solve(this.factor, n, target);
    const parts: Contribution[] = [];
    this.seen.forEach((item, p) => {
      let dot = 0;
      for (let j = 0; j < f; j++) dot += (rows[item * stride + j] ?? 0) * (w[j] ?? 0);
      if (model.kind === 'explicit') dot += w[f] ?? 0;
      const weight = (this.coefficients[p] ?? 0) * dot;
      if (weight > 0) parts.push({ row: item, weight, type: model.types[model.seenTypes[this.from + p] ?? 0] ?? 'interaction' });
    });
    parts.sort((a, b) => b.weight - a.weight || a.row - b.row);
    return parts.slice(0, limit);
  }
}

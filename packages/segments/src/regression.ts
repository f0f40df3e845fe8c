// The two regressions behind the scores, in TypeScript: they work on a handful of standardised
// features, so each pass over the rows is a small dense update and the solves are (d+1)×(d+1).
//
// - Logistic regression with an L2 penalty on the weights (not the intercept), fitted by
//   Newton's method (IRLS) with step halving: deterministic, no learning rate, a few passes.
// - Linear regression with a ridge penalty, by the normal equations (one pass, one solve).

export interface RegressionOptions {
  /** L2 penalty λ on the weights: minimises loss + λ/2·‖w‖² (loss summed over rows). */
  l2?: number;
  maxIterations?: number;
  /** Stop when no parameter moves by more than this. */
  tolerance?: number;
}

export interface LinearModel {
  weights: Float64Array;
  intercept: number;
}

export interface LogisticFit extends LinearModel {
  iterations: number;
  converged: boolean;
  /** Mean log loss on the training rows at the end. */
  loss: number;
}

/**
 * Solves A·x = b for a symmetric positive definite A (size m, row-major) by Cholesky. A ridge
 * is added when rounding makes A look indefinite.
 */
export function solveSymmetric(a: Float64Array, b: Float64Array, m: number): Float64Array {
  for (let jitter = 0; jitter < 8; jitter++) {
    const l = new Float64Array(m * m);
    const bump = jitter === 0 ? 0 : 1e-10 * 10 ** jitter;
    let ok = true;
    for (let i = 0; i < m && ok; i++) {
      for (let j = 0; j <= i; j++) {
        let sum = a[i * m + j]! + (i === j ? bump : 0);
        for (let k = 0; k < j; k++) sum -= l[i * m + k]! * l[j * m + k]!;
        if (i === j) {
          if (!(sum > 0)) {
            ok = false;
            break;
          }
          l[i * m + i] = Math.sqrt(sum);
        } else {
          l[i * m + j] = sum / l[j * m + j]!;
        }
      }
    }
    if (!ok) continue;
    const y = new Float64Array(m);
    for (let i = 0; i < m; i++) {
      let sum = b[i]!;
      for (let k = 0; k < i; k++) sum -= l[i * m + k]! * y[k]!;
      y[i] = sum / l[i * m + i]!;
    }
    const x = new Float64Array(m);
    for (let i = m - 1; i >= 0; i--) {
      let sum = y[i]!;
      for (let k = i + 1; k < m; k++) sum -= l[k * m + i]! * x[k]!;
      x[i] = sum / l[i * m + i]!;
    }
    return x;
  }
  throw new Error('the regression system is singular even with a ridge; check the features');
}

const sigmoid = (z: number) => (z >= 0 ? 1 / (1 + Math.exp(-z)) : Math.exp(z) / (1 + Math.exp(z)));

function logLossAt(x: Float64Array, y: ArrayLike<number>, n: number, d: number, w: Float64Array, b: number, l2: number): number {
  let loss = 0;
  for (let i = 0; i < n; i++) {
    let z = b;
    for (let j = 0; j < d; j++) z += x[i * d + j]! * w[j]!;
    // log(1 + e^z) − y·z, computed without overflow.
    loss += (z > 0 ? z + Math.log1p(Math.exp(-z)) : Math.log1p(Math.exp(z))) - y[i]! * z;
  }
  let penalty = 0;
  for (let j = 0; j < d; j++) penalty += w[j]! * w[j]!;
  return loss + (l2 / 2) * penalty;
}

/** L2-regularised logistic regression on an n×d row-major matrix and 0/1 labels. */
export function fitLogistic(x: Float64Array, y: ArrayLike<number>, n: number, d: number, options: RegressionOptions = {}): LogisticFit {
  const l2 = options.l2 ?? 1;
  const maxIterations = options.maxIterations ?? 50;
  const tolerance = options.tolerance ?? 1e-8;
  const m = d + 1; // weights then the intercept
  let w = new Float64Array(d);
  let positives = 0;
  for (let i = 0; i < n; i++) positives += y[i]!;
  // Start from the base rate: the intercept-only optimum.
  const rate = Math.min(1 - 1e-6, Math.max(1e-6, positives / Math.max(1, n)));
  let b = Math.log(rate / (1 - rate));
  let loss = logLossAt(x, y, n, d, w, b, l2);
  let iterations = 0;
  let converged = false;
  const gradient = new Float64Array(m);
  const hessian = new Float64Array(m * m);
  const row = new Float64Array(m);
  while (iterations < maxIterations && !converged) {
    iterations++;
    gradient.fill(0);
    hessian.fill(0);
    for (let i = 0; i < n; i++) {
      let z = b;
      for (let j = 0; j < d; j++) {
        row[j] = x[i * d + j]!;
        z += row[j]! * w[j]!;
      }
      row[d] = 1;
      const p = sigmoid(z);
      const residual = p - y[i]!;
      const weight = Math.max(p * (1 - p), 1e-12);
      for (let j = 0; j < m; j++) {
        const rj = row[j]!;
        gradient[j] = gradient[j]! + residual * rj;
        const wj = weight * rj;
        for (let k = 0; k <= j; k++) hessian[j * m + k] = hessian[j * m + k]! + wj * row[k]!;
      }
    }
    for (let j = 0; j < m; j++) for (let k = 0; k < j; k++) hessian[k * m + j] = hessian[j * m + k]!;
    for (let j = 0; j < d; j++) {
      gradient[j] = gradient[j]! + l2 * w[j]!;
      hessian[j * m + j] = hessian[j * m + j]! + l2;
    }
    const step = solveSymmetric(hessian, gradient, m);
    // Newton step, halved while it does not lower the penalised loss.
    let scale = 1;
    let nextW = w;
    let nextB = b;
    let nextLoss = loss;
    for (let halving = 0; halving < 30; halving++) {
      nextW = w.map((v, j) => v - scale * step[j]!);
      nextB = b - scale * step[d]!;
      nextLoss = logLossAt(x, y, n, d, nextW, nextB, l2);
      if (nextLoss <= loss + 1e-12 * Math.max(1, Math.abs(loss))) break;
      scale /= 2;
    }
    let largest = 0;
    for (let j = 0; j < m; j++) largest = Math.max(largest, Math.abs(scale * step[j]!));
    w = nextW;
    b = nextB;
    loss = nextLoss;
    if (largest < tolerance) converged = true;
  }
  let unpenalised = 0;
  for (let i = 0; i < n; i++) {
    let z = b;
    for (let j = 0; j < d; j++) z += x[i * d + j]! * w[j]!;
    const p = Math.min(1 - 1e-15, Math.max(1e-15, sigmoid(z)));
    unpenalised -= y[i]! * Math.log(p) + (1 - y[i]!) * Math.log(1 - p);
  }
  return { weights: w, intercept: b, iterations, converged, loss: n > 0 ? unpenalised / n : 0 };
}

/** Ridge regression (the intercept is not penalised) by the normal equations. */
export function fitLinear(x: Float64Array, y: ArrayLike<number>, n: number, d: number, options: RegressionOptions = {}): LinearModel {
  const l2 = options.l2 ?? 1;
  const m = d + 1;
  const a = new Float64Array(m * m);
  const rhs = new Float64Array(m);
  const row = new Float64Array(m);
  for (let i = 0; i < n; i++) {
    for (let j = 0; j < d; j++) row[j] = x[i * d + j]!;
    row[d] = 1;
    const yi = y[i]!;
    for (let j = 0; j < m; j++) {
      const rj = row[j]!;
      rhs[j] = rhs[j]! + rj * yi;
      for (let k = 0; k <= j; k++) a[j * m + k] = a[j * m + k]! + rj * row[k]!;
    }
  }
  for (let j = 0; j < m; j++) for (let k = 0; k < j; k++) a[k * m + j] = a[j * m + k]!;
  for (let j = 0; j < d; j++) a[j * m + j] = a[j * m + j]! + l2;
  const solution = solveSymmetric(a, rhs, m);
  return { weights: solution.slice(0, d), intercept: solution[d]! };
}

/** x·w + b for each row. */
export function linearPredict(model: LinearModel, x: Float64Array, n: number, d: number): Float64Array {
  const out = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    let z = model.intercept;
    for (let j = 0; j < d; j++) z += x[i * d + j]! * model.weights[j]!;
    out[i] = z;
  }
  return out;
}

export function logisticPredict(model: LinearModel, x: Float64Array, n: number, d: number): Float64Array {
  return linearPredict(model, x, n, d).map(sigmoid);
}

// ---- metrics -----------------------------------------------------------------------------

/** Area under the ROC curve (ties share ranks); NaN when one class is missing. */
export function rocAuc(scores: ArrayLike<number>, labels: ArrayLike<number>): number {
  const n = scores.length;
  const order = Array.from({ length: n }, (_, i) => i).sort((a, b) => scores[a]! - scores[b]!);
  let positives = 0;
  let rankSum = 0;
  for (let start = 0; start < n; ) {
    let end = start;
    while (end + 1 < n && scores[order[end + 1]!] === scores[order[start]!]) end++;
    const averageRank = (start + end) / 2 + 1;
    for (let r = start; r <= end; r++) {
      if (labels[order[r]!] === 1) {
        positives++;
        rankSum += averageRank;
      }
    }
    start = end + 1;
  }
  const negatives = n - positives;
  if (positives === 0 || negatives === 0) return Number.NaN;
  return (rankSum - (positives * (positives + 1)) / 2) / (positives * negatives);
}

/** Mean log loss of probabilities (clamped to [1e-15, 1 − 1e-15]). */
export function logLoss(probabilities: ArrayLike<number>, labels: ArrayLike<number>): number {
  let sum = 0;
  for (let i = 0; i < probabilities.length; i++) {
    const p = Math.min(1 - 1e-15, Math.max(1e-15, probabilities[i]!));
    sum -= labels[i]! * Math.log(p) + (1 - labels[i]!) * Math.log(1 - p);
  }
  return probabilities.length > 0 ? sum / probabilities.length : 0;
}

export interface CalibrationBin {
  /** Range of predicted probabilities in the bin. */
  lower: number;
  upper: number;
  count: number;
  meanPredicted: number;
  observedRate: number;
}

/** Predictions cut into (up to) `bins` groups of equal size by predicted probability. */
export function calibrationTable(probabilities: ArrayLike<number>, labels: ArrayLike<number>, bins = 10): CalibrationBin[] {
  const n = probabilities.length;
  const order = Array.from({ length: n }, (_, i) => i).sort((a, b) => probabilities[a]! - probabilities[b]!);
  const table: CalibrationBin[] = [];
  for (let bin = 0; bin < bins; bin++) {
    const from = Math.floor((bin * n) / bins);
    const to = Math.floor(((bin + 1) * n) / bins);
    if (to <= from) continue;
    let predicted = 0;
    let observed = 0;
    for (let r = from; r < to; r++) {
      predicted += probabilities[order[r]!]!;
      observed += labels[order[r]!]!;
    }
    table.push({
      lower: probabilities[order[from]!]!,
      upper: probabilities[order[to - 1]!]!,
      count: to - from,
      meanPredicted: predicted / (to - from),
      observedRate: observed / (to - from),
    });
  }
  return table;
}

export function rmse(predicted: ArrayLike<number>, actual: ArrayLike<number>): number {
  let sum = 0;
  for (let i = 0; i < predicted.length; i++) sum += (predicted[i]! - actual[i]!) ** 2;
  return predicted.length > 0 ? Math.sqrt(sum / predicted.length) : 0;
}

/** Coefficient of determination against the actual values' own mean. */
export function rSquared(predicted: ArrayLike<number>, actual: ArrayLike<number>): number {
  const n = actual.length;
  let mean = 0;
  for (let i = 0; i < n; i++) mean += actual[i]!;
  mean /= Math.max(1, n);
  let residual = 0;
  let total = 0;
  for (let i = 0; i < n; i++) {
    residual += (actual[i]! - predicted[i]!) ** 2;
    total += (actual[i]! - mean) ** 2;
  }
  return total > 0 ? 1 - residual / total : 0;
}

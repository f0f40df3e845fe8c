import { subset, type Dataset } from './data.js';
import type { SplitParams } from './params.js';
import { seededRandom } from '@clientele/compute';

// Held-out splits over the pairs of a dataset: a training part, a validation part (for tuning)
// and a test part (for the reported figures).

export interface Split {
  train: Dataset;
  validation: Dataset;
  test: Dataset;
  /** What was done, for the registry ("random 70/10/20", "temporal: last 30 days", …). */
  description: string;
}

/** The seeded generator used for splits and the random search (kept under its old name). */
export const random = seededRandom;

function part(data: Dataset, labels: Uint8Array, label: number): Dataset {
  const positions: number[] = [];
  labels.forEach((l, i) => {
    if (l === label) positions.push(i);
  });
  return subset(data, positions);
}

const TRAIN = 0;
const VALIDATION = 1;
const TEST = 2;

function finish(data: Dataset, labels: Uint8Array, description: string): Split {
  return { train: part(data, labels, TRAIN), validation: part(data, labels, VALIDATION), test: part(data, labels, TEST), description };
}

export function splitDataset(data: Dataset, params: SplitParams): Split {
  const n = data.userRows.length;
  const labels = new Uint8Array(n);
  if (params.method === 'random') {
    // A seeded shuffle: the first testFraction of the order is test, the next validationFraction validation.
    const next = random(params.seed);
    const order = Int32Array.from({ length: n }, (_, i) => i);
    for (let i = n - 1; i > 0; i--) {
      const j = Math.floor(next() * (i + 1));
      const t = order[i] ?? 0;
      order[i] = order[j] ?? 0;
      order[j] = t;
    }
    const nTest = Math.round(n * params.testFraction);
    const nValidation = Math.round(n * params.validationFraction);
    order.forEach((position, rank) => {
      labels[position] = rank < nTest ? TEST : rank < nTest + nValidation ? VALIDATION : TRAIN;
    });
    const pct = (x: number) => Math.round(x * 100);
    return finish(data, labels, `random ${pct(1 - params.testFraction - params.validationFraction)}/${pct(params.validationFraction)}/${pct(params.testFraction)} (train/validation/test), seed ${params.seed}`);
  }
  if (params.method === 'temporal') {
    let newest = -Infinity;
    for (const t of data.times) newest = Math.max(newest, t);
    const testFrom = newest - params.days * 86_400;
    const validationFrom = testFrom - params.days * 86_400;
    data.times.forEach((t, i) => {
      labels[i] = t > testFrom ? TEST : t > validationFrom ? VALIDATION : TRAIN;
    });
    return finish(data, labels, `temporal: test = the last ${params.days} days, validation = the ${params.days} days before`);
  }
  // Leave-last-out: each customer's latest pair is test, the one before it validation, when
  // the customer has at least three pairs (so something stays in training).
  const byUser = new Map<number, number[]>();
  data.userRows.forEach((u, i) => {
    let list = byUser.get(u);
    if (!list) byUser.set(u, (list = []));
    list.push(i);
  });
  for (const positions of byUser.values()) {
    if (positions.length < 3) continue;
    positions.sort((a, b) => (data.times[b] ?? 0) - (data.times[a] ?? 0) || b - a);
    labels[positions[0] ?? 0] = TEST;
    labels[positions[1] ?? 0] = VALIDATION;
  }
  return finish(data, labels, 'leave-last-out: each customer’s latest item is test, the one before validation (customers with 3+ items)');
}

/** Two parts as one dataset (train + validation, to fit before testing). */
export function concat(a: Dataset, b: Dataset): Dataset {
  const join = <T extends Int32Array | Float32Array | Float64Array | Uint8Array>(x: T, y: T, target: T): T => {
    target.set(x, 0);
    target.set(y, x.length);
    return target;
  };
  const n = a.userRows.length + b.userRows.length;
  return {
    ...a,
    userRows: join(a.userRows, b.userRows, new Int32Array(n)),
    itemRows: join(a.itemRows, b.itemRows, new Int32Array(n)),
    values: join(a.values, b.values, new Float32Array(n)),
    times: join(a.times, b.times, new Float64Array(n)),
    typeCodes: join(a.typeCodes, b.typeCodes, new Uint8Array(n)),
  };
}

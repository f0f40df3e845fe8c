// Small numeric helpers shared by segmentation and the score models.
import { seededRandom as mulberry32 } from '@clientele/compute';

/**
 * The shared seeded generator (mulberry32), with the seed mixed first so segmentation samples
 * do not follow the same stream as other users of the same seed.
 */
export function seededRandom(seed: number): () => number {
  return mulberry32(((seed >>> 0) ^ 0x9e3779b9) >>> 0);
}

/** `count` distinct indices from [0, n), in increasing order, chosen with the seed. */
export function sampleIndices(n: number, count: number, seed: number): Int32Array {
  if (count >= n) return Int32Array.from({ length: n }, (_, i) => i);
  const random = seededRandom(seed);
  // Partial Fisher–Yates over a lazily materialised permutation.
  const swapped = new Map<number, number>();
  const chosen = new Int32Array(count);
  for (let i = 0; i < count; i++) {
    const j = i + Math.floor(random() * (n - i));
    const atJ = swapped.get(j) ?? j;
    swapped.set(j, swapped.get(i) ?? i);
    chosen[i] = atJ;
  }
  return chosen.sort();
}

/** The k-th smallest value (0-based) of `values`, reordering them in place (quickselect). */
function select(values: Float64Array, k: number): number {
  let lo = 0;
  let hi = values.length - 1;
  while (hi > lo) {
    // Median of three as the pivot keeps sorted input from going quadratic.
    const mid = (lo + hi) >>> 1;
    const a = values[lo]!;
    const b = values[mid]!;
    const c = values[hi]!;
    const pivot = a < b ? (b < c ? b : a < c ? c : a) : a < c ? a : b < c ? c : b;
    let i = lo;
    let j = hi;
    while (i <= j) {
      while (values[i]! < pivot) i++;
      while (values[j]! > pivot) j--;
      if (i <= j) {
        const t = values[i]!;
        values[i] = values[j]!;
        values[j] = t;
        i++;
        j--;
      }
    }
    if (k <= j) hi = j;
    else if (k >= i) lo = i;
    else return values[k]!;
  }
  return values[k]!;
}

/** Median of the non-NaN values (NaN when there are none). Does not modify the input. */
export function median(values: ArrayLike<number>): number {
  const finite = new Float64Array(values.length);
  let n = 0;
  for (let i = 0; i < values.length; i++) {
    const v = values[i]!;
    if (!Number.isNaN(v)) finite[n++] = v;
  }
  if (n === 0) return Number.NaN;
  const view = finite.subarray(0, n);
  const upper = select(view, n >>> 1);
  if (n % 2 === 1) return upper;
  let lower = -Infinity;
  for (let i = 0; i < n >>> 1; i++) if (view[i]! > lower) lower = view[i]!;
  return (lower + upper) / 2;
}

/** Share of `population` below `value`, counting ties as half: a percentile rank in [0, 1]. */
export function percentileRank(population: ArrayLike<number>, value: number): number {
  let below = 0;
  let equal = 0;
  let n = 0;
  for (let i = 0; i < population.length; i++) {
    const v = population[i]!;
    if (Number.isNaN(v)) continue;
    n++;
    if (v < value) below++;
    else if (v === value) equal++;
  }
  return n === 0 ? 0.5 : (below + equal / 2) / n;
}

/**
 * Adjusted Rand index of two labelings of the same points: 1 for identical partitions (up to
 * renaming), about 0 for independent ones.
 */
export function adjustedRandIndex(a: ArrayLike<number>, b: ArrayLike<number>): number {
  if (a.length !== b.length) throw new RangeError(`adjustedRandIndex: labelings differ in length (${a.length} and ${b.length})`);
  const n = a.length;
  if (n < 2) return 1;
  const table = new Map<string, number>();
  const rows = new Map<number, number>();
  const cols = new Map<number, number>();
  for (let i = 0; i < n; i++) {
    const x = a[i]!;
    const y = b[i]!;
    const key = `${x}:${y}`;
    table.set(key, (table.get(key) ?? 0) + 1);
    rows.set(x, (rows.get(x) ?? 0) + 1);
    cols.set(y, (cols.get(y) ?? 0) + 1);
  }
  const pairs = (m: number) => (m * (m - 1)) / 2;
  let index = 0;
  for (const m of table.values()) index += pairs(m);
  let rowSum = 0;
  for (const m of rows.values()) rowSum += pairs(m);
  let colSum = 0;
  for (const m of cols.values()) colSum += pairs(m);
  const expected = (rowSum * colSum) / pairs(n);
  const max = (rowSum + colSum) / 2;
  if (max === expected) return 1;
  return (index - expected) / (max - expected);
}

import type { FeatureName, FeatureTable, FeatureTransform } from './features.js';
import { median } from './stats.js';

// From raw feature values to the standardised matrix k-means and the regressions work on:
// nulls filled with the population median, skewed counts and money log-transformed, then
// centred and scaled to unit variance. The fitted numbers are stored with a run or a model so
// the same mapping can be applied later.

export interface Preprocessing {
  features: FeatureName[];
  transforms: FeatureTransform[];
  /** Raw value used for a null (the median of the non-null values; 0 when all are null). */
  fill: number[];
  /** Mean and standard deviation after the transform (scale 1 for a constant column). */
  mean: number[];
  scale: number[];
  /** True when the column had a single value: it carries no information and standardises to 0. */
  constant: boolean[];
}

export function transformValue(value: number, transform: FeatureTransform): number {
  return transform === 'log' ? Math.log1p(Math.max(0, value)) : value;
}

function columnIndex(table: FeatureTable, name: FeatureName): number {
  const index = table.names.indexOf(name);
  if (index < 0) throw new Error(`feature table has no column '${name}'`);
  return index;
}

/** A column of the table as a new array (NaN for nulls). */
export function column(table: FeatureTable, name: FeatureName, rows?: ArrayLike<number>): Float64Array {
  const j = columnIndex(table, name);
  const width = table.names.length;
  const n = rows ? rows.length : table.customerIds.length;
  const out = new Float64Array(n);
  for (let r = 0; r < n; r++) {
    const i = rows ? rows[r]! : r;
    out[r] = table.values[i * width + j]!;
  }
  return out;
}

/** Fits fill values, means and scales on the table's rows (or the given subset of rows). */
export function fitPreprocessing(table: FeatureTable, features: FeatureName[], transforms: FeatureTransform[], rows?: ArrayLike<number>): Preprocessing {
  const fill: number[] = [];
  const mean: number[] = [];
  const scale: number[] = [];
  const constant: boolean[] = [];
  features.forEach((name, f) => {
    const transform = transforms[f] ?? 'none';
    const values = column(table, name, rows);
    const middle = median(values);
    const filler = Number.isNaN(middle) ? 0 : middle;
    let sum = 0;
    for (let i = 0; i < values.length; i++) {
      const v = transformValue(Number.isNaN(values[i]!) ? filler : values[i]!, transform);
      values[i] = v;
      sum += v;
    }
    const m = values.length > 0 ? sum / values.length : 0;
    let squares = 0;
    for (let i = 0; i < values.length; i++) squares += (values[i]! - m) ** 2;
    const sd = values.length > 0 ? Math.sqrt(squares / values.length) : 0;
    const isConstant = !(sd > 1e-12 * Math.max(1, Math.abs(m)));
    fill.push(filler);
    mean.push(m);
    scale.push(isConstant ? 1 : sd);
    constant.push(isConstant);
  });
  return { features: [...features], transforms: [...transforms], fill, mean, scale, constant };
}

/** One raw value → its standardised value under the fitted preprocessing. */
export function standardise(prep: Preprocessing, f: number, raw: number): number {
  if (prep.constant[f]) return 0;
  const value = transformValue(Number.isNaN(raw) ? prep.fill[f]! : raw, prep.transforms[f] ?? 'none');
  return (value - prep.mean[f]!) / prep.scale[f]!;
}

/** The standardised matrix (rows × features, row-major) for the table's rows or a subset. */
export function applyPreprocessing(table: FeatureTable, prep: Preprocessing, rows?: ArrayLike<number>): Float32Array {
  const d = prep.features.length;
  const n = rows ? rows.length : table.customerIds.length;
  const width = table.names.length;
  const columns = prep.features.map((name) => columnIndex(table, name));
  const out = new Float32Array(n * d);
  for (let r = 0; r < n; r++) {
    const i = rows ? rows[r]! : r;
    const base = i * width;
    for (let f = 0; f < d; f++) out[r * d + f] = standardise(prep, f, table.values[base + columns[f]!]!);
  }
  return out;
}

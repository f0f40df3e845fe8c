import { native } from './native.js';
import { commonOptions, runNative, type RunOptions } from './run.js';
import { Check } from './validate.js';

/** Interactions or ratings as COO triplets (parallel arrays). */
export interface Triplets {
  rows: Int32Array;
  cols: Int32Array;
  /** Defaults to all ones. */
  values?: Float32Array;
}

export interface CsrMatrix {
  rows: number;
  cols: number;
  /** rows + 1 offsets into indices/data. */
  indptr: Int32Array;
  /** Column of each entry, ascending within a row. */
  indices: Int32Array;
  data: Float32Array;
}

export interface BuildCsrOptions extends Omit<RunOptions, 'onProgress'> {
  nRows: number;
  nCols: number;
  /** What to do with repeated (row, col) pairs: add them up (default) or reject the input. */
  duplicates?: 'sum' | 'reject';
  /** Also build the transpose. */
  transpose?: boolean;
}

const MAX_INDEX = 2 ** 31 - 1;

/** Validates parallel COO arrays (shared by buildCsr and the trainers). */
export function checkTriplets(
  check: Check,
  names: { rows: string; cols: string; values: string; nRows: string; nCols: string },
  rows: unknown,
  cols: unknown,
  values: unknown,
  nRows: unknown,
  nCols: unknown,
  opts: { valuesRequired: boolean; nonNegative: boolean },
): { rows: Int32Array; cols: Int32Array; values?: Float32Array; nRows: number; nCols: number } {
  const r = check.int32(names.rows, rows);
  const c = check.int32(names.cols, cols);
  let v: Float32Array | undefined;
  if (values !== undefined || opts.valuesRequired) v = check.float32(names.values, values);
  const nr = check.integer(names.nRows, nRows, 0, MAX_INDEX);
  const nc = check.integer(names.nCols, nCols, 0, MAX_INDEX);
  check.length(names.cols, c, r.length, `one per entry of ${names.rows}`);
  if (v) check.length(names.values, v, r.length, `one per entry of ${names.rows}`);
  check.indices(names.rows, r, nr, names.nRows);
  check.indices(names.cols, c, nc, names.nCols);
  if (v) {
    if (opts.nonNegative) check.nonNegative(names.values, v);
    else check.finite(names.values, v);
  }
  return { rows: r, cols: c, ...(v ? { values: v } : {}), nRows: nr, nCols: nc };
}

/** Builds CSR (and optionally its transpose) from COO triplets, off the event loop. */
export async function buildCsr(
  triplets: Triplets,
  options: BuildCsrOptions,
): Promise<{ matrix: CsrMatrix; transpose?: CsrMatrix }> {
  const check = new Check('buildCsr');
  const t = check.object('triplets', triplets);
  const o = check.object('options', options);
  const coo = checkTriplets(
    check,
    { rows: 'triplets.rows', cols: 'triplets.cols', values: 'triplets.values', nRows: 'options.nRows', nCols: 'options.nCols' },
    t.rows,
    t.cols,
    t.values,
    o.nRows,
    o.nCols,
    { valuesRequired: false, nonNegative: false },
  );
  const duplicates = check.oneOf('options.duplicates', o.duplicates, ['sum', 'reject'] as const, 'sum');
  const transpose = check.boolean('options.transpose', o.transpose, false);
  const common = commonOptions(check, o);
  return runNative(o, (run) => native().buildCsr({ ...coo, duplicates, transpose, ...common, ...run }));
}

import { native } from './native.js';
import { commonOptions, runNative, type RunOptions } from './run.js';
import { Check } from './validate.js';

export interface DotBatchOptions extends RunOptions {
  /** Vector dimension: queries and matrix are row-major with this many columns. */
  dim: number;
}

/**
 * Scores of a batch of query vectors against every row of a matrix:
 * result[q·rows + j] = queries[q] · matrix[j]. Runs off the event loop.
 */
export async function dotBatch(
  queries: Float32Array,
  matrix: Float32Array,
  options: DotBatchOptions,
): Promise<Float32Array> {
  const check = new Check('dotBatch');
  check.float32('queries', queries);
  check.float32('matrix', matrix);
  const o = check.object('options', options);
  const dim = check.integer('options.dim', o.dim, 1, 1 << 20);
  const nq = check.rows('queries', queries, dim, 'options.dim');
  const rows = check.rows('matrix', matrix, dim, 'options.dim');
  if (nq * rows > 2 ** 31) throw check.rangeError('queries', 'queries × matrix rows ≤ 2^31 scores', `${nq} × ${rows}`);
  check.finite('queries', queries);
  check.finite('matrix', matrix);
  const common = commonOptions(check, o);
  return runNative(o, (run) => native().dotBatch({ queries, matrix, dim, ...common, ...run }));
}

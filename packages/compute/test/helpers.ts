import { isNativeBuilt } from '../src/index.js';
import { seededRandom } from '../src/random.js';

/** Tests need the compiled addon; without it they are skipped with a message. */
export const built = isNativeBuilt();
if (!built) console.warn('@clientele/compute tests skipped: the native addon is not built (run npm run build).');

/** The seeded generator, for test data. */
export const rng = seededRandom;

export function randn(r: () => number): number {
  const u = Math.max(r(), 1e-12);
  return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * r());
}

export function randomMatrix(rows: number, dim: number, seed: number): Float32Array {
  const r = rng(seed);
  const out = new Float32Array(rows * dim);
  for (let i = 0; i < out.length; i++) out[i] = r() * 2 - 1;
  return out;
}

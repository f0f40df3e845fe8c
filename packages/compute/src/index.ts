// @clientele/compute: the typed face of the native compute engine (@clientele/native).
// Every long call returns a Promise and runs on a worker thread; arguments are validated here
// (TypeError/RangeError naming the argument, what was expected and what was received) and again
// in C++.
export { NativeAddonMissingError, isNativeBuilt } from '@clientele/native';
export type { KernelName } from '@clientele/native';

export { cpuFeatures, type CpuFeatures } from './features.js';
export { dotBatch, type DotBatchOptions } from './dot.js';
export type { Progress, RunOptions } from './run.js';
export { buildCsr, type BuildCsrOptions, type CsrMatrix, type Triplets } from './sparse.js';
export {
  trainExplicit,
  trainImplicit,
  type ExplicitModel,
  type ExplicitOptions,
  type ImplicitModel,
  type ImplicitOptions,
  type Interactions,
  type Ratings,
} from './factorization.js';
export { kmeans, silhouetteScore, type KmeansOptions, type KmeansResult, type SilhouetteOptions } from './kmeans.js';
export {
  ItemScorer,
  type ItemScorerOptions,
  predictRatings,
  scorePairs,
  topK,
  type BatchExclusions,
  type ScorePairsOptions,
  type SimilarOptions,
  type TopKBatchOptions,
  type TopKBatchResult,
  type TopKOptions,
  type TopKResult,
} from './scoring.js';
export { FACTORS_FORMAT_VERSION, deserializeFactors, serializeFactors, type FactorModel } from './serialize.js';
export { seededRandom } from './random.js';

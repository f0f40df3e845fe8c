// @clientele/recommender: training data, splits, metrics, the popularity baseline, random
// search, the model registry, and the in-memory model server each API process holds.
export { IndexMap, InsufficientDataError, MINIMUM_DATA, checkEnoughData, datasetFromPairs, loadDataset, subset, type Dataset } from './data.js';
export {
  DEFAULT_WEIGHTS,
  MODEL_KINDS,
  SPLIT_METHODS,
  modelParamsOf,
  parseTrainingParams,
  primaryMetric,
  type ModelKind,
  type ModelParams,
  type SearchParams,
  type SplitMethod,
  type SplitParams,
  type TrainingParams,
} from './params.js';
export { concat, random, splitDataset, type Split } from './split.js';
export { rankingMetrics, rankingRecord, ratingMetrics, type RankingMetrics, type RatingMetrics } from './metrics.js';
export { evaluate, fit, itemsByUser, popularityOrder, type Evaluation, type FittedModel, type Metrics, type RunControl } from './train.js';
export { randomSearch, sampleParams, type SearchResult, type Trial } from './search.js';
export { ARTIFACT_FORMAT, ArtifactError, decodeArtifact, encodeArtifact, gramMatrix, sha256, type ModelArtifact } from './artifact.js';
export {
  ACTIVATION_CHANNEL,
  activateModelVersion,
  activationHistory,
  currentActivation,
  getModelVersion,
  listModelVersions,
  loadArtifact,
  requireModelVersion,
  rollbackModelVersion,
  saveModelVersion,
  type Activation,
  type ModelVersion,
  type ModelVersionPage,
  type NewModelVersion,
} from './registry.js';
export { beats, buildArtifact, incomparable, runTraining, type RunProgress, type TrainingRunOptions, type TrainingRunResult } from './pipeline.js';
export { Explainer, type Contribution, type ExplainedModel, type ItemRows } from './explain.js';
export {
  ModelServer,
  type BatchEntry,
  type ModelServerOptions,
  type Reason,
  type RecommendationFilter,
  type RecommendationList,
  type RecommendationResult,
  type RecommendationSource,
  type ServingLogger,
} from './serving.js';
export { TRAINING_JOB_KIND, enqueueTraining, registerTrainingJob, trainingJobHandler, type TrainingJobOptions } from './job.js';

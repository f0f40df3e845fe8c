import type { Database } from '@clientele/db';
import { activateModelVersion, encodeArtifact, gramMatrix, saveModelVersion } from '../src/index.js';

/**
 * An implicit model artifact from given factors and ids, with no seen items and no
 * popularity: what tests of loading and serving need, without training.
 */
export function syntheticArtifact(options: {
  factors: number;
  userFactors: Float32Array;
  itemFactors: Float32Array;
  userIds: Float64Array;
  itemIds: Float64Array;
  regularizationExponent?: number;
  regularizationOffset?: number;
}): Uint8Array {
  const { factors, userFactors, itemFactors, userIds, itemIds } = options;
  return encodeArtifact({
    kind: 'implicit',
    factors,
    userFactors,
    itemFactors,
    userBias: null,
    itemBias: null,
    globalMean: 0,
    alpha: 1,
    regularization: 0.1,
    regularizationExponent: options.regularizationExponent ?? 0,
    regularizationOffset: options.regularizationOffset ?? 0,
    userIds,
    itemIds,
    seenIndptr: new Int32Array(userIds.length + 1),
    seenItems: new Int32Array(0),
    seenValues: new Float32Array(0),
    seenTypes: new Uint8Array(0),
    types: ['view'],
    popularity: new Float32Array(itemIds.length),
    gram: gramMatrix(itemFactors, factors),
  });
}

/** Stores a synthetic implicit model as a new version and activates it; returns the version. */
export async function activateSynthetic(db: Database, artifact: Uint8Array, data: { customers: number; items: number; maxInteractionId: number }): Promise<number> {
  const version = await saveModelVersion(
    db,
    {
      kind: 'implicit',
      params: { synthetic: true },
      data: { ...data, pairs: 0, segments: [0] },
      metrics: {},
      primaryMetric: 'precision@10',
      primaryValue: null,
      search: null,
      trainingSeconds: 0,
      jobId: null,
      createdBy: 'test',
    },
    artifact,
  );
  await activateModelVersion(db, version.version, { type: 'system', name: 'test' });
  return version.version;
}

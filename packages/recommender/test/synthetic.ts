import type { Database } from '@clientele/db';
import { sql } from 'drizzle-orm';
import { activateModelVersion, encodeArtifact, gramMatrix, saveModelVersion } from '../src/index.js';

/**
 * A model artifact from given factors and ids, with no popularity and (unless given) no seen
 * items: what tests of loading and serving need, without training. Implicit unless biases are
 * given (then explicit, with ratings as the seen values).
 */
export function syntheticArtifact(options: {
  factors: number;
  userFactors: Float32Array;
  itemFactors: Float32Array;
  userIds: Float64Array;
  itemIds: Float64Array;
  regularizationExponent?: number;
  regularizationOffset?: number;
  bias?: { user: Float32Array; item: Float32Array; globalMean: number };
  seen?: { indptr: Int32Array; items: Int32Array; values: Float32Array };
}): Uint8Array {
  const { factors, userFactors, itemFactors, userIds, itemIds, bias, seen } = options;
  return encodeArtifact({
    kind: bias ? 'explicit' : 'implicit',
    factors,
    userFactors,
    itemFactors,
    userBias: bias?.user ?? null,
    itemBias: bias?.item ?? null,
    globalMean: bias?.globalMean ?? 0,
    alpha: bias ? 0 : 1,
    regularization: 0.1,
    regularizationExponent: options.regularizationExponent ?? 0,
    regularizationOffset: options.regularizationOffset ?? 0,
    userIds,
    itemIds,
    seenIndptr: seen?.indptr ?? new Int32Array(userIds.length + 1),
    seenItems: seen?.items ?? new Int32Array(0),
    seenValues: seen?.values ?? new Float32Array(0),
    seenTypes: new Uint8Array(seen?.items.length ?? 0),
    types: [bias ? 'rating' : 'view'],
    popularity: new Float32Array(itemIds.length),
    gram: gramMatrix(itemFactors, factors),
  });
}

/** Stores a synthetic model as a new version and activates it; returns the version. */
export async function activateSynthetic(db: Database, artifact: Uint8Array, data: { customers: number; items: number; maxInteractionId: number }, kind: 'implicit' | 'explicit' = 'implicit'): Promise<number> {
  const version = await saveModelVersion(
    db,
    {
      kind,
      params: { synthetic: true },
      data: { ...data, pairs: 0, segments: [0] },
      metrics: {},
      primaryMetric: kind === 'explicit' ? 'rmse' : 'precision@10',
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

/** Customers c0… and items i0… ('Item n'), inserted in order; their internal ids as model rows. */
export async function insertCustomersAndItems(db: Database, customers: number, items: number): Promise<{ userIds: Float64Array; itemIds: Float64Array }> {
  await db.execute(sql`INSERT INTO customers (external_id) SELECT 'c' || n FROM generate_series(0, ${customers - 1}) AS n`);
  await db.execute(sql`INSERT INTO items (external_id, title) SELECT 'i' || n, 'Item ' || n FROM generate_series(0, ${items - 1}) AS n`);
  const ids = async (table: 'customers' | 'items') => {
    const result = (await db.execute(sql`SELECT id FROM ${sql.identifier(table)} ORDER BY id`)) as unknown as { rows: { id: string | number }[] };
    return Float64Array.from(result.rows.map((r) => Number(r.id)));
  };
  return { userIds: await ids('customers'), itemIds: await ids('items') };
}

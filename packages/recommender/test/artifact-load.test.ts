import { createTestDatabase, type TestDatabase } from '@clientele/db/testing';
import { sql } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ArtifactError, loadArtifact, saveModelVersion } from '../src/index.js';
import { syntheticArtifact } from './synthetic.js';

// Artifacts are read back in slices (several here) and verified as a whole.

describe('loading a stored artifact', () => {
  let database: TestDatabase;
  let version: number;
  const items = 2_500;
  const f = 64; // 640 KB of item factors: three slices
  const itemFactors = Float32Array.from({ length: items * f }, (_, i) => Math.sin(i));

  beforeAll(async () => {
    database = await createTestDatabase();
    const artifact = syntheticArtifact({
      factors: f,
      userFactors: new Float32Array(f),
      itemFactors,
      userIds: Float64Array.of(1),
      itemIds: Float64Array.from({ length: items }, (_, i) => i + 1),
      regularizationExponent: 1,
      regularizationOffset: 100,
    });
    expect(artifact.length).toBeGreaterThan(2 * 256 * 1024);
    const saved = await saveModelVersion(
      database.db,
      { kind: 'implicit', params: {}, data: {}, metrics: {}, primaryMetric: 'precision@10', primaryValue: null, search: null, trainingSeconds: 0, jobId: null, createdBy: 'test' },
      artifact,
    );
    version = saved.version;
  });

  afterAll(async () => {
    await database?.close();
  });

  it('reads every slice back in order', async () => {
    const model = await loadArtifact(database.db, version);
    expect(model.itemFactors).toEqual(itemFactors);
    expect(model.regularizationOffset).toBe(100);
  });

  it('refuses an artifact whose bytes changed or were cut short', async () => {
    await database.db.execute(sql`UPDATE recommender_artifacts SET bytes = set_byte(bytes, 300000, (get_byte(bytes, 300000) + 1) % 256) WHERE version = ${version}`);
    await expect(loadArtifact(database.db, version)).rejects.toThrow(/checksum .* differs/);
    await database.db.execute(sql`UPDATE recommender_artifacts SET bytes = substring(bytes FROM 1 FOR 400000) WHERE version = ${version}`);
    await expect(loadArtifact(database.db, version)).rejects.toBeInstanceOf(ArtifactError);
    await expect(loadArtifact(database.db, version)).rejects.toThrow(/400000 bytes where \d+ were recorded/);
  });
});

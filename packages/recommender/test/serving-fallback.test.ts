import { seededRandom } from '@clientele/compute';
import { createTestDatabase, type TestDatabase } from '@clientele/db/testing';
import { sql } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ModelServer, type ServingLogger } from '../src/index.js';
import { activateSynthetic, insertCustomersAndItems, syntheticArtifact } from './synthetic.js';

// What a serving process loads when the newest activation cannot be: a corrupt artifact is
// refused and the version before it served, even by a process that starts afterwards; a load
// that failed for another reason is tried again.

const CUSTOMERS = 5;
const ITEMS = 50;
const F = 4;

function recordingLogger() {
  const lines: { level: string; msg: string }[] = [];
  const at = (level: string) => (_obj: object, msg?: string) => lines.push({ level, msg: msg ?? '' });
  const logger: ServingLogger = { info: at('info'), warn: at('warn'), error: at('error') };
  return { logger, lines };
}

describe('a serving process whose newest activation does not load', () => {
  let database: TestDatabase;
  const servers: ModelServer[] = [];
  let artifact: () => Uint8Array;
  const counts = { customers: CUSTOMERS, items: ITEMS, maxInteractionId: 0 };

  beforeAll(async () => {
    database = await createTestDatabase();
    const { userIds, itemIds } = await insertCustomersAndItems(database.db, CUSTOMERS, ITEMS);
    const random = seededRandom(3);
    artifact = () =>
      syntheticArtifact({
        factors: F,
        userFactors: Float32Array.from({ length: CUSTOMERS * F }, () => random() - 0.5),
        itemFactors: Float32Array.from({ length: ITEMS * F }, () => random() - 0.5),
        userIds,
        itemIds,
      });
  });

  afterAll(async () => {
    for (const s of servers) await s.stop();
    await database?.close();
  });

  const serve = (logger: ServingLogger) => {
    const server = new ModelServer(database, { pollMs: 60_000, catalogueMs: 60_000, logger });
    servers.push(server);
    return server;
  };

  it('serves the newest earlier version that loads when started after a corrupt activation', async () => {
    const good = await activateSynthetic(database.db, artifact(), counts);
    const alsoCorrupt = await activateSynthetic(database.db, artifact(), counts);
    const corrupt = await activateSynthetic(database.db, artifact(), counts);
    for (const v of [alsoCorrupt, corrupt]) {
      await database.db.execute(sql`UPDATE recommender_artifacts SET bytes = set_byte(bytes, 100, (get_byte(bytes, 100) + 1) % 256) WHERE version = ${v}`);
    }
    const { logger, lines } = recordingLogger();
    const server = serve(logger);
    await server.start();
    expect(server.activeVersion).toBe(good);
    expect(server.stats.refusedLoads).toBe(2);
    expect(lines.filter((l) => l.level === 'warn').map((l) => l.msg)).toEqual(['recommender model loaded from an earlier activation: the newest one was refused']);
    const list = await server.recommend('c1', 3);
    expect(list.modelVersion).toBe(good);
    expect(list.items).toHaveLength(3);
    // The refused activation is not read again at each refresh.
    await server.refresh();
    expect(server.stats.refusedLoads).toBe(2);
    expect(server.activeVersion).toBe(good);
  });

  it('tries a load that failed for another reason than corruption again', async () => {
    const next = await activateSynthetic(database.db, artifact(), counts);
    // The artifacts are unreadable for a moment (a database error, not a corrupt artifact).
    await database.db.execute(sql`ALTER TABLE recommender_artifacts RENAME TO recommender_artifacts_away`);
    const { logger, lines } = recordingLogger();
    const server = serve(logger);
    try {
      await server.start();
      expect(server.activeVersion).not.toBe(next);
      expect(lines.some((l) => l.level === 'warn' && l.msg === 'recommender model could not be loaded; trying again at the next refresh')).toBe(true);
    } finally {
      await database.db.execute(sql`ALTER TABLE recommender_artifacts_away RENAME TO recommender_artifacts`);
    }
    await server.refresh();
    expect(server.activeVersion).toBe(next);
    expect(server.stats.refusedLoads).toBe(0);
  });
});

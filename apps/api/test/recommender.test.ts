import { ModelServer, TRAINING_JOB_KIND } from '@clientele/recommender';
import { schema } from '@clientele/db';
import { eq, sql } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestApp, type TestApp } from './helpers.js';

// End to end: import (GraphQL batch writes) → train (job) → evaluate → activate → query over
// HTTP with an API key → activate another version → results change without a restart, in this
// process and in a second "process" (another ModelServer on the same database).

const CUSTOMERS = 60;
const ITEMS = 40;

function rng(seed: number) {
  let a = seed;
  return () => {
    a = (a * 1664525 + 1013904223) >>> 0;
    return a / 2 ** 32;
  };
}

/** Two taste groups: customers 1–30 like kitchen items (1–20), 31–60 garden items (21–40). */
function syntheticInteractions() {
  const next = rng(7);
  const rows: Record<string, unknown>[] = [];
  const day = 86_400_000;
  const start = Date.parse('2026-01-01T00:00:00Z');
  for (let c = 1; c <= CUSTOMERS; c++) {
    const kitchen = c <= 30;
    for (let n = 0; n < 12; n++) {
      const offset = kitchen ? 1 : 21;
      const item = offset + Math.floor(next() * 20);
      const type = next() < 0.3 ? 'purchase' : 'view';
      rows.push({ customerId: `c${c}`, itemId: `i${item}`, type, occurredAt: new Date(start + (n * 5 + c) * day / 10).toISOString() });
      rows.push({ customerId: `c${c}`, itemId: `i${item}`, type: 'rating', value: 4 + Math.round(next() * 2) / 2, occurredAt: new Date(start + (n * 5 + c) * day / 10 + 1000).toISOString() });
    }
    const other = (kitchen ? 21 : 1) + Math.floor(next() * 20);
    rows.push({ customerId: `c${c}`, itemId: `i${other}`, type: 'rating', value: 1 + Math.round(next() * 2) / 2, occurredAt: new Date(start + 10 * day + c * 1000).toISOString() });
  }
  // A return never counts as a purchase.
  rows.push({ customerId: 'c1', itemId: 'i40', type: 'purchase', quantity: -1, amount: -5, occurredAt: new Date(start + 11 * day).toISOString() });
  return rows;
}

type Json = Record<string, unknown>;

describe('recommendations end to end', () => {
  let app: TestApp;
  let write: string;
  let read: string;
  let other: ModelServer | null = null;

  const gql = async (query: string, variables: Json = {}, key = read) => {
    const r = await app.graphql(query, { key, variables });
    return r.body;
  };
  const train = async (input: Json) => {
    const body = await gql('mutation($input: TrainRecommenderInput!) { trainRecommender(input: $input) { id status kind } }', { input }, write);
    expect(body.errors).toBeUndefined();
    const job = (body.data?.['trainRecommender'] as { id: string }).id;
    return app.services.jobs.waitFor(job, { timeoutMs: 60_000 });
  };
  const recommend = async (customerId: string, extra: Json = {}) =>
    gql(
      'query($c: ID!, $first: Int, $filter: RecommendationFilter) { recommendations(customerId: $c, first: $first, filter: $filter) { item { id categories inStock } score source coldStart modelVersion reasons { item { id } weight interaction text } } }',
      { c: customerId, ...extra },
    );

  beforeAll(async () => {
    app = await startTestApp({ CLIENTELE_RECOMMENDER_POLL_MS: '200' });
    write = await app.key(['read', 'write']);
    read = await app.key(['read']);
    const items = Array.from({ length: ITEMS }, (_, i) => ({ id: `i${i + 1}`, title: `Item ${i + 1}`, categories: [i < 20 ? 'kitchen' : 'garden'], inStock: i % 5 !== 1 }));
    items.push({ id: 'i-new', title: 'Brand new kettle', categories: ['kitchen'], inStock: true });
    const upserted = await gql('mutation($items: [ItemInput!]!) { upsertItems(items: $items) { rejectedCount } }', { items }, write);
    expect(upserted.errors).toBeUndefined();
    const rows = syntheticInteractions();
    for (let i = 0; i < rows.length; i += 1000) {
      const body = await gql('mutation($rows: [InteractionInput!]!) { trackInteractions(interactions: $rows) { rejectedCount } }', { rows: rows.slice(i, i + 1000) }, write);
      expect(body.data?.['trackInteractions']).toEqual({ rejectedCount: 0 });
    }
    await gql('mutation { upsertCustomers(customers: [{ id: "newcomer", name: "New" }]) { rejectedCount } }', {}, write);
  });
  afterAll(async () => {
    other?.stop();
    await app?.close();
  });

  it('refuses training with too little data, naming the minimum', async () => {
    // Nobody added anything to a cart, so weighting only that type leaves no data.
    const job = await train({ kind: 'IMPLICIT', weights: [{ type: 'add_to_cart', weight: 3 }] });
    expect(job.status).toBe('failed');
    expect(job.attempts).toBe(1);
    expect(job.error).toBe('training an implicit model needs at least 20 (customer, item) pairs with usable interactions of a weighted type from at least 2 customers on at least 2 items; found 0 pairs from 0 customers on 0 items');
    const denied = await gql('mutation { trainRecommender(input: { kind: IMPLICIT }) { id } }', {}, read);
    expect(denied.errors?.[0]?.extensions?.code).toBe('FORBIDDEN');
    const badWeights = await gql('mutation { trainRecommender(input: { kind: IMPLICIT, weights: [{ type: "teleport", weight: 2 }] }) { id } }', {}, write);
    expect(badWeights.errors?.[0]?.extensions?.code).toBe('BAD_USER_INPUT');
    expect(badWeights.errors?.[0]?.message).toMatch(/weights: expected interaction types from view, click, add_to_cart, purchase, rating, got 'teleport'/);
  });

  it('trains, evaluates against the popularity baseline, activates, and serves over HTTP', async () => {
    // The same settings asked again while the job is queued or running share that job, the
    // defaults written out or not, in another order (other settings: the last test).
    const settings = 'factors: 8, iterations: 10, alpha: 5, regularization: 0.1, split: { method: LEAVE_LAST_OUT }, search: { trials: 3 }';
    const defaults = 'evaluationK: 10, weights: [{ type: "purchase", weight: 5 }, { type: "rating", weight: 1 }, { type: "view", weight: 1 }, { type: "click", weight: 1 }, { type: "add_to_cart", weight: 3 }]';
    const [a, again] = await Promise.all([
      gql(`mutation { trainRecommender(input: { kind: IMPLICIT, ${settings} }) { id } }`, {}, write),
      gql(`mutation { trainRecommender(input: { kind: IMPLICIT, ${defaults}, ${settings} }) { id } }`, {}, write),
    ]);
    const id = (a.data?.['trainRecommender'] as { id: string }).id;
    expect((again.data?.['trainRecommender'] as { id: string }).id).toBe(id);
    const job = await app.services.jobs.waitFor(id, { timeoutMs: 60_000 });
    expect(job.error).toBeNull();
    expect(job.status).toBe('completed');
    const listed = await gql(`{ trainingJobs { id kind status progress { stage done total } } trainingJob(id: "${id}") { result } }`);
    expect((listed.data?.['trainingJobs'] as { id: string }[]).some((j) => j.id === id)).toBe(true);
    const result = (listed.data?.['trainingJob'] as { result: Json }).result;
    expect(result['version']).toBe(1);
    expect((result['metrics'] as Json)['precision@10']).toBeGreaterThan(0);

    const models = await gql('{ recommenderModels { totalCount nodes { version kind active primaryMetric primaryValue metrics data search trainingSeconds artifactBytes } } }');
    const v1 = (models.data?.['recommenderModels'] as { nodes: Json[] }).nodes[0] ?? {};
    expect(v1).toMatchObject({ version: 1, kind: 'IMPLICIT', active: false, primaryMetric: 'precision@10' });
    expect(((v1['metrics'] as Json)['baseline'] as Json)['precision@10']).toBeTypeOf('number');
    expect(((v1['search'] as Json)['trials'] as unknown[]).length).toBe(3);
    expect((v1['data'] as Json)['interactions']).toBeGreaterThan(0);

    // No model active yet: popularity, flagged.
    const before = await recommend('c1', { first: 3 });
    expect(before.data?.['recommendations']).toHaveLength(3);
    expect((before.data?.['recommendations'] as Json[]).every((r) => r['coldStart'] === true && r['source'] === 'POPULARITY')).toBe(true);

    const activated = await gql('mutation { activateRecommenderModel(version: 1) { version active } }', {}, write);
    expect(activated.data?.['activateRecommenderModel']).toEqual({ version: 1, active: true });

    const recs = (await recommend('c3', { first: 5 })).data?.['recommendations'] as Json[];
    expect(recs).toHaveLength(5);
    expect(recs.every((r) => r['source'] === 'MODEL' && r['modelVersion'] === 1 && r['coldStart'] === false)).toBe(true);
    // Taste is learnt: a kitchen customer is recommended kitchen items first.
    expect((recs[0]?.['item'] as Json)['categories']).toEqual(['kitchen']);
    const reasons = recs[0]?.['reasons'] as Json[];
    expect(reasons.length).toBeGreaterThan(0);
    expect(reasons[0]?.['text']).toMatch(/^because you (bought|viewed|rated) Item \d+$/);
    // Seen items are excluded by default.
    const seen = new Set(syntheticInteractions().filter((r) => r['customerId'] === 'c3').map((r) => r['itemId']));
    expect(recs.some((r) => seen.has((r['item'] as Json)['id']))).toBe(false);
    const withSeen = (await recommend('c3', { first: 40, filter: { excludeSeen: false } })).data?.['recommendations'] as Json[];
    expect(withSeen.some((r) => seen.has((r['item'] as Json)['id']))).toBe(true);

    // Filters: categories, in stock, excluded ids.
    const garden = (await recommend('c3', { first: 4, filter: { categories: ['garden'], inStockOnly: true, excludeItemIds: ['i22'] } })).data?.['recommendations'] as Json[];
    expect(garden.length).toBeGreaterThan(0);
    expect(garden.every((r) => (r['item'] as Json)['categories'] !== undefined && ((r['item'] as Json)['categories'] as string[])[0] === 'garden' && (r['item'] as Json)['inStock'] === true && (r['item'] as Json)['id'] !== 'i22')).toBe(true);

    // Cold start: a customer the model has not seen.
    const cold = (await recommend('newcomer', { first: 3, filter: { categories: ['garden'] } })).data?.['recommendations'] as Json[];
    expect(cold).toHaveLength(3);
    expect(cold.every((r) => r['coldStart'] === true && ((r['item'] as Json)['categories'] as string[])[0] === 'garden')).toBe(true);

    // Similar items, popular items, batch.
    const similar = await gql('{ similarItems(itemId: "i3", first: 3) { item { id categories } score source } popularItems(first: 2, category: "garden") { item { id } coldStart } newItem: similarItems(itemId: "i-new", first: 2) { coldStart item { categories } } }');
    expect(similar.errors).toBeUndefined();
    const similarKitchen = (similar.data?.['similarItems'] as Json[]).filter((r) => ((r['item'] as Json)['categories'] as string[])[0] === 'kitchen');
    expect(similarKitchen.length).toBeGreaterThanOrEqual(2);
    expect(similar.data?.['newItem']).toHaveLength(2);
    expect((similar.data?.['newItem'] as Json[]).every((r) => r['coldStart'] === true)).toBe(true);
    // Popular items were asked for: not a cold-start fallback.
    expect(similar.data?.['popularItems']).toEqual([expect.objectContaining({ coldStart: false }), expect.objectContaining({ coldStart: false })]);
    expect(similar.extensions).toBeUndefined();
    const batch = await gql('{ recommendationsBatch(customerIds: ["c1", "c40", "ghost"], first: 2) { customerId coldStart error items { item { id } } } }');
    const entries = batch.data?.['recommendationsBatch'] as Json[];
    expect(entries.map((e) => [e['customerId'], (e['items'] as Json[]).length])).toEqual([['c1', 2], ['c40', 2], ['ghost', 0]]);
    expect(entries[2]?.['error']).toBe("customerId: no customer 'ghost'");
  });

  it('answers bad input clearly', async () => {
    const unknown = await recommend('ghost');
    expect(unknown.errors?.[0]?.extensions?.code).toBe('NOT_FOUND');
    expect(unknown.errors?.[0]?.message).toBe("customerId: no customer 'ghost'");
    const category = await recommend('c1', { filter: { categories: ['toys'] } });
    expect(category.errors?.[0]?.extensions?.code).toBe('BAD_USER_INPUT');
    expect(category.errors?.[0]?.message).toMatch(/filter.categories: no item has the category 'toys'; expected one of garden, kitchen/);
    const zero = await recommend('c1', { first: 0 });
    expect(zero.errors?.[0]?.message).toMatch(/first: expected a whole number from 1 to 100/);
    const many = await recommend('c1', { first: 5000, filter: { excludeSeen: false } });
    expect((many.data?.['recommendations'] as Json[]).length).toBe(ITEMS); // the model has 40 items
    expect(many.extensions?.['warnings']).toEqual([{ code: 'FIRST_CAPPED', message: 'first: 5000 is above the cap of 100; at most 100 results are returned', path: ['recommendations'] }]);
    const capped = await gql('{ top: popularItems(first: 101) { score } similarItems(itemId: "i3", first: 100) { score } }');
    expect(capped.extensions?.['warnings']).toEqual([expect.objectContaining({ code: 'FIRST_CAPPED', path: ['top'] })]);
    const toys = await gql('{ popularItems(category: "toys") { score } }');
    expect(toys.errors?.[0]?.extensions?.code).toBe('BAD_USER_INPUT');
    expect(toys.errors?.[0]?.message).toMatch(/^category: no item has the category 'toys'; expected one of garden, kitchen/);
    const item = await gql('{ similarItems(itemId: "nope") { score } }');
    expect(item.errors?.[0]?.extensions?.code).toBe('NOT_FOUND');
  });

  it('switches versions without a restart, in every process, and refuses a corrupt artifact', async () => {
    other = new ModelServer(app.services.database, { pollMs: 200 });
    await other.start();
    expect(other.activeVersion).toBe(1);
    const job = await train({ kind: 'EXPLICIT', factors: 4, iterations: 10, autoActivate: true });
    expect(job.status).toBe('completed');
    expect(job.result?.['activation']).toMatch(/not activated: the active version 1 is implicit/);
    const v2 = Number(job.result?.['version']);
    const before = (await recommend('c5', { first: 3 })).data?.['recommendations'] as Json[];
    expect(before[0]?.['modelVersion']).toBe(1);
    await gql(`mutation { activateRecommenderModel(version: ${v2}) { version } }`, {}, write);
    const after = (await recommend('c5', { first: 3 })).data?.['recommendations'] as Json[];
    expect(after[0]?.['modelVersion']).toBe(v2);
    // An explicit model scores predicted ratings: the answers are the new model's.
    expect(Number(after[0]?.['score'])).toBeGreaterThan(2);
    expect(after.map((r) => r['score'])).not.toEqual(before.map((r) => r['score']));
    const deadline = Date.now() + 5000;
    while (other.activeVersion !== v2 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
    expect(other.activeVersion).toBe(v2);

    // Rollback goes back to version 1 everywhere.
    const rolled = await gql('mutation { rollbackRecommenderModel { version } }', {}, write);
    expect(rolled.data?.['rollbackRecommenderModel']).toEqual({ version: 1 });
    const status = await gql('{ recommenderStatus { activeVersion servedVersion activatedBy } }');
    expect(status.data?.['recommenderStatus']).toMatchObject({ activeVersion: 1, servedVersion: 1 });
    const back = Date.now() + 5000;
    while (other.activeVersion !== 1 && Date.now() < back) await new Promise((r) => setTimeout(r, 50));
    expect(other.activeVersion).toBe(1);

    // Corrupt version 2's artifact: activation is refused, version 1 stays.
    const db = app.services.database.db;
    await db.execute(sql`UPDATE ${schema.recommenderArtifacts} SET bytes = overlay(bytes placing '\\x00ff00ff'::bytea from 200) WHERE version = ${v2}`);
    const refused = await gql(`mutation { activateRecommenderModel(version: ${v2}) { version } }`, {}, write);
    expect(refused.errors?.[0]?.extensions?.code).toBe('CONFLICT');
    expect(refused.errors?.[0]?.message).toMatch(/cannot be activated: model artifact of version \d+: checksum .* differs .*the active version is unchanged/);
    // Even if an activation row names it (written behind the API's back), processes refuse to load it.
    await db.insert(schema.recommenderActivations).values({ version: v2, action: 'activate', actor: 'test' });
    await app.graphql('{ recommenderStatus { servedVersion } }', { key: read });
    await new Promise((r) => setTimeout(r, 600));
    const still = await gql('{ recommenderStatus { activeVersion servedVersion } }');
    expect(still.data?.['recommenderStatus']).toEqual({ activeVersion: v2, servedVersion: 1 });
    expect(other.activeVersion).toBe(1);
    const served = (await recommend('c5', { first: 1 })).data?.['recommendations'] as Json[];
    expect(served[0]?.['modelVersion']).toBe(1);
    const jobs = await db.select().from(schema.jobs).where(eq(schema.jobs.kind, TRAINING_JOB_KIND));
    expect(jobs.length).toBeGreaterThanOrEqual(3);
  });

  it('queues requests with other settings as jobs of their own', async () => {
    const ask = async (input: string) => ((await gql(`mutation { trainRecommender(input: { ${input} }) { id } }`, {}, write)).data?.['trainRecommender'] as { id: string }).id;
    const [first, same, other] = await Promise.all([ask('kind: IMPLICIT, factors: 4, iterations: 2'), ask('iterations: 2, factors: 4, kind: IMPLICIT'), ask('kind: IMPLICIT, factors: 3, iterations: 2')]);
    expect(same).toBe(first);
    expect(other).not.toBe(first);
    const done = await Promise.all([first, other].map((id) => app.services.jobs.waitFor(id, { timeoutMs: 60_000 })));
    expect(done.map((j) => j.status)).toEqual(['completed', 'completed']);
    const params = await Promise.all(done.map(async (j) => (await gql(`{ recommenderModel(version: ${Number(j.result?.['version'])}) { params } }`)).data?.['recommenderModel'] as { params: Json }));
    expect(params.map((p) => p.params['factors'])).toEqual([4, 3]);
  });
});

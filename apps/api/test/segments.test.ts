import { schema } from '@clientele/db';
import { count } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestApp, type GraphQLBody, type TestApp } from './helpers.js';

// Customer intelligence over HTTP: planted customer groups sent through trackInteractions,
// a segmentation run as a job, rule segments, churn and value models, and the customer profile.

const R = new Date('2024-06-30T00:00:00Z');
const DAY = 86_400_000;

const GROUPS = [
  { name: 'champion', count: 30, recency: 5, orders: 20, spend: 100, tenure: 350 },
  { name: 'newcomer', count: 30, recency: 10, orders: 1, spend: 20, tenure: 10 },
  { name: 'lapsing', count: 20, recency: 150, orders: 8, spend: 200, tenure: 330 },
  { name: 'dormant', count: 60, recency: 300, orders: 1, spend: 15, tenure: 340 },
];

/** Deterministic jitter in [-spread, spread]. */
function jitterer(seed: number) {
  let state = seed;
  return (value: number, spread = 0.15) => {
    state = (state * 1103515245 + 12345) % 2147483648;
    return value * (1 + spread * ((state / 2147483648) * 2 - 1));
  };
}

function plantedInteractions() {
  const jitter = jitterer(17);
  const events: Record<string, unknown>[] = [];
  for (const group of GROUPS) {
    for (let i = 0; i < group.count; i++) {
      const orders = Math.max(1, Math.round(jitter(group.orders)));
      const last = jitter(group.recency);
      const first = Math.max(last, jitter(group.tenure, 0.05));
      for (let o = 0; o < orders; o++) {
        const daysAgo = orders === 1 ? last : last + ((first - last) * o) / (orders - 1);
        events.push({
          eventId: `${group.name}-${i}-${o}`,
          customerId: `${group.name}-${i}`,
          itemId: o % 2 === 0 ? 'sku-1' : 'sku-2',
          type: 'purchase',
          quantity: 1,
          amount: Math.round(jitter(group.spend) * 100) / 100,
          occurredAt: new Date(R.getTime() - daysAgo * DAY).toISOString(),
        });
      }
    }
  }
  // Browsing: a newcomer viewed sku-2 without buying it.
  events.push({ eventId: 'view-1', customerId: 'newcomer-0', itemId: 'sku-2', type: 'view', occurredAt: new Date(R.getTime() - 3 * DAY).toISOString() });
  return events;
}

function data(body: GraphQLBody): Record<string, unknown> {
  if (body.errors?.length) throw new Error(`GraphQL errors: ${JSON.stringify(body.errors)}`);
  return body.data ?? {};
}

function errorOf(body: GraphQLBody): { code: string | undefined; message: string } {
  const error = body.errors?.[0];
  return { code: error?.extensions?.code, message: error?.message ?? '' };
}

const RUN_FIELDS = `id version active k kChosenBy customerCount silhouette silhouetteCurve { k silhouette inertia }
  segments { index label size customerShare revenueShare medianRecencyDays medianFrequency medianMonetary medianTenureDays ranks }
  members(first: 3) { totalCount nodes { id } pageInfo { hasNextPage } }`;

describe('customer intelligence over GraphQL', () => {
  let app: TestApp;
  let read: string;
  let write: string;
  beforeAll(async () => {
    app = await startTestApp();
    read = await app.key(['read']);
    write = await app.key(['read', 'write']);
    data(
      (
        await app.graphql('mutation($items: [ItemInput!]!) { upsertItems(items: $items) { createdCount } }', {
          key: write,
          variables: { items: [{ id: 'sku-1', title: 'Kettle', categories: ['home'] }, { id: 'sku-2', title: 'Spade', categories: ['garden'] }] },
        })
      ).body,
    );
    const events = plantedInteractions();
    for (let from = 0; from < events.length; from += 1000) {
      const result = data(
        (
          await app.graphql('mutation($rows: [InteractionInput!]!) { trackInteractions(interactions: $rows) { createdCount rejectedCount } }', {
            key: write,
            variables: { rows: events.slice(from, from + 1000) },
          })
        ).body,
      );
      expect(result['trackInteractions']).toMatchObject({ rejectedCount: 0 });
    }
  });
  afterAll(async () => {
    await app?.close();
  });

  it('runs a segmentation as a job and shows profiles, the silhouette curve and each customer’s segment', async () => {
    const start = 'mutation($input: SegmentationRunInput) { startSegmentationRun(input: $input) { id kind status } }';
    expect(errorOf((await app.graphql(start, { key: read, variables: { input: {} } })).body).code).toBe('FORBIDDEN');
    const tooMany = errorOf((await app.graphql(start, { key: write, variables: { input: { k: 50, referenceDate: R.toISOString(), windowDays: 7 } } })).body);
    expect(tooMany).toEqual({ code: 'BAD_USER_INPUT', message: 'k: expected at most the number of customers with an order in the window (30), got 50' });
    const badFeature = errorOf((await app.graphql(start, { key: write, variables: { input: { features: [{ name: 'ltv' }] } } })).body);
    expect(badFeature.code).toBe('BAD_USER_INPUT');
    expect(badFeature.message).toMatch(/^features\[0\]\.name: unknown feature 'ltv'/);
    const [runsBefore] = await app.database.db.select({ n: count() }).from(schema.segmentationRuns);
    expect(runsBefore?.n).toBe(0);
    expect((await app.services.jobs.list({ kind: 'segmentation' })).length).toBe(0);

    const started = performance.now();
    const job = data((await app.graphql(start, { key: write, variables: { input: { referenceDate: R.toISOString(), kMax: 6, seed: 3 } } })).body)['startSegmentationRun'] as { id: string; kind: string };
    expect(job.kind).toBe('segmentation');
    const finished = await app.services.jobs.waitFor(job.id, { timeoutMs: 60_000 });
    console.log(`segmentation job over GraphQL: ${((performance.now() - started) / 1000).toFixed(3)} s from start to completed`);
    expect(finished.status).toBe('completed');
    const shown = data((await app.graphql(`query($id: ID!) { job(id: $id) { status progress { stage done total } segmentationRun { ${RUN_FIELDS} } } }`, { key: read, variables: { id: job.id } })).body)['job'] as {
      status: string;
      progress: { stage: string };
      segmentationRun: { id: string; k: number; kChosenBy: string; active: boolean; customerCount: number; silhouetteCurve: { k: number }[]; segments: { label: string; size: number; revenueShare: number }[]; members: { totalCount: number } };
    };
    expect(shown.status).toBe('COMPLETED');
    expect(shown.progress.stage).toBe('store');
    const run = shown.segmentationRun;
    expect(run).toMatchObject({ k: 4, kChosenBy: 'SILHOUETTE', active: true, customerCount: 140 });
    expect(run.silhouetteCurve.map((p) => p.k)).toEqual([3, 4, 5, 6]);
    expect(run.segments.map((s) => s.label).sort()).toEqual(['Dormant', 'High value, recent', 'Lapsing big spenders', 'New, one purchase']);
    expect(run.members.totalCount).toBe(140);

    const profile = data(
      (
        await app.graphql(
          `{ customer(id: "champion-1") { id features(referenceDate: "${R.toISOString()}") { featuresVersion windowDays values { name value unit } }
              segment { index label distance run { id version } } churnScore { score } } }`,
          { key: read },
        )
      ).body,
    )['customer'] as { features: { values: { name: string; value: number | null }[] }; segment: { label: string; run: { id: string } }; churnScore: null };
    expect(profile.segment).toMatchObject({ label: 'High value, recent', run: { id: run.id } });
    expect(profile.features.values.find((v) => v.name === 'frequency')?.value).toBeGreaterThanOrEqual(17);
    expect(profile.churnScore).toBeNull();

    const runs = data((await app.graphql('{ segmentationRuns(first: 5) { totalCount nodes { version active } } activeSegmentationRun { id } }', { key: read })).body);
    expect(runs['segmentationRuns']).toEqual({ totalCount: 1, nodes: [{ version: 1, active: true }] });
    const activate = 'mutation($id: ID!) { activateSegmentationRun(id: $id) { id active } }';
    expect(errorOf((await app.graphql(activate, { key: read, variables: { id: run.id } })).body).code).toBe('FORBIDDEN');
    expect(data((await app.graphql(activate, { key: write, variables: { id: run.id } })).body)['activateSegmentationRun']).toEqual({ id: run.id, active: true });
  });

  it('creates, evaluates, changes and deletes rule segments, with the bad node’s path in errors', async () => {
    const create = 'mutation($input: CreateSegmentInput!) { createSegment(input: $input) { id name count members(first: 2) { totalCount nodes { id } pageInfo { hasNextPage endCursor } } } }';
    const bad = errorOf(
      (
        await app.graphql(create, {
          key: write,
          variables: { input: { name: 'Bad', definition: { and: [{ consent: 'email', granted: true }, { feature: 'monetary', op: 'gte', value: 1 }, { or: [{ field: 'ltv', op: 'gt', value: 5 }] }] } } },
        })
      ).body,
    );
    expect(bad.code).toBe('BAD_USER_INPUT');
    expect(bad.message).toMatch(/^definition\.and\[2\]\.or\[0\]\.field: unknown field 'ltv'/);
    expect(errorOf((await app.graphql(create, { key: read, variables: { input: { name: 'x', definition: { field: 'name', op: 'isSet' } } } })).body).code).toBe('FORBIDDEN');

    const definition = { and: [{ segment: 0 }, { purchased: { category: 'home', atLeast: 3, withinDays: 120 } }] };
    const created = data((await app.graphql(create, { key: write, variables: { input: { name: 'Loyal home buyers', definition, referenceDate: R.toISOString() } } })).body)['createSegment'] as {
      id: string;
      count: number;
      members: { totalCount: number; nodes: { id: string }[]; pageInfo: { hasNextPage: boolean; endCursor: string } };
    };
    expect(created.count).toBe(30);
    expect(created.members.nodes.every((c) => c.id.startsWith('champion-'))).toBe(true);
    expect(created.members.pageInfo.hasNextPage).toBe(true);
    const next = data((await app.graphql(`query($id: ID!, $after: String) { segment(id: $id) { members(first: 100, after: $after) { nodes { id } } } }`, { key: read, variables: { id: created.id, after: created.members.pageInfo.endCursor } })).body)['segment'] as { members: { nodes: unknown[] } };
    expect(next.members.nodes).toHaveLength(28);

    const preview = data((await app.graphql(`query($d: JSON!) { previewSegment(definition: $d, referenceDate: "${R.toISOString()}", first: 5) { count members { id } } }`, { key: read, variables: { d: { viewedNotBought: { item: 'sku-2', withinDays: 30 } } } })).body)['previewSegment'];
    expect(preview).toEqual({ count: 1, members: [{ id: 'newcomer-0' }] });

    const update = 'mutation($id: ID!, $input: UpdateSegmentInput!) { updateSegment(id: $id, input: $input) { name count } }';
    expect(data((await app.graphql(update, { key: write, variables: { id: created.id, input: { name: 'Dormant', definition: { feature: 'recency_days', op: 'gt', value: 200 } } } })).body)['updateSegment']).toEqual({ name: 'Dormant', count: 60 });
    expect(data((await app.graphql('{ segments { totalCount nodes { name lastCount } } }', { key: read })).body)['segments']).toEqual({ totalCount: 1, nodes: [{ name: 'Dormant', lastCount: 60 }] });
    expect(data((await app.graphql('mutation($id: ID!) { deleteSegment(id: $id) { name } }', { key: write, variables: { id: created.id } })).body)['deleteSegment']).toEqual({ name: 'Dormant' });
    expect(data((await app.graphql('query($id: ID!) { segment(id: $id) { id } }', { key: read, variables: { id: created.id } })).body)['segment']).toBeNull();
  });

  it('trains churn and value models as jobs, with metrics, coefficients, versions and explained scores', async () => {
    const train = (kind: 'Churn' | 'Value', input: Record<string, unknown>) =>
      app.graphql(`mutation($input: ScoreModelInput) { train${kind}Model(input: $input) { id kind } }`, { key: write, variables: { input: { referenceDate: R.toISOString(), ...input } } });
    expect(errorOf((await app.graphql('mutation { trainChurnModel { id } }', { key: read })).body).code).toBe('FORBIDDEN');
    const churnJob = data((await train('Churn', { autoActivate: true })).body)['trainChurnModel'] as { id: string; kind: string };
    expect(churnJob.kind).toBe('churn-model');
    expect((await app.services.jobs.waitFor(churnJob.id, { timeoutMs: 60_000 })).status).toBe('completed');
    const model = data(
      (
        await app.graphql(
          `query($id: ID!) { job(id: $id) { scoreModel { id kind version active metrics { primaryMetric auc logLoss baselineLogLoss calibration { count meanPredicted observedRate } activationDecision }
             coefficients { feature weight direction constant } trainingCount evaluationCount scoredCount } } }`,
          { key: read, variables: { id: churnJob.id } },
        )
      ).body,
    )['job'] as { scoreModel: { id: string; active: boolean; metrics: { auc: number; calibration: unknown[]; activationDecision: string }; coefficients: { feature: string; direction: string }[]; scoredCount: number } };
    const churn = model.scoreModel;
    expect(churn).toMatchObject({ kind: 'CHURN', version: 1, active: true, metrics: { primaryMetric: 'auc', activationDecision: 'activated: there was no active model' } });
    expect(churn.metrics.auc).toBeGreaterThan(0.5);
    expect(churn.metrics.calibration.length).toBeGreaterThan(0);
    expect(churn.coefficients.find((c) => c.feature === 'recency_days')?.direction).toBe('UP');

    const scored = data((await app.graphql('{ customer(id: "dormant-1") { churnScore { kind score model { version } explanation { feature value contribution direction } } } }', { key: read })).body)['customer'] as {
      churnScore: { kind: string; score: number; explanation: { feature: string; contribution: number }[] };
    };
    expect(scored.churnScore.kind).toBe('CHURN');
    expect(scored.churnScore.score).toBeGreaterThan(0.5);
    const sizes = scored.churnScore.explanation.map((e) => Math.abs(e.contribution));
    expect(sizes).toEqual([...sizes].sort((a, b) => b - a));

    const valueJob = data((await train('Value', {})).body)['trainValueModel'] as { id: string };
    expect((await app.services.jobs.waitFor(valueJob.id, { timeoutMs: 60_000 })).status).toBe('completed');
    const versions = data((await app.graphql('{ scoreModels(kind: VALUE) { totalCount nodes { id version active metrics { rmse r2 baselineRmse activationDecision } } } activeScoreModel(kind: VALUE) { id } }', { key: read })).body);
    const value = (versions['scoreModels'] as { nodes: { id: string; active: boolean; metrics: { activationDecision: string; rmse: number } }[] }).nodes[0];
    expect(value).toMatchObject({ active: false, metrics: { activationDecision: 'not activated (activation: never)' } });
    expect(versions['activeScoreModel']).toBeNull();
    expect(data((await app.graphql('mutation($id: ID!) { activateScoreModel(id: $id) { version active } }', { key: write, variables: { id: value?.id } })).body)['activateScoreModel']).toEqual({ version: 1, active: true });
    expect(errorOf((await app.graphql('mutation { rollbackScoreModel(kind: VALUE) { version } }', { key: write })).body)).toEqual({
      code: 'CONFLICT',
      message: 'rollback: value version 1 is the only one ever activated; activate another version instead',
    });
    const both = data((await app.graphql('{ customer(id: "champion-2") { churnScore { score } valueScore { score explanation { feature } } } }', { key: read })).body)['customer'] as {
      churnScore: { score: number };
      valueScore: { score: number };
    };
    expect(both.churnScore.score).toBeLessThan(0.5);
    expect(both.valueScore.score).toBeGreaterThan(0);

    const rule = data((await app.graphql(`query($d: JSON!) { previewSegment(definition: $d, referenceDate: "${R.toISOString()}") { count } }`, { key: read, variables: { d: { score: 'churn', op: 'gte', value: 0.5 } } })).body)['previewSegment'] as { count: number };
    expect(rule.count).toBeGreaterThan(0);
  });
});

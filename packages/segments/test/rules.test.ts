import { schema } from '@clientele/db';
import { createTestDatabase, type TestDatabase } from '@clientele/db/testing';
import { DomainError } from '@clientele/domain';
import { count } from 'drizzle-orm';
import { PgDialect } from 'drizzle-orm/pg-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  countRule,
  createSegment,
  deleteSegment,
  evaluateSegment,
  getSegment,
  listSegments,
  prepareRule,
  previewRule,
  ruleCustomerIds,
  runSegmentation,
  segmentCustomerIds,
  segmentationRunMembers,
  updateSegment,
  validateRule,
  validateSegmentationParams,
  type SegmentRecord,
} from '../src/index.js';
import { DAY, actor, seed } from './helpers.js';

const R = new Date('2024-03-01T00:00:00Z');
const ago = (days: number) => new Date(R.getTime() - days * DAY);
const EVIL = "O'Hara'); DROP TABLE customers; --";

function messageOf(tree: unknown): string {
  try {
    validateRule(tree);
  } catch (error) {
    if (error instanceof DomainError) return `${error.code} ${error.field}: ${error.message}`;
    throw error;
  }
  return 'valid';
}

describe('rule trees: validation', () => {
  it('names the path of the bad node', () => {
    const tree = {
      and: [
        { field: 'country', op: 'eq', value: 'GB' },
        { field: 'name', op: 'isSet' },
        { or: [{ field: 'ltv', op: 'gt', value: 5 }] },
      ],
    };
    expect(messageOf(tree)).toBe(
      "BAD_USER_INPUT conditions.and[2].or[0].field: conditions.and[2].or[0].field: unknown field 'ltv' (expected one of id, name, country, createdAt, hasEmail, hasPhone, isStub)",
    );
  });

  it('rejects wrong operand types, unknown operators and keys, and malformed nodes', () => {
    expect(messageOf({ feature: 'monetary', op: 'gte', value: '100' })).toBe("BAD_USER_INPUT conditions.value: conditions.value: expected a number, got '100'");
    expect(messageOf({ field: 'country', op: 'gt', value: 'A' })).toBe(
      "BAD_USER_INPUT conditions.op: conditions.op: expected one of eq, neq, in, notIn, contains, startsWith, isSet, isNotSet for the string field 'country', got 'gt'",
    );
    expect(messageOf({ not: { field: 'createdAt', op: 'gt', value: 'yesterday' } })).toBe(
      "BAD_USER_INPUT conditions.not.value: conditions.not.value: expected an ISO-8601 date such as 2011-06-30, got 'yesterday'",
    );
    expect(messageOf({ field: 'country', op: 'eq', value: 'GB', extra: 1 })).toMatch(/^BAD_USER_INPUT conditions.extra: conditions.extra: unknown key 'extra'/);
    expect(messageOf({ field: 'country', op: 'eq', value: 'GB', and: [] })).toMatch(/expected one condition per object, got and and field together/);
    expect(messageOf({ and: [] })).toBe('BAD_USER_INPUT conditions.and: conditions.and: expected a list of 1 to 50 conditions, got []');
    expect(messageOf({ ltv: 3 })).toMatch(/^BAD_USER_INPUT conditions.ltv: conditions.ltv: unknown condition 'ltv'/);
    expect(messageOf({ or: [{ purchased: { category: 'shoes', atLeast: 0 } }] })).toMatch(/^BAD_USER_INPUT conditions.or\[0\].purchased.atLeast: .*got 0$/);
    expect(messageOf({ score: 'churn', op: 'eq', value: 0.5 })).toMatch(/conditions.op: expected one of gt, gte, lt, lte, between, isSet, isNotSet for the churn score/);
    expect(messageOf({ attribute: 'visits', op: 'gt', value: 'many' })).toBe("BAD_USER_INPUT conditions.value: conditions.value: expected a number, got 'many'");
    expect(messageOf({ feature: 'monetary', op: 'between', value: [10, 1] })).toMatch(/expected low ≤ high/);
    expect(messageOf({ consent: 'fax', granted: true })).toMatch(/conditions.consent: expected email or sms/);
    expect(messageOf('country = GB')).toMatch(/^BAD_USER_INPUT conditions: conditions: expected a condition object/);
  });

  it('refuses trees deeper or bigger than the limits', () => {
    let deep: unknown = { field: 'country', op: 'eq', value: 'GB' };
    for (let i = 0; i < 6; i++) deep = { not: deep };
    expect(messageOf(deep)).toBe('BAD_USER_INPUT conditions.not.not.not.not.not.not: conditions.not.not.not.not.not.not: the tree is nested deeper than 6 levels');
    const wide = { or: Array.from({ length: 3 }, () => ({ and: Array.from({ length: 40 }, () => ({ field: 'country', op: 'eq', value: 'GB' })) })) };
    expect(messageOf(wide)).toMatch(/the tree has more than 100 conditions/);
  });
});

describe('rule segments on data', () => {
  let database: TestDatabase;
  beforeAll(async () => {
    database = await createTestDatabase();
    await seed(database.db, {
      customers: [
        { id: 'u1', name: 'Ann Lee', country: 'GB', attributes: { tier: 'gold', visits: 12, vip: true }, emailConsent: true },
        { id: 'u2', name: 'Bob', country: 'FR', attributes: { tier: 'silver', visits: 3 }, emailConsent: false },
        { id: 'u3', name: EVIL, country: 'GB', attributes: { visits: '7' } },
        { id: 'u4' },
      ],
      items: [
        { id: 'shoe-1', categories: ['shoes'] },
        { id: 'shoe-2', categories: ['shoes', 'sale'] },
        { id: 'book-1', categories: ['books'] },
      ],
      events: [
        { customer: 'u1', item: 'shoe-1', type: 'purchase', quantity: 1, amount: 50, at: ago(5) },
        { customer: 'u1', item: 'shoe-2', type: 'purchase', quantity: 1, amount: 30, at: ago(20) },
        { customer: 'u1', item: 'book-1', type: 'purchase', quantity: 1, amount: 20, at: ago(100) },
        { customer: 'u2', item: 'shoe-1', type: 'purchase', quantity: 1, amount: 80, at: ago(200) },
        { customer: 'u2', item: 'book-1', type: 'view', at: ago(3) },
        { customer: 'u3', item: 'shoe-2', type: 'view', at: ago(2) },
        { customer: 'u3', item: 'shoe-2', type: 'purchase', quantity: 1, amount: 40, at: ago(1) },
        { customer: 'u4', item: 'shoe-2', type: 'view', at: ago(4) },
      ],
    });
  });
  afterAll(async () => {
    await database?.close();
  });

  async function matching(tree: unknown): Promise<string[]> {
    const rule = await prepareRule(database.db, tree, { referenceDate: R, windowDays: 365 });
    const ids = await ruleCustomerIds(database.db, rule);
    const rows = await database.db.select({ id: schema.customers.id, external: schema.customers.externalId }).from(schema.customers);
    const byId = new Map(rows.map((r) => [r.id, r.external]));
    expect(await countRule(database.db, rule)).toBe(ids.length);
    return ids.map((id) => byId.get(id) ?? '?').sort();
  }

  it('evaluates fields, attributes, consent, features and behaviour', async () => {
    expect(await matching({ field: 'country', op: 'eq', value: 'gb' })).toEqual(['u1', 'u3']);
    expect(await matching({ field: 'country', op: 'in', value: ['fr', 'GB'] })).toEqual(['u1', 'u2', 'u3']);
    expect(await matching({ field: 'country', op: 'notIn', value: ['GB'] })).toEqual(['u2', 'u4']);
    expect(await matching({ not: { field: 'country', op: 'eq', value: 'GB' } })).toEqual(['u2', 'u4']);
    expect(await matching({ field: 'name', op: 'contains', value: "o'hara'); drop" })).toEqual(['u3']);
    expect(await matching({ field: 'name', op: 'contains', value: '%' })).toEqual([]);
    expect(await matching({ field: 'createdAt', op: 'gt', value: '2000-01-01' })).toEqual(['u1', 'u2', 'u3', 'u4']);
    expect(await matching({ field: 'hasEmail', op: 'eq', value: false })).toEqual(['u1', 'u2', 'u3', 'u4']);
    expect(await matching({ attribute: 'tier', op: 'eq', value: 'gold' })).toEqual(['u1']);
    expect(await matching({ attribute: 'visits', op: 'gt', value: 5 })).toEqual(['u1']); // u3's '7' is a string
    expect(await matching({ attribute: 'visits', op: 'isSet' })).toEqual(['u1', 'u2', 'u3']);
    expect(await matching({ attribute: 'vip', op: 'eq', value: true })).toEqual(['u1']);
    expect(await matching({ consent: 'email', granted: true })).toEqual(['u1']);
    expect(await matching({ consent: 'email', granted: false })).toEqual(['u2']);
    expect(await matching({ consent: 'email', granted: null })).toEqual(['u3', 'u4']);
    expect(await matching({ feature: 'monetary', op: 'gte', value: 60 })).toEqual(['u1', 'u2']);
    expect(await matching({ feature: 'frequency', op: 'eq', value: 0 })).toEqual(['u4']);
    expect(await matching({ feature: 'recency_days', op: 'isNotSet' })).toEqual(['u4']);
    expect(await matching({ feature: 'recency_days', op: 'between', value: [0, 30] })).toEqual(['u1', 'u3']);
    expect(await matching({ purchased: { category: 'shoes', atLeast: 2, withinDays: 30 } })).toEqual(['u1']);
    expect(await matching({ purchased: { category: 'shoes', withinDays: 30 } })).toEqual(['u1', 'u3']);
    expect(await matching({ purchased: { item: 'shoe-1' } })).toEqual(['u1', 'u2']);
    expect(await matching({ purchased: { atLeast: 3 } })).toEqual(['u1']);
    expect(await matching({ viewedNotBought: { item: 'shoe-2', withinDays: 30 } })).toEqual(['u4']);
    expect(
      await matching({
        and: [{ or: [{ consent: 'email', granted: true }, { attribute: 'tier', op: 'eq', value: 'silver' }] }, { not: { purchased: { withinDays: 30 } } }],
      }),
    ).toEqual(['u2']);
  });

  it('binds every value from the tree as a parameter', async () => {
    const rule = await prepareRule(database.db, { or: [{ field: 'name', op: 'eq', value: EVIL }, { attribute: EVIL.replace(/[^A-Za-z]/g, ''), op: 'eq', value: EVIL }] }, { referenceDate: R });
    const query = new PgDialect().sqlToQuery(rule.where);
    expect(query.sql).not.toContain('DROP');
    expect(query.sql).not.toContain('Hara');
    expect(query.params).toContain(EVIL);
    expect(await matching({ field: 'name', op: 'eq', value: EVIL })).toEqual(['u3']);
    const [customers] = await database.db.select({ n: count() }).from(schema.customers);
    expect(customers?.n).toBe(4);
  });

  it('resolves what a tree names, with the path in the error', async () => {
    const at = (tree: unknown) => prepareRule(database.db, tree, { referenceDate: R }).then(() => 'compiled', (e: Error) => e.message);
    expect(await at({ and: [{ viewedNotBought: { item: 'nope' } }] })).toBe("conditions.and[0].viewedNotBought.item: unknown item 'nope'");
    expect(await at({ purchased: { category: 'hats' } })).toBe("conditions.purchased.category: unknown category 'hats': no item has it");
    expect(await at({ segment: 0 })).toBe('conditions.segment: there is no active segmentation run (run one, or name a run with "run")');
    expect(await at({ score: 'churn', op: 'gte', value: 0.5 })).toBe('conditions.score: there is no active churn model (train one first)');
    expect(await at({ segment: 0, run: '00000000-0000-0000-0000-000000000000' })).toBe("conditions.run: segmentation run '00000000-0000-0000-0000-000000000000' does not exist");
  });

  it('saves, counts, pages, updates and deletes segments, and reads k-means membership', async () => {
    const created = await createSegment(
      database.db,
      { name: 'Shoe buyers', description: 'bought shoes lately', definition: { purchased: { category: 'shoes', withinDays: 30 } }, referenceDate: R.toISOString() },
      actor,
    );
    await expect(createSegment(database.db, { name: 'Shoe buyers', definition: { field: 'name', op: 'isSet' } }, actor)).rejects.toMatchObject({ code: 'CONFLICT' });
    await expect(createSegment(database.db, { name: 'Bad', definition: { and: [{ field: 'ltv', op: 'gt', value: 1 }] } }, actor)).rejects.toThrow(
      /^definition.and\[0\].field: unknown field 'ltv'/,
    );
    expect(await evaluateSegment(database.db, created)).toMatchObject({ count: 2 });
    expect((await getSegment(database.db, created.id))?.lastCount).toBe(2);
    expect((await segmentCustomerIds(database.db, created.id)).length).toBe(2);

    const preview = await previewRule(database.db, { consent: 'email', granted: null }, { referenceDate: R, first: 1 });
    expect(preview.count).toBe(2);
    expect(preview.members.map((c) => c.externalId)).toEqual(['u3']);

    const updated: SegmentRecord = await updateSegment(database.db, created.id, { name: 'Recent shoe buyers', definition: { purchased: { category: 'shoes', atLeast: 2, withinDays: 30 } } }, actor);
    expect(updated.name).toBe('Recent shoe buyers');
    expect(await segmentCustomerIds(database.db, created.id)).toHaveLength(1);
    expect((await listSegments(database.db, {})).nodes.map((s) => s.name)).toEqual(['Recent shoe buyers']);

    // k-means membership of the active run.
    const run = await runSegmentation(database.db, validateSegmentationParams({ k: 2, referenceDate: R.toISOString() }), { actor });
    const inFirst = await segmentationRunMembers(database.db, run, { segment: 0 });
    expect(await matching({ segment: 0 })).toEqual(inFirst.nodes.map((c) => c.externalId).sort());
    expect(await matching({ segment: 1, run: run.id })).toHaveLength(run.customerCount - inFirst.nodes.length);
    await expect(prepareRule(database.db, { segment: 2 })).rejects.toThrow('conditions.segment: expected a segment index from 0 to 1 (the run has k = 2), got 2');

    await deleteSegment(database.db, created.id, actor);
    expect(await getSegment(database.db, created.id)).toBeNull();
    await expect(deleteSegment(database.db, created.id, actor)).rejects.toMatchObject({ code: 'NOT_FOUND' });
  });
});

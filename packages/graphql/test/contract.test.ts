import { readFileSync } from 'node:fs';
import { buildSchema, findBreakingChanges, isObjectType } from 'graphql';
import { describe, expect, it } from 'vitest';
import { loadTypeDefs } from '../src/index.js';

const current = buildSchema(loadTypeDefs().join('\n'));

describe('the published GraphQL contract', () => {
  it('has no breaking change against the recorded snapshot (additive changes only)', () => {
    const published = buildSchema(readFileSync(new URL('../contract/schema.snapshot.graphql', import.meta.url), 'utf8'));
    const breaking = findBreakingChanges(published, current).map((change) => `${change.type}: ${change.description}`);
    expect(breaking).toEqual([]);
  });

  it('documents every root field', () => {
    const undocumented: string[] = [];
    for (const root of [current.getQueryType(), current.getMutationType()]) {
      if (!isObjectType(root)) continue;
      for (const field of Object.values(root.getFields())) {
        if (!field.description) undocumented.push(`${root.name}.${field.name}`);
      }
    }
    expect(undocumented).toEqual([]);
  });
});

// Records the current schema as the published contract. Run after an intended, additive
// change: `pnpm --filter @clientele/graphql snapshot`. The contract test compares against it.
import { writeFileSync } from 'node:fs';
import { buildSchema, printSchema } from 'graphql';
import { loadTypeDefs } from '../dist/index.js';

const printed = printSchema(buildSchema(loadTypeDefs().join('\n')));
writeFileSync(new URL('../contract/schema.snapshot.graphql', import.meta.url), printed + '\n');
console.log('contract/schema.snapshot.graphql updated');

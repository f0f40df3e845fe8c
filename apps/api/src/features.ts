// Feature modules that add GraphQL resolvers and job kinds. Each module calls addJobKinds()
// at load and exports its resolver map; add a module here with one import line.
import type { Resolvers } from '@clientele/graphql';
import type { Context } from './context.js';
import { importResolvers } from './graphql/import-resolvers.js';
import { jobResolvers } from './graphql/jobs-resolvers.js';
import { recommenderResolvers } from './graphql/recommender-resolvers.js';
import { segmentsResolvers } from './graphql/segments-resolvers.js';

/** Resolver maps of the feature areas, merged field by field with the core map. */
export const featureResolvers: Resolvers<Context>[] = [jobResolvers, importResolvers, recommenderResolvers, segmentsResolvers];

import { describePrincipal, requireScope } from '@clientele/auth';
import type { ItemRecord } from '@clientele/domain';
import { responsePathAsArray, type GraphQLResolveInfo } from 'graphql';
import type { RecommenderModelKind, Resolvers, TrainRecommenderInput } from '@clientele/graphql';
import type { JobStatus as JobStatusName } from '@clientele/jobs';
import {
  ModelServer,
  TRAINING_JOB_KIND,
  activateModelVersion,
  currentActivation,
  enqueueTraining,
  getModelVersion,
  listModelVersions,
  registerTrainingJob,
  rollbackModelVersion,
  type ModelVersion,
} from '@clientele/recommender';
import type { Context, Services } from '../context.js';
import { addJobKinds } from '../jobs.js';
import { connectionFields } from './connections.js';

// Recommendations over GraphQL: serving from the process's ModelServer, the model registry,
// and training jobs. Every process that builds services (API or `clientele worker`) can run
// the training job kind.

addJobKinds((queue, services) =>
  registerTrainingJob(queue, services.database, { interactionTypes: services.config.interactionTypes, threads: services.config.computeThreads }),
);

const servers = new WeakMap<Services, ModelServer>();

/** The process's model server for these services, started on first use (then kept current by polling). */
export function modelServerFor(services: Services): ModelServer {
  let server = servers.get(services);
  if (!server) {
    server = new ModelServer(services.database, { pollMs: services.config.recommenderPollMs, threads: services.config.servingThreads, inlineAfterIdleMs: services.config.servingInlineAfterIdleMs, logger: services.logger });
    servers.set(services, server);
  }
  return server;
}

/**
 * The catalogue row of a recommended item: from the serving mirror, synchronously (a promise per
 * item of a list makes graphql-js complete the whole list asynchronously), else loaded.
 */
function itemOf(context: Context, id: number): ItemRecord | Promise<ItemRecord> {
  const mirrored = modelServerFor(context.services).item(id);
  if (mirrored) return mirrored;
  return context.loaders.item.load(id).then((item) => {
    if (!item) throw new Error(`item ${id} is in the model but not in the catalogue`);
    return item;
  });
}

/** Tells the caller, in the response's `extensions.warnings`, that `first` was lowered to the cap. */
function sayIfCapped(context: Context, info: GraphQLResolveInfo, asked: number | null | undefined, cap: { first: number; capped: boolean }): void {
  if (!cap.capped) return;
  context.warn({ code: 'FIRST_CAPPED', message: `first: ${asked} is above the cap of ${cap.first}; at most ${cap.first} results are returned`, path: responsePathAsArray(info.path) });
}

const toKind = (kind: string): RecommenderModelKind => (kind === 'explicit' ? 'EXPLICIT' : 'IMPLICIT');

/** The GraphQL input as the JSON training settings the job stores (checked by parseTrainingParams). */
function trainingParams(input: TrainRecommenderInput): Record<string, unknown> {
  const defined = (o: Record<string, unknown>) => Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined && v !== null));
  return defined({
    kind: input.kind.toLowerCase(),
    factors: input.factors,
    iterations: input.iterations,
    regularization: input.regularization,
    regularizationExponent: input.regularizationExponent,
    regularizationOffset: input.regularizationOffset,
    alpha: input.alpha,
    weights: input.weights ? Object.fromEntries(input.weights.map((w) => [w.type, w.weight])) : undefined,
    decayHalfLifeDays: input.decayHalfLifeDays,
    split: input.split ? defined({ ...input.split, method: input.split.method ? input.split.method.toLowerCase().replace(/_/g, '-') : undefined }) : undefined,
    search: input.search ? defined({ ...input.search }) : undefined,
    evaluationK: input.evaluationK,
    autoActivate: input.autoActivate,
    seed: input.seed,
  });
}

const PHRASES: Record<string, string> = {
  purchase: 'because you bought',
  rating: 'because you rated',
  add_to_cart: 'because you added',
  view: 'because you viewed',
  click: 'because you viewed',
};

export const recommenderResolvers: Resolvers<Context> = {
  Query: {
    recommendations: async (_root, { customerId, first, filter }, context, info) => {
      requireScope(context.principal, 'read');
      const list = await modelServerFor(context.services).recommend(customerId, first, filter);
      sayIfCapped(context, info, first, list);
      return list.items;
    },
    recommendationsBatch: async (_root, { customerIds, first, filter }, context, info) => {
      requireScope(context.principal, 'read');
      const server = modelServerFor(context.services);
      const entries = await server.recommendMany(customerIds, first, filter);
      sayIfCapped(context, info, first, server.capFirst(first));
      return entries;
    },
    similarItems: async (_root, { itemId, first }, context, info) => {
      requireScope(context.principal, 'read');
      const similar = await modelServerFor(context.services).similar(itemId, first);
      sayIfCapped(context, info, first, similar);
      return similar.items;
    },
    popularItems: async (_root, { first, category }, context, info) => {
      requireScope(context.principal, 'read');
      const popular = await modelServerFor(context.services).popularItems(first, category);
      sayIfCapped(context, info, first, popular);
      return popular.items;
    },
    recommenderModels: async (_root, { first, after, kind }, context) => {
      requireScope(context.principal, 'read');
      return listModelVersions(context.services.database.db, { first: first ?? null, after: after ?? null, kind: kind ? (kind === 'EXPLICIT' ? 'explicit' : 'implicit') : null });
    },
    recommenderModel: async (_root, { version }, context) => {
      requireScope(context.principal, 'read');
      return getModelVersion(context.services.database.db, version);
    },
    recommenderStatus: async (_root, _args, context) => {
      requireScope(context.principal, 'read');
      const activation = await currentActivation(context.services.database.db);
      const server = modelServerFor(context.services);
      await server.start();
      return { activeVersion: activation?.version ?? null, servedVersion: server.activeVersion, activatedAt: activation?.activatedAt ?? null, activatedBy: activation?.actor ?? null };
    },
    trainingJobs: async (_root, { status, first }, context) => {
      requireScope(context.principal, 'read');
      return context.services.jobs.list({ kind: TRAINING_JOB_KIND, status: status ? (status.toLowerCase() as JobStatusName) : null, limit: first ?? 20 });
    },
    trainingJob: async (_root, { id }, context) => {
      requireScope(context.principal, 'read');
      const job = await context.services.jobs.get(id);
      return job && job.kind === TRAINING_JOB_KIND ? job : null;
    },
  },
  Mutation: {
    trainRecommender: async (_root, { input }, context) => {
      requireScope(context.principal, 'write');
      return enqueueTraining(context.services.jobs, trainingParams(input), describePrincipal(context.principal), context.services.config.interactionTypes);
    },
    activateRecommenderModel: async (_root, { version }, context) => {
      requireScope(context.principal, 'write');
      const { model } = await activateModelVersion(context.services.database.db, version, describePrincipal(context.principal));
      // This process switches now; the others within a poll interval (or at once by NOTIFY).
      await modelServerFor(context.services).refresh();
      return model;
    },
    rollbackRecommenderModel: async (_root, _args, context) => {
      requireScope(context.principal, 'write');
      const { model } = await rollbackModelVersion(context.services.database.db, describePrincipal(context.principal));
      await modelServerFor(context.services).refresh();
      return model;
    },
  },
  Recommendation: {
    item: (r, _args, context) => itemOf(context, r.itemId),
    source: (r) => (r.source === 'model' ? 'MODEL' : 'POPULARITY'),
    coldStart: (r) => r.coldStart,
    reasons: (r) => r.reasons(),
  },
  RecommendationReason: {
    item: (r, _args, context) => itemOf(context, r.itemId),
    text: async (r, _args, context) => {
      const title = (await itemOf(context, r.itemId)).title;
      const phrase = PHRASES[r.interaction];
      return phrase ? `${phrase} ${title}` : `because of your ${r.interaction.replace(/_/g, ' ')} of ${title}`;
    },
  },
  CustomerRecommendations: {
    coldStart: (entry) => ('error' in entry ? false : entry.coldStart),
    items: (entry) => ('error' in entry ? [] : entry.items),
    error: (entry) => ('error' in entry ? entry.error.message : null),
  },
  RecommenderModel: {
    kind: (m: ModelVersion) => toKind(m.kind),
    active: async (m, _args, context) => (await currentActivation(context.services.database.db))?.version === m.version,
  },
  RecommenderModelConnection: connectionFields<ModelVersion>(),
};

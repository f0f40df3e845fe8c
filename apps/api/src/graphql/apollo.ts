import type { Server } from 'node:http';
import { ApolloServer, type ApolloServerPlugin } from '@apollo/server';
import { ApolloServerPluginDrainHttpServer } from '@apollo/server/plugin/drainHttpServer';
import { ApolloServerPluginCacheControlDisabled, ApolloServerPluginLandingPageDisabled } from '@apollo/server/plugin/disabled';
import { ApolloServerPluginLandingPageLocalDefault } from '@apollo/server/plugin/landingPage/default';
import { ApolloArmor } from '@escape.tech/graphql-armor';
import { describePrincipal } from '@clientele/auth';
import { recordAudit } from '@clientele/db';
import { loadTypeDefs } from '@clientele/graphql';
import type { Context, Services } from '../context.js';
import { formatError, isInternal } from '../errors.js';
import { featureResolvers } from '../features.js';
import { resolvers } from './resolvers.js';

/** Counts operations and logs internal errors with the request id (clients see them masked). */
function observabilityPlugin(services: Services): ApolloServerPlugin<Context> {
  return {
    async requestDidStart() {
      return {
        async didEncounterErrors({ errors, contextValue, operationName }) {
          for (const error of errors) {
            const code = String(error.extensions['code'] ?? 'INTERNAL_SERVER_ERROR');
            services.metrics.graphqlErrors.inc({ code: isInternal(error) ? 'INTERNAL_SERVER_ERROR' : code });
            if (isInternal(error)) {
              (contextValue?.logger ?? services.logger).error(
                { err: error.originalError ?? error, operationName, path: error.path },
                'internal error in GraphQL operation',
              );
            }
          }
        },
        async willSendResponse({ operation, operationName, errors, contextValue, response }) {
          const warnings = contextValue?.warnings;
          if (warnings && warnings.length > 0 && response.body.kind === 'single') {
            const result = response.body.singleResult;
            result.extensions = { ...result.extensions, warnings };
          }
          // One audit entry per request that read personal data, naming whose.
          const reads = contextValue?.personalDataReads;
          if (reads && reads.size > 0) {
            const ids = [...reads];
            await recordAudit(services.database.db, {
              actor: describePrincipal(contextValue.principal),
              operation: 'customers.read_personal_data',
              targetType: 'customer',
              ...(ids.length === 1 ? { targetId: ids[0] } : {}),
              details: { operation: operationName ?? null, count: ids.length, ids: ids.slice(0, 200) },
            }).catch((error: unknown) => contextValue.logger.error({ err: error }, 'could not write the personal-data audit entry'));
          }
          services.metrics.graphqlOperations.inc({
            operation: operationName ?? 'anonymous',
            type: operation?.operation ?? 'unknown',
            outcome: errors && errors.length > 0 ? 'error' : 'ok',
          });
        },
      };
    },
  };
}

export function createApolloServer(services: Services, httpServer: Server): ApolloServer<Context> {
  const production = services.config.env === 'production';
  // Depth, cost, alias, directive and token limits, and no field suggestions in production
  // (they leak the schema when introspection is off).
  const armor = new ApolloArmor({
    maxDepth: { n: services.config.graphqlMaxDepth },
    costLimit: { maxCost: services.config.graphqlMaxCost },
    maxAliases: { n: 30 },
    maxDirectives: { n: 30 },
    maxTokens: { n: 5000 },
    blockFieldSuggestion: { enabled: production },
  });
  const protection = armor.protect();
  // graphql-armor's type declarations come from @apollo/server's CommonJS build and ours from
  // its ESM build; the plugin objects are the same shape at run time, only the nominal
  // HeaderMap types differ. Context-independent plugins, so widening is safe.
  const armorPlugins = protection.plugins as unknown as ApolloServerPlugin<Context>[];
  return new ApolloServer<Context>({
    typeDefs: loadTypeDefs(),
    // One map per feature area; graphql-tools merges them field by field.
    resolvers: [resolvers, ...featureResolvers],
    introspection: !production,
    // Shutdown is ours (CLI signal handler): Apollo would re-raise the signal after stopping.
    stopOnTerminationSignals: false,
    includeStacktraceInErrorResponses: false,
    formatError,
    validationRules: [...protection.validationRules],
    plugins: [
      ...armorPlugins,
      ApolloServerPluginDrainHttpServer({ httpServer }),
      // No cache hints are used (answers depend on the caller's key or session). Left on, the
      // cache-control plugin is the only per-field hook: Apollo then wraps every resolver of
      // every request to call it, a third of the execution time of a 10-item list.
      ApolloServerPluginCacheControlDisabled(),
      production ? ApolloServerPluginLandingPageDisabled() : ApolloServerPluginLandingPageLocalDefault({ embed: true }),
      observabilityPlugin(services),
    ],
  });
}

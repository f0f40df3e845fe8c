import type { Principal } from '@clientele/auth';
import type { Context, ResponseWarning, Services } from './context.js';
import { createLoaders } from './graphql/loaders.js';
import { requestLogger } from './http/request-log.js';
import type { Logger } from './logger.js';

/**
 * The GraphQL context of one request. Its logger (bound to the request id) and its batch
 * loaders are made on first use: most requests (a recommendation, say) need neither, and at
 * hundreds of requests a second every object made per request is collector work.
 *
 * The lazy parts are getters on the class, not on the object, because Apollo Server copies
 * the context with Object.assign onto an object of the same prototype: a getter of the object
 * itself would be called by that copy, on every request.
 */
export class RequestContext implements Context {
  readonly personalDataReads = new Set<string>();
  private boundLogger: Logger | undefined;
  private batchLoaders: Context['loaders'] | undefined;
  private noted: ResponseWarning[] | undefined;

  constructor(
    readonly services: Services,
    readonly principal: Principal,
    /** The id logRequest gave the request. */
    readonly requestId: string,
    private readonly baseLogger: Logger,
  ) {}

  get logger(): Logger {
    return (this.boundLogger ??= requestLogger(this.baseLogger, this.requestId));
  }

  get loaders(): Context['loaders'] {
    return (this.batchLoaders ??= createLoaders(this.services.database.db));
  }

  get warnings(): readonly ResponseWarning[] {
    return this.noted ?? [];
  }

  warn(warning: ResponseWarning): void {
    (this.noted ??= []).push(warning);
  }
}

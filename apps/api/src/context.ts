import type { ApiKeyResolver, Principal } from '@clientele/auth';
import type { Config } from '@clientele/config';
import type { DatabaseHandle } from '@clientele/db';
import type { CustomerRecord, ItemRecord, Store } from '@clientele/domain';
import type { JobQueue } from '@clientele/jobs';
import type DataLoader from 'dataloader';
import type { Logger } from './logger.js';
import type { Metrics } from './metrics.js';

/** Long-lived dependencies of one API process, built once at start-up and passed down. */
export interface Services {
  config: Config;
  database: DatabaseHandle;
  /** The database with the contact-data cipher and accepted interaction types. */
  store: Store;
  logger: Logger;
  apiKeys: ApiKeyResolver;
  metrics: Metrics;
  /** Background jobs: enqueue, inspect, cancel (and, in a worker, run). */
  jobs: JobQueue;
}

/** Per-request GraphQL context. Every operation has an authenticated principal. */
export interface Context {
  services: Services;
  principal: Principal;
  requestId: string;
  logger: Logger;
  /** Batch loaders by internal id, per request (no N+1 on interaction lists). */
  loaders: {
    customer: DataLoader<number, CustomerRecord | null>;
    item: DataLoader<number, ItemRecord | null>;
  };
  /** External ids of customers whose personal data this request read; audited once at the end. */
  personalDataReads: Set<string>;
  /** Warnings for the caller (e.g. `first` lowered to its cap), sent in the response's `extensions.warnings`. */
  readonly warnings: readonly ResponseWarning[];
  warn(warning: ResponseWarning): void;
}

/** Something the caller should know about an answer that is not an error. */
export interface ResponseWarning {
  code: string;
  message: string;
  /** The response path of the field it concerns. */
  path: readonly (string | number)[];
}

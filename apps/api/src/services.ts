import { ApiKeyResolver } from '@clientele/auth';
import type { Config } from '@clientele/config';
import { migrate, openDatabase, type DatabaseHandle } from '@clientele/db';
import type { Store } from '@clientele/domain';
import { ContactCipher, loadOrCreateKeyringFile, parseKeyring } from '@clientele/privacy';
import type { Services } from './context.js';
import { createLogger, type Logger } from './logger.js';
import { createJobQueue } from './jobs.js';
import { Metrics } from './metrics.js';

/**
 * The contact-data cipher: the keyring from CLIENTELE_ENCRYPTION_KEYS, or (outside
 * production) a key file made on first use in the data folder.
 */
export function createCipher(config: Config): ContactCipher {
  return new ContactCipher(config.encryptionKeys === null ? loadOrCreateKeyringFile(config.dataDir) : parseKeyring(config.encryptionKeys));
}

export function createStore(config: Config, database: DatabaseHandle): Store {
  return { db: database.db, cipher: createCipher(config), interactionTypes: config.interactionTypes };
}

/** Opens the database (and migrates it unless told not to) and builds the process's services. */
export async function createServices(
  config: Config,
  options: { logger?: Logger; migrate?: boolean; database?: DatabaseHandle } = {},
): Promise<Services> {
  const logger = options.logger ?? createLogger(config);
  const cipher = createCipher(config);
  const database = options.database ?? (await openDatabase(config.database, { applicationName: 'clientele-api' }));
  try {
    if (options.migrate !== false) await migrate(database);
  } catch (error) {
    if (!options.database) await database.close();
    throw error;
  }
  const base = {
    config,
    database,
    store: { db: database.db, cipher, interactionTypes: config.interactionTypes },
    logger,
    apiKeys: new ApiKeyResolver(database.db),
    metrics: new Metrics(),
  };
  return { ...base, jobs: createJobQueue(base) };
}

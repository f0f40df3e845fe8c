import { readFileSync } from 'node:fs';
import {
  AuthError,
  createApiKey,
  createUser,
  listApiKeys,
  listUsers,
  randomToken,
  revokeApiKey,
  setPassword,
  setUserDisabled,
} from '@clientele/auth';
import { ConfigError, loadConfig, type Config } from '@clientele/config';
import { DatabaseSetupError, migrate, openDatabase, type DatabaseHandle } from '@clientele/db';
import { loadDemoData } from '@clientele/demo-data';
import {
  dataQualityReport,
  DomainError,
  eraseCustomer,
  exportCustomer,
  findDuplicateCustomers,
  mergeCustomers,
  rotateContactEncryption,
  type Store,
} from '@clientele/domain';
import { CipherError } from '@clientele/privacy';
import { JobNotFoundError, JobQueue } from '@clientele/jobs';
import { Command, CommanderError, InvalidArgumentError, Option } from 'commander';
import { ensureDevCredentials, type DevCredentials } from '../bootstrap.js';
import { createLogger } from '../logger.js';
import { ServerStartError, startServer } from '../server.js';
import { createCipher, createServices } from '../services.js';
import { progressPrinter } from './progress.js';
import { registerImportCommands } from './import-command.js';
import { registerRecommenderCommands } from './recommender-command.js';
import { positiveInt } from './options.js';

const cliActor = { type: 'cli' as const, name: process.env['USER'] ?? 'cli' };

/** Errors a user can cause and fix: printed as one line, exit status 1, no stack trace. */
function isUserError(error: unknown): error is Error {
  return (
    error instanceof ConfigError ||
    error instanceof DatabaseSetupError ||
    error instanceof ServerStartError ||
    error instanceof AuthError ||
    error instanceof DomainError ||
    error instanceof CipherError ||
    error instanceof JobNotFoundError ||
    error instanceof UsageError
  );
}

class UsageError extends Error {}


function portNumber(value: string): number {
  if (!/^\d+$/.test(value) || Number(value) > 65535) throw new InvalidArgumentError(`expected a port from 0 to 65535, got '${value}'`);
  return Number(value);
}

/** Opens the configured database, runs `work`, and always closes it. */
async function withDatabase<T>(config: Config, work: (database: DatabaseHandle & { store: Store }) => Promise<T>, options: { migrate?: boolean } = {}): Promise<T> {
  const cipher = createCipher(config);
  const database = await openDatabase(config.database, { applicationName: 'clientele-cli', maxConnections: 2 });
  try {
    if (options.migrate !== false) await migrate(database);
    return await work({ ...database, store: { db: database.db, cipher, interactionTypes: config.interactionTypes } });
  } finally {
    await database.close();
  }
}

function readPassword(options: { password?: string; passwordStdin?: boolean }): { password: string; generated: boolean } {
  if (options.password && options.passwordStdin) throw new UsageError('give either --password or --password-stdin, not both');
  if (options.passwordStdin) {
    const password = readFileSync(0, 'utf8').replace(/\r?\n$/, '');
    return { password, generated: false };
  }
  if (options.password) return { password: options.password, generated: false };
  return { password: randomToken(12), generated: true };
}

function table(rows: Record<string, unknown>[]): string {
  if (rows.length === 0) return '(none)';
  const columns = Object.keys(rows[0] ?? {});
  const cell = (value: unknown) => (value instanceof Date ? value.toISOString() : value === null || value === undefined ? '' : String(value));
  const widths = columns.map((c) => Math.max(c.length, ...rows.map((r) => cell(r[c]).length)));
  const line = (values: string[]) => values.map((v, i) => v.padEnd(widths[i] ?? 0)).join('  ').trimEnd();
  return [line(columns), line(widths.map((w) => '-'.repeat(w))), ...rows.map((r) => line(columns.map((c) => cell(r[c]))))].join('\n');
}

function banner(config: Config, url: string, database: DatabaseHandle, credentials: DevCredentials | null): string {
  const lines = [
    '',
    'Clientele is running.',
    `  Console    ${url}/`,
    `  GraphQL    ${url}/graphql${config.env === 'production' ? '' : '  (Apollo Sandbox in the browser)'}`,
    `  Health     ${url}/healthz   ${url}/readyz`,
    `  Database   ${database.kind === 'embedded' ? `embedded PostgreSQL (PGlite) in ${database.location}` : `PostgreSQL ${database.location}`}`,
  ];
  if (credentials?.email) lines.push(`  Sign in    ${credentials.email} / ${credentials.password}`);
  if (credentials?.apiKey) {
    lines.push(`  API key    ${credentials.apiKey}  (scopes: ${credentials.apiKeyScopes.join(', ')})`);
    lines.push(`  Try it     curl -s ${url}/graphql -H 'content-type: application/json' -H 'authorization: Bearer ${credentials.apiKey}' -d '{"query":"{ customers(first: 3) { totalCount nodes { id name } } }"}'`);
  }
  if (!credentials) lines.push('  Sign in    with a user made by `npx clientele users create`');
  lines.push('Press Ctrl-C to stop.', '');
  return lines.join('\n');
}

async function serve(config: Config, options: { port?: number; host?: string; demo: boolean; migrate: boolean; bootstrap: boolean }): Promise<void> {
  const logger = createLogger(config);
  const services = await createServices(config, { logger, migrate: options.migrate });
  let server;
  try {
    let credentials: DevCredentials | null = null;
    if (options.demo && config.demoData === 'auto') {
      const bar = progressPrinter();
      const result = await loadDemoData(services.database.db, services.store.cipher, {
        onProgress: (progress) => bar.update(progress),
      });
      bar.finish();
      if (result.loaded) {
        console.error(`  loaded demo data: ${result.customers.toLocaleString('en')} customers, ${result.items.toLocaleString('en')} items, ${result.interactions.toLocaleString('en')} interactions`);
      }
    }
    if (options.bootstrap) credentials = await ensureDevCredentials(services.database.db, config, services.apiKeys);
    if (config.apiRunsJobs) await services.jobs.startWorker({ concurrency: config.workerConcurrency });
    server = await startServer(services, {
      ...(options.port !== undefined ? { port: options.port } : {}),
      ...(options.host !== undefined ? { host: options.host } : {}),
    });
    console.log(banner(config, server.url, services.database, credentials));
  } catch (error) {
    await services.jobs.stop();
    await services.database.close();
    throw error;
  }
  const running = server;
  await untilSignal(logger, async () => {
    await running.close();
    await services.jobs.stop();
    await services.database.close();
  });
}

/** Waits for SIGINT/SIGTERM, then runs `shutdown`; a second signal forces the exit. */
async function untilSignal(logger: ReturnType<typeof createLogger>, shutdown: () => Promise<void>): Promise<void> {
  await new Promise<void>((resolve) => {
    let stopping = false;
    const stop = (signal: NodeJS.Signals) => {
      if (stopping) {
        console.error('clientele: forced exit');
        process.exit(1);
      }
      stopping = true;
      logger.info({ signal }, 'shutting down');
      console.error(`\nclientele: ${signal} received, finishing in-flight requests… (press Ctrl-C again to force)`);
      void (async () => {
        try {
          await shutdown();
        } catch (error) {
          logger.error({ err: error }, 'error during shutdown');
        }
        process.off('SIGINT', stop);
        process.off('SIGTERM', stop);
        console.error('clientele: stopped');
        resolve();
      })();
    };
    process.on('SIGINT', stop);
    process.on('SIGTERM', stop);
  });
}

export function buildProgram(): Command {
  const program = new Command();
  program
    .name('clientele')
    .description('Clientele: customers, products and interactions, with recommendations and segments built in.\nConfiguration comes from environment variables (DATABASE_URL, CLIENTELE_DATA_DIR, PORT, HOST, …; see the README).')
    .showHelpAfterError('(run with --help for usage)')
    .exitOverride()
    .configureOutput({ outputError: (text, write) => write(`clientele: ${text.replace(/^error: /, '')}`) });

  const serverOptions = (command: Command) =>
    command
      .addOption(new Option('--port <port>', 'port to listen on (overrides PORT)').argParser(portNumber))
      .option('--host <host>', 'address to listen on (overrides HOST)');

  serverOptions(
    program
      .command('start')
      .description('migrate, load demo data on first run, create first-run credentials, and serve the API and console'),
  )
    .option('--no-demo', 'do not load demo data into an empty database')
    .action(async (options: { port?: number; host?: string; demo: boolean }) => {
      await serve(loadConfig(), { ...options, migrate: true, bootstrap: true });
    });

  serverOptions(program.command('serve').description('serve the API and console (runs pending migrations unless --no-migrate)'))
    .option('--no-migrate', 'do not run migrations first')
    .action(async (options: { port?: number; host?: string; migrate: boolean }) => {
      await serve(loadConfig(), { ...options, demo: false, bootstrap: false });
    });

  program
    .command('worker')
    .description('run background jobs (recommender training, segmentation, churn and value models) from the shared queue; start as many as you like on PostgreSQL')
    .addOption(new Option('--concurrency <n>', 'jobs at once (overrides CLIENTELE_WORKER_CONCURRENCY)').argParser(positiveInt('--concurrency')))
    .action(async (options: { concurrency?: number }) => {
      const config = loadConfig();
      const logger = createLogger(config);
      const services = await createServices(config, { logger });
      await services.jobs.startWorker({ concurrency: options.concurrency ?? config.workerConcurrency });
      console.error(`clientele worker: running ${services.jobs.kinds().join(', ') || 'no'} jobs from ${services.database.location}. Ctrl-C to stop.`);
      await untilSignal(logger, async () => {
        await services.jobs.stop();
        await services.database.close();
      });
    });

  const jobsCommand = program.command('jobs').description('background jobs');
  jobsCommand
    .command('list')
    .description('recent jobs, newest first')
    .option('--kind <kind>', 'only this kind')
    .action(async (options: { kind?: string }) => {
      const config = loadConfig();
      await withDatabase(config, async (database) => {
        const queue = new JobQueue(database);
        const rows = await queue.list({ kind: options.kind ?? null, limit: 50 });
        console.log(table(rows.map((j) => ({ id: j.id, kind: j.kind, status: j.status, progress: j.progress ? `${j.progress.stage} ${j.progress.done}/${j.progress.total}` : '', created: j.createdAt, error: j.error ?? '' }))));
      });
    });
  jobsCommand
    .command('cancel')
    .description('cancel a queued or running job')
    .argument('<id>', 'job id')
    .action(async (id: string) => {
      await withDatabase(loadConfig(), async (database) => {
        const job = await new JobQueue(database).cancel(id, cliActor);
        console.log(`job ${job.id} is ${job.status}${job.status === 'running' ? ' (asked to stop)' : ''}`);
      });
    });

  program
    .command('migrate')
    .description('bring the database schema up to date')
    .action(async () => {
      const config = loadConfig();
      await withDatabase(config, async (database) => {
        console.log(`database is up to date (${database.kind === 'embedded' ? database.location : database.location})`);
      });
    });

  program
    .command('demo-data')
    .description('generate and load the demo data set (only into an empty database unless --force)')
    .option('--force', 'load even when the database already has customers or items')
    .addOption(new Option('--customers <n>', 'number of customers').argParser(positiveInt('--customers')).default(4000))
    .addOption(new Option('--items <n>', 'number of items').argParser(positiveInt('--items')).default(1500))
    .addOption(new Option('--interactions <n>', 'about how many interactions').argParser(positiveInt('--interactions')).default(300_000))
    .addOption(new Option('--seed <n>', 'random seed').argParser(positiveInt('--seed')).default(20261123))
    .action(async (options: { force?: boolean; customers: number; items: number; interactions: number; seed: number }) => {
      await withDatabase(loadConfig(), async (database) => {
        const bar = progressPrinter();
        const result = await loadDemoData(database.db, database.store.cipher, { ...options, force: options.force ?? false, onProgress: (p) => bar.update(p) });
        bar.finish();
        console.log(
          result.loaded
            ? `loaded ${result.customers} customers, ${result.items} items, ${result.interactions} interactions`
            : 'the database already has data; nothing loaded (use --force to add the demo set anyway)',
        );
      });
    });

  const users = program.command('users').description('console users (roles: admin, marketer, viewer)');
  users
    .command('create')
    .description('create a console user; prints a generated password unless one is given')
    .requiredOption('--email <email>', 'sign-in email')
    .addOption(new Option('--role <role>', 'role').choices(['admin', 'marketer', 'viewer']).makeOptionMandatory())
    .option('--name <name>', 'display name')
    .option('--password <password>', 'password (at least 10 characters)')
    .option('--password-stdin', 'read the password from standard input')
    .action(async (options: { email: string; role: string; name?: string; password?: string; passwordStdin?: boolean }) => {
      const { password, generated } = readPassword(options);
      await withDatabase(loadConfig(), async ({ db }) => {
        const user = await createUser(db, { email: options.email, password, role: options.role, ...(options.name ? { displayName: options.name } : {}) }, cliActor);
        console.log(`created ${user.role} ${user.email}${generated ? `\npassword: ${password}` : ''}`);
      });
    });
  users
    .command('list')
    .description('list console users')
    .action(async () => {
      await withDatabase(loadConfig(), async ({ db }) => {
        const rows = await listUsers(db);
        console.log(table(rows.map((u) => ({ email: u.email, role: u.role, disabled: u.disabled ? 'yes' : '', lastSignIn: u.lastSignInAt, created: u.createdAt }))));
      });
    });
  users
    .command('set-password')
    .description("set a user's password (signs them out everywhere)")
    .argument('<email>', "the user's email")
    .option('--password <password>', 'new password (at least 10 characters)')
    .option('--password-stdin', 'read the password from standard input')
    .action(async (email: string, options: { password?: string; passwordStdin?: boolean }) => {
      const { password, generated } = readPassword(options);
      await withDatabase(loadConfig(), async ({ db }) => {
        await setPassword(db, email, password, cliActor);
        console.log(`password updated for ${email}${generated ? `\npassword: ${password}` : ''}`);
      });
    });
  for (const [name, disabled] of [['disable', true], ['enable', false]] as const) {
    users
      .command(name)
      .description(disabled ? 'disable a user and end their sessions' : 'enable a disabled user')
      .argument('<email>', "the user's email")
      .action(async (email: string) => {
        await withDatabase(loadConfig(), async ({ db }) => {
          const user = await setUserDisabled(db, email, disabled, cliActor);
          console.log(`${user.email} is ${user.disabled ? 'disabled' : 'enabled'}`);
        });
      });
  }

  const keys = program.command('keys').description('API keys for partner systems (scopes: read, write, admin)');
  keys
    .command('create')
    .description('issue an API key; the secret is printed once')
    .requiredOption('--name <name>', 'what the key is for')
    .requiredOption('--scopes <list>', 'comma-separated scopes, e.g. read,write')
    .option('--expires-in-days <n>', 'expire the key after this many days', positiveInt('--expires-in-days'))
    .action(async (options: { name: string; scopes: string; expiresInDays?: number }) => {
      await withDatabase(loadConfig(), async ({ db }) => {
        const expiresAt = options.expiresInDays ? new Date(Date.now() + options.expiresInDays * 86_400_000) : null;
        const key = await createApiKey(db, { name: options.name, scopes: options.scopes, expiresAt }, cliActor);
        console.log(`created key ${key.prefix} '${key.name}' with scopes ${key.scopes.join(', ')}${expiresAt ? `, expiring ${expiresAt.toISOString()}` : ''}`);
        console.log(`secret (shown once): ${key.key}`);
      });
    });
  keys
    .command('list')
    .description('list API keys')
    .option('--all', 'include revoked keys')
    .action(async (options: { all?: boolean }) => {
      await withDatabase(loadConfig(), async ({ db }) => {
        const rows = await listApiKeys(db, { includeRevoked: options.all ?? false });
        console.log(table(rows.map((k) => ({ prefix: k.prefix, name: k.name, scopes: k.scopes.join(','), lastUsed: k.lastUsedAt, expires: k.expiresAt, revoked: k.revokedAt }))));
      });
    });
  keys
    .command('revoke')
    .description('revoke an API key by its prefix or id')
    .argument('<prefix>', 'the key prefix shown by `keys list` (or the whole key)')
    .action(async (prefix: string) => {
      await withDatabase(loadConfig(), async ({ db }) => {
        const key = await revokeApiKey(db, prefix, cliActor);
        console.log(`revoked key ${key.prefix} '${key.name}' (running servers stop accepting it within seconds)`);
      });
    });

  program
    .command('quality')
    .description('print the data-quality report (counts of rejected, duplicate, cancelled and unusable data; sparsity)')
    .option('--json', 'print JSON instead of a summary')
    .action(async (options: { json?: boolean }) => {
      await withDatabase(loadConfig(), async ({ db }) => {
        const report = await dataQualityReport(db);
        if (options.json) {
          console.log(JSON.stringify(report, null, 2));
          return;
        }
        const d = (x: { median: number; p90: number; max: number; mean: number }) => `median ${x.median}, p90 ${x.p90}, max ${x.max}, mean ${x.mean.toFixed(1)}`;
        console.log([
          `customers ${report.customers} (stubs ${report.stubCustomers}, no usable interactions ${report.customersWithoutUsableInteractions})`,
          `items ${report.items} (stubs ${report.stubItems}, no usable interactions ${report.itemsWithoutUsableInteractions})`,
          `interactions ${report.interactions}: ${report.interactionsByType.map((t) => `${t.type} ${t.count}`).join(', ') || 'none'}`,
          `duplicate events ${report.duplicateEvents}; cancelled purchases ${report.cancelledPurchases}; rating outliers ${report.ratingOutliers}; rows missing a customer id ${report.missingCustomerIds}`,
          `rejected import rows: ${report.rejectedRowsByReason.map((r) => `${r.code} ${r.count}`).join(', ') || 'none'}`,
          `density ${(report.density * 100).toFixed(3)}% of customer × item pairs`,
          `interactions per customer: ${d(report.interactionsPerCustomer)}`,
          `interactions per item: ${d(report.interactionsPerItem)}`,
        ].join('\n'));
      });
    });

  const customersCommand = program.command('customers').description('customer privacy and deduplication');
  customersCommand
    .command('export')
    .description('print everything held about a customer as JSON (GDPR access request)')
    .argument('<id>', "the customer's external id")
    .action(async (id: string) => {
      await withDatabase(loadConfig(), async ({ store }) => {
        console.log(JSON.stringify(await exportCustomer(store, id, cliActor), null, 2));
      });
    });
  customersCommand
    .command('erase')
    .description("erase a customer: contact data, interactions and consent history are deleted (GDPR)")
    .argument('<id>', "the customer's external id")
    .option('--yes', 'confirm; erasing cannot be undone')
    .action(async (id: string, options: { yes?: boolean }) => {
      if (!options.yes) throw new UsageError(`erasing '${id}' cannot be undone: run again with --yes to confirm`);
      await withDatabase(loadConfig(), async ({ store }) => {
        const erased = await eraseCustomer(store, id, cliActor);
        console.log(`erased customer '${id}' and ${erased.interactions} interactions`);
      });
    });
  customersCommand
    .command('duplicates')
    .description('list groups of customers that look like one person')
    .action(async () => {
      await withDatabase(loadConfig(), async ({ store }) => {
        const groups = await findDuplicateCustomers(store);
        console.log(groups.length === 0 ? 'no duplicates found' : groups.map((g) => `${g.reason}: ${g.customers.map((c) => c.externalId).join(', ')}`).join('\n'));
      });
    });
  customersCommand
    .command('merge')
    .description('merge duplicates into a survivor (their interactions move, their ids become aliases)')
    .argument('<survivor>', 'external id of the customer to keep')
    .argument('<duplicates...>', 'external ids of the customers to merge into it')
    .action(async (survivor: string, duplicates: string[]) => {
      await withDatabase(loadConfig(), async ({ store }) => {
        const merged = await mergeCustomers(store, survivor, duplicates, cliActor);
        console.log(`merged ${duplicates.length} into '${merged.survivor.externalId}', moving ${merged.movedInteractions} interactions`);
      });
    });

  program
    .command('rotate-encryption')
    .description('re-encrypt contact data with the current key (the first in CLIENTELE_ENCRYPTION_KEYS); then older keys can be removed')
    .action(async () => {
      await withDatabase(loadConfig(), async ({ store }) => {
        const bar = progressPrinter();
        const rewritten = await rotateContactEncryption(store, { onProgress: (p) => bar.update(p) });
        bar.finish();
        console.log(`re-encrypted ${rewritten} customers with key '${store.cipher.currentKeyId}'`);
      });
    });

  registerImportCommands(program, { withDatabase, table, cliActor });
  registerRecommenderCommands(program, { withDatabase, table, cliActor });
  return program;
}

/** Runs the CLI with the given argv; exits the process with a status on failure. */
export async function main(argv: string[]): Promise<void> {
  const program = buildProgram();
  try {
    await program.parseAsync(argv);
  } catch (error) {
    if (error instanceof CommanderError) {
      // Help and version exit 0; usage errors were already printed by commander.
      process.exit(error.exitCode);
    }
    if (isUserError(error)) {
      console.error(`clientele: ${error.message}`);
      process.exit(1);
    }
    console.error('clientele: unexpected error (please report it):', error);
    process.exit(70);
  }
}

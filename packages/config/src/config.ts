import os from 'node:os';
import path from 'node:path';

// All configuration comes from environment variables, parsed and validated once at start-up
// here and passed down. Nothing else in the code base reads process.env for settings.

export const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;
export type LogLevel = (typeof LOG_LEVELS)[number];
export type RuntimeEnv = 'development' | 'production' | 'test';

export type DatabaseConfig =
  | { kind: 'embedded'; dataDir: string }
  | { kind: 'postgres'; url: string };

export interface Config {
  env: RuntimeEnv;
  host: string;
  port: number;
  /** Folder for the embedded database and development credentials. */
  dataDir: string;
  database: DatabaseConfig;
  logLevel: LogLevel;
  /** Load generated demo data when the database is empty (`auto`), or never (`off`). */
  demoData: 'auto' | 'off';
  sessionTtlHours: number;
  /** Threads for native compute; 0 means one per core. */
  computeThreads: number;
  /** Native threads per recommendation scoring batch in the API (the rest of the cores serve requests). */
  servingThreads: number;
  /**
   * A recommendation request this many ms after the previous one, with nothing scoring or
   * queued, is scored on the event loop instead of a native thread (Infinity: never).
   */
  servingInlineAfterIdleMs: number;
  /** Maximum GraphQL query depth and cost accepted from clients. */
  graphqlMaxDepth: number;
  graphqlMaxCost: number;
  /**
   * Keyring for contact-data encryption, `id:base64key,…` (first is current), as given in
   * CLIENTELE_ENCRYPTION_KEYS; null means "use the development key file in the data folder"
   * (refused in production).
   */
  encryptionKeys: string | null;
  /** Interaction types accepted: the built-in ones plus CLIENTELE_INTERACTION_TYPES. */
  interactionTypes: readonly string[];
  /**
   * Whether the API process also runs background jobs (training, segmentation). Always so on
   * the embedded database; on PostgreSQL, set CLIENTELE_API_RUNS_JOBS=off and run
   * `clientele worker` processes instead.
   */
  apiRunsJobs: boolean;
  /** Jobs a worker runs at once. */
  workerConcurrency: number;
  /** How often each API process looks for a newly activated recommender model (ms). */
  recommenderPollMs: number;
}

export const BUILT_IN_INTERACTION_TYPES = ['view', 'click', 'add_to_cart', 'purchase', 'rating'] as const;

function interactionTypes(env: Env): string[] {
  const raw = read(env, 'CLIENTELE_INTERACTION_TYPES');
  const types: string[] = [...BUILT_IN_INTERACTION_TYPES];
  if (raw === undefined) return types;
  for (const part of raw.split(',').map((p) => p.trim()).filter(Boolean)) {
    if (!/^[a-z][a-z0-9_]{0,39}$/.test(part)) {
      throw new ConfigError('CLIENTELE_INTERACTION_TYPES', 'a comma-separated list of lower-case names like wishlist,share', part);
    }
    if (!types.includes(part)) types.push(part);
  }
  return types;
}

/** A configuration mistake: names the variable, what was expected and what was received. */
export class ConfigError extends Error {
  readonly variable: string;
  constructor(variable: string, expected: string, received: string | undefined) {
    super(
      `${variable}: expected ${expected}, got ${received === undefined ? 'nothing' : `'${received}'`}`,
    );
    this.name = 'ConfigError';
    this.variable = variable;
  }
}

type Env = Record<string, string | undefined>;

function read(env: Env, name: string): string | undefined {
  const value = env[name];
  if (value === undefined) return undefined;
  const trimmed = value.trim();
  return trimmed === '' ? undefined : trimmed;
}

function integer(env: Env, name: string, fallback: number, min: number, max: number): number {
  const raw = read(env, name);
  if (raw === undefined) return fallback;
  if (!/^-?\d+$/.test(raw)) throw new ConfigError(name, `an integer from ${min} to ${max}`, raw);
  const value = Number(raw);
  if (value < min || value > max) {
    throw new ConfigError(name, `an integer from ${min} to ${max}`, raw);
  }
  return value;
}

/** Whole milliseconds from 0 to max, or `off` (Infinity). */
function millisecondsOrOff(env: Env, name: string, fallback: number, max: number): number {
  const raw = read(env, name);
  if (raw === 'off') return Number.POSITIVE_INFINITY;
  if (raw !== undefined && !/^\d+$/.test(raw)) throw new ConfigError(name, `whole milliseconds from 0 to ${max}, or off`, raw);
  return integer(env, name, fallback, 0, max);
}

function oneOf<T extends string>(env: Env, name: string, allowed: readonly T[], fallback: T): T {
  const raw = read(env, name);
  if (raw === undefined) return fallback;
  const lower = raw.toLowerCase();
  const found = allowed.find((candidate) => candidate === lower);
  if (found === undefined) throw new ConfigError(name, `one of ${allowed.join(', ')}`, raw);
  return found;
}

function databaseUrl(env: Env): string | undefined {
  const raw = read(env, 'DATABASE_URL');
  if (raw === undefined) return undefined;
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    throw new ConfigError(
      'DATABASE_URL',
      'a URL like postgres://user@host:5432/database (or unset it to use the embedded database)',
      raw,
    );
  }
  if (url.protocol !== 'postgres:' && url.protocol !== 'postgresql:') {
    throw new ConfigError(
      'DATABASE_URL',
      'a postgres:// or postgresql:// URL (or unset it to use the embedded database)',
      raw,
    );
  }
  if (url.pathname.length <= 1) {
    throw new ConfigError('DATABASE_URL', 'a URL that names a database, like …:5432/clientele', raw);
  }
  return raw;
}

function encryptionKeys(env: Env, runtime: RuntimeEnv): string | null {
  const raw = read(env, 'CLIENTELE_ENCRYPTION_KEYS');
  if (raw === undefined && runtime === 'production') {
    throw new ConfigError(
      'CLIENTELE_ENCRYPTION_KEYS',
      "a keyring like 'k1:<32 random bytes in base64>' in production (generate one with `openssl rand -base64 32`)",
      undefined,
    );
  }
  return raw ?? null;
}

/**
 * Parses the environment into a Config. Defaults describe the embedded mode: no database
 * server, data under `.clientele/` in the working directory, the API on 127.0.0.1:4000.
 */
export function loadConfig(env: Env = process.env, cwd: string = process.cwd()): Config {
  const runtime = oneOf<RuntimeEnv>(
    env,
    'NODE_ENV',
    ['development', 'production', 'test'],
    'development',
  );
  const dataDir = path.resolve(cwd, read(env, 'CLIENTELE_DATA_DIR') ?? '.clientele');
  const url = databaseUrl(env);
  const host = read(env, 'HOST') ?? '127.0.0.1';
  return {
    env: runtime,
    host,
    port: integer(env, 'PORT', 4000, 0, 65535),
    dataDir,
    database: url === undefined ? { kind: 'embedded', dataDir } : { kind: 'postgres', url },
    logLevel: oneOf(env, 'LOG_LEVEL', LOG_LEVELS, runtime === 'test' ? 'silent' : 'info'),
    demoData: oneOf(env, 'CLIENTELE_DEMO_DATA', ['auto', 'off'], 'auto'),
    sessionTtlHours: integer(env, 'CLIENTELE_SESSION_TTL_HOURS', 12, 1, 24 * 90),
    computeThreads: integer(env, 'CLIENTELE_THREADS', 0, 0, Math.max(256, os.cpus().length)),
    servingThreads: integer(env, 'CLIENTELE_SERVING_THREADS', 1, 0, Math.max(256, os.cpus().length)),
    servingInlineAfterIdleMs: millisecondsOrOff(env, 'CLIENTELE_SERVING_INLINE_AFTER_IDLE_MS', 1, 60_000),
    graphqlMaxDepth: integer(env, 'CLIENTELE_GRAPHQL_MAX_DEPTH', 12, 2, 64),
    graphqlMaxCost: integer(env, 'CLIENTELE_GRAPHQL_MAX_COST', 20000, 100, 10_000_000),
    encryptionKeys: encryptionKeys(env, runtime),
    interactionTypes: interactionTypes(env),
    apiRunsJobs: url === undefined || oneOf(env, 'CLIENTELE_API_RUNS_JOBS', ['on', 'off'], 'on') === 'on',
    workerConcurrency: integer(env, 'CLIENTELE_WORKER_CONCURRENCY', 1, 1, 64),
    recommenderPollMs: integer(env, 'CLIENTELE_RECOMMENDER_POLL_MS', 2000, 100, 600_000),
  };
}

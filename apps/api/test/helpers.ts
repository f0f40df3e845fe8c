import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { createApiKey, createUser, type Scope } from '@clientele/auth';
import { loadConfig } from '@clientele/config';
import { createTestDatabase, type TestDatabase } from '@clientele/db/testing';
import type { Services } from '../src/context.js';
import type { Logger } from '../src/logger.js';
import { startServer, type RunningServer } from '../src/server.js';
import { createServices } from '../src/services.js';

export interface TestApp {
  url: string;
  services: Services;
  database: TestDatabase;
  server: RunningServer;
  key(scopes: Scope[], name?: string): Promise<string>;
  user(role: 'admin' | 'marketer' | 'viewer', email?: string): Promise<{ email: string; password: string }>;
  graphql(query: string, options?: { key?: string; variables?: Record<string, unknown>; cookie?: string }): Promise<{ status: number; body: GraphQLBody }>;
  close(): Promise<void>;
}

export interface GraphQLBody {
  data?: Record<string, unknown> | null;
  errors?: { message: string; extensions?: { code?: string; field?: string } }[];
  extensions?: Record<string, unknown>;
}

/** The real server on a random port, over a fresh test database (PGlite or PostgreSQL). */
export async function startTestApp(env: Record<string, string> = {}, options: { logger?: Logger } = {}): Promise<TestApp> {
  const database = await createTestDatabase();
  // A fixed test keyring: tests never touch a key file.
  const config = loadConfig({ NODE_ENV: 'test', CLIENTELE_ENCRYPTION_KEYS: `test:${Buffer.alloc(32, 3).toString('base64')}`, ...env });
  const services = await createServices(config, { database, migrate: false, ...(options.logger ? { logger: options.logger } : {}) });
  await services.jobs.startWorker();
  const server = await startServer(services, { port: 0, host: '127.0.0.1' });
  const actor = { type: 'system' as const, name: 'test' };
  let counter = 0;
  return {
    url: server.url,
    services,
    database,
    server,
    async key(scopes, name = `key-${++counter}`) {
      return (await createApiKey(database.db, { name, scopes }, actor)).key;
    },
    async user(role, email = `${role}-${++counter}@example.com`) {
      const password = `password-for-${role}-${counter}`;
      await createUser(database.db, { email, password, role }, actor);
      return { email, password };
    },
    async graphql(query, options = {}) {
      const headers: Record<string, string> = { 'content-type': 'application/json' };
      if (options.key) headers['authorization'] = `Bearer ${options.key}`;
      if (options.cookie) headers['cookie'] = options.cookie;
      const response = await fetch(`${server.url}/graphql`, {
        method: 'POST',
        headers,
        body: JSON.stringify({ query, variables: options.variables ?? {} }),
      });
      return { status: response.status, body: (await response.json()) as GraphQLBody };
    },
    async close() {
      await server.close();
      await services.jobs.stop();
      await database.close();
    },
  };
}

export const cliBin = fileURLToPath(new URL('../bin/clientele.js', import.meta.url));

/** Runs `clientele …` as its own process with only the given environment (plus PATH and HOME). */
export function runCli(args: string[], env: Record<string, string | undefined>, input?: string) {
  const result = spawnSync(process.execPath, [cliBin, ...args], {
    env: { PATH: process.env['PATH'], HOME: process.env['HOME'], NODE_ENV: 'test', ...env },
    encoding: 'utf8',
    input,
    // Each call starts Node and opens the database; on a loaded 2-core machine that is slow.
    timeout: 180_000,
  });
  return { status: result.status, stdout: result.stdout, stderr: result.stderr };
}

export interface CliWorkspace {
  /** A temporary folder, removed by close(). */
  dir: string;
  /** The configuration the CLI is run with: a fresh PostgreSQL database on the PostgreSQL pass, else an embedded one in `dir`. */
  env: Record<string, string | undefined>;
  /** The PostgreSQL database the CLI is pointed at (the PostgreSQL pass only). */
  database: TestDatabase | undefined;
  close(): Promise<void>;
}

export async function cliWorkspace(prefix: string): Promise<CliWorkspace> {
  const dir = mkdtempSync(path.join(os.tmpdir(), prefix));
  const database = process.env['DATABASE_URL'] ? await createTestDatabase() : undefined;
  const env = { ...(database ? { DATABASE_URL: database.url } : {}), CLIENTELE_DATA_DIR: path.join(dir, 'data') };
  return {
    dir,
    env,
    database,
    async close() {
      await database?.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

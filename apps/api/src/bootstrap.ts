import { chmodSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { createApiKey, createUser, listUsers, randomToken, type ApiKeyResolver } from '@clientele/auth';
import type { Config } from '@clientele/config';
import type { Database } from '@clientele/db';

// First-run credentials for development: an admin user and an API key, kept in the data
// folder (readable by the owner only) so every `npm start` can print how to sign in.

export interface DevCredentials {
  email: string;
  password: string;
  apiKey: string;
  apiKeyScopes: string[];
}

export const DEV_ADMIN_EMAIL = 'admin@clientele.local';

function credentialsFile(config: Config): string {
  return path.join(config.dataDir, 'dev-credentials.json');
}

function readCredentials(file: string): DevCredentials | null {
  if (!existsSync(file)) return null;
  try {
    const parsed = JSON.parse(readFileSync(file, 'utf8')) as Partial<DevCredentials>;
    if (typeof parsed.email === 'string' && typeof parsed.password === 'string' && typeof parsed.apiKey === 'string') {
      return { email: parsed.email, password: parsed.password, apiKey: parsed.apiKey, apiKeyScopes: parsed.apiKeyScopes ?? [] };
    }
  } catch {
    // An unreadable file is treated as absent; a new admin is only made when none exists.
  }
  return null;
}

/**
 * Makes the first admin user and a development API key when the database has no users, and
 * returns the stored development credentials (null in production or when they are gone).
 */
export async function ensureDevCredentials(
  db: Database,
  config: Config,
  apiKeys: ApiKeyResolver,
): Promise<DevCredentials | null> {
  if (config.env === 'production') return null;
  const file = credentialsFile(config);
  const users = await listUsers(db);
  if (users.length === 0) {
    const actor = { type: 'system' as const, name: 'first-run' };
    const password = randomToken(12);
    await createUser(db, { email: DEV_ADMIN_EMAIL, password, role: 'admin', displayName: 'Administrator' }, actor);
    const key = await createApiKey(db, { name: 'Development key', scopes: ['read', 'write', 'admin'] }, actor);
    const credentials: DevCredentials = { email: DEV_ADMIN_EMAIL, password, apiKey: key.key, apiKeyScopes: key.scopes };
    mkdirSync(path.dirname(file), { recursive: true });
    writeFileSync(file, JSON.stringify(credentials, null, 2) + '\n', { mode: 0o600 });
    chmodSync(file, 0o600);
    return credentials;
  }
  const stored = readCredentials(file);
  if (!stored) return null;
  // Only show what still works: the key may have been revoked, the user removed.
  const keyWorks = (await apiKeys.resolve(stored.apiKey)) !== null;
  const userExists = users.some((user) => user.email === stored.email && !user.disabled);
  if (!keyWorks && !userExists) return null;
  return {
    email: userExists ? stored.email : '',
    password: userExists ? stored.password : '',
    apiKey: keyWorks ? stored.apiKey : '',
    apiKeyScopes: stored.apiKeyScopes,
  };
}

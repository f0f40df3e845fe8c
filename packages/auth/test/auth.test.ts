import { apiKeys, auditLog, sessions } from '@clientele/db';
import { createTestDatabase, type TestDatabase } from '@clientele/db/testing';
import { eq } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  ApiKeyResolver,
  AuthError,
  createApiKey,
  createUser,
  listApiKeys,
  parseScopes,
  requireScope,
  resolveSession,
  revokeApiKey,
  setPassword,
  setUserDisabled,
  signIn,
  signOut,
} from '../src/index.js';

const cli = { type: 'cli' as const, name: 'test' };

describe('auth', () => {
  let handle: TestDatabase;
  beforeAll(async () => {
    handle = await createTestDatabase();
  });
  afterAll(async () => {
    await handle?.close();
  });

  it('creates users with hashed passwords and rejects bad input specifically', async () => {
    const user = await createUser(handle.db, { email: ' Ada@Example.com ', password: 'correct horse battery', role: 'marketer' }, cli);
    expect(user.email).toBe('ada@example.com');
    expect(user.role).toBe('marketer');
    await expect(createUser(handle.db, { email: 'ada@example.com', password: 'another password', role: 'viewer' }, cli)).rejects.toThrow(/already exists/);
    await expect(createUser(handle.db, { email: 'bob@example.com', password: 'short', role: 'viewer' }, cli)).rejects.toThrow(/password: expected at least 10 characters, got 5/);
    await expect(createUser(handle.db, { email: 'bob@example.com', password: 'long enough pw', role: 'owner' }, cli)).rejects.toThrow(/role: expected one of admin, marketer, viewer, got 'owner'/);
    await expect(createUser(handle.db, { email: 'not-an-email', password: 'long enough pw', role: 'viewer' }, cli)).rejects.toThrow(/email: expected an address/);
    const audit = await handle.db.select().from(auditLog).where(eq(auditLog.operation, 'user.create'));
    expect(audit).toHaveLength(1);
    expect(JSON.stringify(audit)).not.toContain('correct horse');
  });

  it('signs in with the right password only, and sessions resolve until signed out', async () => {
    await expect(signIn(handle.db, { email: 'ada@example.com', password: 'wrong password', ttlHours: 1 })).rejects.toThrow('email or password is incorrect');
    await expect(signIn(handle.db, { email: 'nobody@example.com', password: 'whatever1234', ttlHours: 1 })).rejects.toThrow('email or password is incorrect');
    const session = await signIn(handle.db, { email: 'ADA@example.com', password: 'correct horse battery', ttlHours: 1 });
    expect(session.principal).toMatchObject({ kind: 'user', email: 'ada@example.com', role: 'marketer', scopes: ['read', 'write'] });
    const stored = await handle.db.select().from(sessions);
    expect(stored.map((s) => s.tokenHash)).not.toContain(session.token);
    expect(await resolveSession(handle.db, session.token)).toMatchObject({ email: 'ada@example.com' });
    expect(await resolveSession(handle.db, session.token + 'x')).toBeNull();
    await signOut(handle.db, session.token);
    expect(await resolveSession(handle.db, session.token)).toBeNull();
  });

  it('expired sessions and disabled users do not resolve; a new password ends old sessions', async () => {
    const session = await signIn(handle.db, { email: 'ada@example.com', password: 'correct horse battery', ttlHours: 1 });
    await handle.db.update(sessions).set({ expiresAt: new Date(Date.now() - 1000) });
    expect(await resolveSession(handle.db, session.token)).toBeNull();

    const second = await signIn(handle.db, { email: 'ada@example.com', password: 'correct horse battery', ttlHours: 1 });
    await setPassword(handle.db, 'ada@example.com', 'a brand new passphrase', cli);
    expect(await resolveSession(handle.db, second.token)).toBeNull();

    await setUserDisabled(handle.db, 'ada@example.com', true, cli);
    await expect(signIn(handle.db, { email: 'ada@example.com', password: 'a brand new passphrase', ttlHours: 1 })).rejects.toThrow(/disabled/);
    await setUserDisabled(handle.db, 'ada@example.com', false, cli);
    await expect(signIn(handle.db, { email: 'ada@example.com', password: 'a brand new passphrase', ttlHours: 1 })).resolves.toBeTruthy();
  });

  it('issues API keys stored only as hashes, resolves them to scoped principals, and revokes them', async () => {
    const created = await createApiKey(handle.db, { name: 'Shop front', scopes: 'read,write' }, cli);
    expect(created.key).toMatch(/^clt_[0-9a-f]{12}_[A-Za-z0-9_-]{43}$/);
    const rows = await handle.db.select().from(apiKeys);
    expect(JSON.stringify(rows)).not.toContain(created.key);

    const resolver = new ApiKeyResolver(handle.db, { ttlMs: 60_000 });
    const principal = await resolver.resolve(created.key);
    expect(principal).toMatchObject({ kind: 'api_key', name: 'Shop front', scopes: ['read', 'write'] });
    expect(await resolver.resolve(created.key.slice(0, -1) + (created.key.endsWith('A') ? 'B' : 'A'))).toBeNull();
    expect(() => requireScope(principal, 'admin')).toThrow(/needs the 'admin' scope/);
    expect(requireScope(principal, 'write')).toBe(principal);

    await revokeApiKey(handle.db, created.prefix, cli);
    // Cached for the TTL in this resolver, gone once invalidated or for a fresh one.
    resolver.invalidate();
    expect(await resolver.resolve(created.key)).toBeNull();
    expect((await listApiKeys(handle.db)).map((k) => k.prefix)).not.toContain(created.prefix);
    expect((await listApiKeys(handle.db, { includeRevoked: true })).map((k) => k.prefix)).toContain(created.prefix);
    await expect(revokeApiKey(handle.db, 'ffffffffffff', cli)).rejects.toThrow(/no API key/);
  });

  it('honours key expiry', async () => {
    const created = await createApiKey(handle.db, { name: 'Short lived', scopes: ['read'], expiresAt: new Date(Date.now() + 60_000) }, cli);
    await handle.db.update(apiKeys).set({ expiresAt: new Date(Date.now() - 1) }).where(eq(apiKeys.id, created.id));
    expect(await new ApiKeyResolver(handle.db).resolve(created.key)).toBeNull();
  });

  it('parses scope lists and names the bad entry', () => {
    expect(parseScopes('read, write,read')).toEqual(['read', 'write']);
    expect(() => parseScopes('read,root')).toThrow("scopes: expected one of read, write, admin, got 'root'");
    expect(() => parseScopes('')).toThrow(AuthError);
    expect(() => requireScope(null, 'read')).toThrow(/credentials are required/);
  });
});

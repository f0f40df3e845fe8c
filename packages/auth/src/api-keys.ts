import { randomBytes } from 'node:crypto';
import { apiKeys, recordAudit, type AuditActor, type Database } from '@clientele/db';
import { and, asc, eq, isNull, or, gt } from 'drizzle-orm';
import { AuthError } from './errors.js';
import { isScope, parseScopes, type Principal, type Scope } from './principal.js';
import { hashToken, randomToken } from './tokens.js';

// Keys look like `clt_<12 hex prefix>_<43 base64url secret>`. The prefix is public (lists,
// logs, audit); only the SHA-256 of the whole key is stored.

export interface ApiKeyInfo {
  id: number;
  prefix: string;
  name: string;
  scopes: Scope[];
  createdBy: string | null;
  createdAt: Date;
  lastUsedAt: Date | null;
  expiresAt: Date | null;
  revokedAt: Date | null;
}

export interface CreatedApiKey extends ApiKeyInfo {
  /** The secret key; shown once, never stored. */
  key: string;
}

function toInfo(row: typeof apiKeys.$inferSelect): ApiKeyInfo {
  return {
    id: row.id,
    prefix: row.prefix,
    name: row.name,
    scopes: row.scopes.filter(isScope),
    createdBy: row.createdBy,
    createdAt: row.createdAt,
    lastUsedAt: row.lastUsedAt,
    expiresAt: row.expiresAt,
    revokedAt: row.revokedAt,
  };
}

export async function createApiKey(
  db: Database,
  input: { name: string; scopes: readonly string[] | string; expiresAt?: Date | null },
  actor: AuditActor,
): Promise<CreatedApiKey> {
  const name = input.name.trim();
  if (name.length === 0 || name.length > 200) {
    throw new AuthError('BAD_USER_INPUT', `name: expected 1 to 200 characters, got ${name.length}`);
  }
  const scopes = parseScopes(input.scopes);
  if (input.expiresAt && input.expiresAt.getTime() <= Date.now()) {
    throw new AuthError('BAD_USER_INPUT', `expiresAt: expected a time in the future, got ${input.expiresAt.toISOString()}`);
  }
  const prefix = randomBytes(6).toString('hex');
  const key = `clt_${prefix}_${randomToken(32)}`;
  return db.transaction(async (tx) => {
    const [row] = await tx
      .insert(apiKeys)
      .values({
        prefix,
        keyHash: hashToken(key),
        name,
        scopes,
        createdBy: actor.name ?? actor.type,
        expiresAt: input.expiresAt ?? null,
      })
      .returning();
    if (!row) throw new Error('insert returned no row');
    await recordAudit(tx, { actor, operation: 'api_key.create', targetType: 'api_key', targetId: prefix, details: { name, scopes } });
    return { ...toInfo(row), key };
  });
}

export async function listApiKeys(db: Database, options: { includeRevoked?: boolean } = {}): Promise<ApiKeyInfo[]> {
  const rows = await db
    .select()
    .from(apiKeys)
    .where(options.includeRevoked ? undefined : isNull(apiKeys.revokedAt))
    .orderBy(asc(apiKeys.id));
  return rows.map(toInfo);
}

/** Revokes by prefix (or numeric id). Revoking twice is not an error. */
export async function revokeApiKey(db: Database, idOrPrefix: string, actor: AuditActor): Promise<ApiKeyInfo> {
  const match = /^\d+$/.test(idOrPrefix)
    ? or(eq(apiKeys.id, Number(idOrPrefix)), eq(apiKeys.prefix, idOrPrefix))
    : eq(apiKeys.prefix, idOrPrefix.replace(/^clt_/, '').split('_')[0] ?? '');
  return db.transaction(async (tx) => {
    const [existing] = await tx.select().from(apiKeys).where(match);
    if (!existing) throw new AuthError('NOT_FOUND', `no API key with id or prefix '${idOrPrefix}'`);
    if (existing.revokedAt) return toInfo(existing);
    const [row] = await tx.update(apiKeys).set({ revokedAt: new Date() }).where(eq(apiKeys.id, existing.id)).returning();
    await recordAudit(tx, { actor, operation: 'api_key.revoke', targetType: 'api_key', targetId: existing.prefix });
    if (!row) throw new Error('update returned no row');
    return toInfo(row);
  });
}

/**
 * Resolves bearer keys to principals. Hits are cached for a few seconds per process so a busy
 * API does not query the database on every request; a revocation therefore takes effect
 * within `ttlMs` everywhere.
 */
export class ApiKeyResolver {
  private readonly cache = new Map<string, { principal: Principal | null; until: number }>();
  private readonly ttlMs: number;
  private readonly maxEntries: number;
  private readonly lastUsedWritten = new Map<number, number>();

  constructor(
    private readonly db: Database,
    options: { ttlMs?: number; maxEntries?: number } = {},
  ) {
    this.ttlMs = options.ttlMs ?? 5_000;
    this.maxEntries = options.maxEntries ?? 10_000;
  }

  async resolve(key: string): Promise<Principal | null> {
    if (!key.startsWith('clt_') || key.length > 200) return null;
    const keyHash = hashToken(key);
    const now = Date.now();
    const cached = this.cache.get(keyHash);
    if (cached && cached.until > now) return cached.principal;
    const [row] = await this.db
      .select()
      .from(apiKeys)
      .where(and(eq(apiKeys.keyHash, keyHash), isNull(apiKeys.revokedAt), or(isNull(apiKeys.expiresAt), gt(apiKeys.expiresAt, new Date(now)))));
    const principal: Principal | null = row
      ? { kind: 'api_key', id: row.id, name: row.name, prefix: row.prefix, scopes: row.scopes.filter(isScope) }
      : null;
    if (this.cache.size >= this.maxEntries) this.cache.clear();
    this.cache.set(keyHash, { principal, until: now + this.ttlMs });
    if (row) await this.touch(row.id, now);
    return principal;
  }

  /** Forget cached answers (after a revocation in this process). */
  invalidate(): void {
    this.cache.clear();
  }

  private async touch(id: number, now: number): Promise<void> {
    const last = this.lastUsedWritten.get(id) ?? 0;
    if (now - last < 60_000) return;
    this.lastUsedWritten.set(id, now);
    await this.db.update(apiKeys).set({ lastUsedAt: new Date(now) }).where(eq(apiKeys.id, id));
  }
}

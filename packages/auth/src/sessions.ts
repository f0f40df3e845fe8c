import { adminUsers, recordAudit, sessions, type Database } from '@clientele/db';
import { and, eq, gt, lt } from 'drizzle-orm';
import { AuthError } from './errors.js';
import { normaliseEmail } from './users.js';
import { timingDummyHash, verifyPassword } from './passwords.js';
import { hashToken, randomToken } from './tokens.js';
import { scopesForRole, type Principal } from './principal.js';

export interface SignInResult {
  token: string;
  expiresAt: Date;
  principal: Extract<Principal, { kind: 'user' }>;
}

const INVALID = 'email or password is incorrect';

/** Checks the password and opens a session. The same error whether the email exists or not. */
export async function signIn(
  db: Database,
  input: { email: string; password: string; userAgent?: string | undefined; ttlHours: number },
): Promise<SignInResult> {
  let email: string;
  try {
    email = normaliseEmail(input.email);
  } catch {
    await verifyPassword(await timingDummyHash(), input.password);
    throw new AuthError('UNAUTHENTICATED', INVALID);
  }
  const [user] = await db.select().from(adminUsers).where(eq(adminUsers.email, email));
  const ok = await verifyPassword(user?.passwordHash ?? (await timingDummyHash()), input.password);
  if (!user || !ok) throw new AuthError('UNAUTHENTICATED', INVALID);
  if (user.disabledAt) throw new AuthError('UNAUTHENTICATED', 'this account is disabled: ask an administrator');
  const token = randomToken();
  const expiresAt = new Date(Date.now() + input.ttlHours * 3_600_000);
  await db.transaction(async (tx) => {
    await tx.insert(sessions).values({
      tokenHash: hashToken(token),
      userId: user.id,
      userAgent: input.userAgent?.slice(0, 500) ?? null,
      expiresAt,
    });
    await tx.update(adminUsers).set({ lastSignInAt: new Date() }).where(eq(adminUsers.id, user.id));
    await recordAudit(tx, {
      actor: { type: 'user', id: String(user.id), name: user.email },
      operation: 'session.sign_in',
      targetType: 'admin_user',
      targetId: user.email,
    });
  });
  return {
    token,
    expiresAt,
    principal: { kind: 'user', id: user.id, email: user.email, role: user.role, scopes: scopesForRole(user.role) },
  };
}

/** The signed-in user for a session token, or null when unknown, expired or disabled. */
export async function resolveSession(db: Database, token: string): Promise<Principal | null> {
  if (token.length < 20 || token.length > 200) return null;
  const now = new Date();
  const [row] = await db
    .select({ user: adminUsers, lastSeenAt: sessions.lastSeenAt })
    .from(sessions)
    .innerJoin(adminUsers, eq(adminUsers.id, sessions.userId))
    .where(and(eq(sessions.tokenHash, hashToken(token)), gt(sessions.expiresAt, now)));
  if (!row || row.user.disabledAt) return null;
  // Touch at most once a minute: keeps reads cheap while showing recent activity.
  if (now.getTime() - row.lastSeenAt.getTime() > 60_000) {
    await db.update(sessions).set({ lastSeenAt: now }).where(eq(sessions.tokenHash, hashToken(token)));
  }
  const { user } = row;
  return { kind: 'user', id: user.id, email: user.email, role: user.role, scopes: scopesForRole(user.role) };
}

export async function signOut(db: Database, token: string): Promise<void> {
  await db.delete(sessions).where(eq(sessions.tokenHash, hashToken(token)));
}

export async function deleteExpiredSessions(db: Database): Promise<number> {
  const removed = await db.delete(sessions).where(lt(sessions.expiresAt, new Date())).returning({ id: sessions.tokenHash });
  return removed.length;
}

import { adminUsers, recordAudit, sessions, type AuditActor, type Database } from '@clientele/db';
import { asc, eq } from 'drizzle-orm';
import { AuthError } from './errors.js';
import { hashPassword } from './passwords.js';
import { isRole, type Role } from './principal.js';

export interface AdminUser {
  id: number;
  email: string;
  displayName: string | null;
  role: Role;
  disabled: boolean;
  lastSignInAt: Date | null;
  createdAt: Date;
}

const EMAIL = /^[^\s@]+@[^\s@]+$/;

export function normaliseEmail(email: string): string {
  const trimmed = email.trim().toLowerCase();
  if (!EMAIL.test(trimmed) || trimmed.length > 320) {
    throw new AuthError('BAD_USER_INPUT', `email: expected an address like name@example.com, got '${email}'`);
  }
  return trimmed;
}

function toUser(row: typeof adminUsers.$inferSelect): AdminUser {
  return {
    id: row.id,
    email: row.email,
    displayName: row.displayName,
    role: row.role,
    disabled: row.disabledAt !== null,
    lastSignInAt: row.lastSignInAt,
    createdAt: row.createdAt,
  };
}

export interface CreateUserInput {
  email: string;
  password: string;
  role: string;
  displayName?: string;
}

export async function createUser(db: Database, input: CreateUserInput, actor: AuditActor): Promise<AdminUser> {
  const email = normaliseEmail(input.email);
  if (!isRole(input.role)) {
    throw new AuthError('BAD_USER_INPUT', `role: expected one of admin, marketer, viewer, got '${input.role}'`);
  }
  const role = input.role;
  const passwordHash = await hashPassword(input.password);
  return db.transaction(async (tx) => {
    const existing = await tx.select({ id: adminUsers.id }).from(adminUsers).where(eq(adminUsers.email, email));
    if (existing.length > 0) throw new AuthError('CONFLICT', `a user with email ${email} already exists`);
    const [row] = await tx
      .insert(adminUsers)
      .values({ email, passwordHash, role, displayName: input.displayName ?? null })
      .returning();
    if (!row) throw new Error('insert returned no row');
    await recordAudit(tx, { actor, operation: 'user.create', targetType: 'admin_user', targetId: email, details: { role } });
    return toUser(row);
  });
}

export async function listUsers(db: Database): Promise<AdminUser[]> {
  const rows = await db.select().from(adminUsers).orderBy(asc(adminUsers.id));
  return rows.map(toUser);
}

export async function findUserByEmail(db: Database, email: string): Promise<AdminUser | null> {
  const [row] = await db.select().from(adminUsers).where(eq(adminUsers.email, normaliseEmail(email)));
  return row ? toUser(row) : null;
}

async function requireUser(db: Database, email: string) {
  const normalised = normaliseEmail(email);
  const [row] = await db.select().from(adminUsers).where(eq(adminUsers.email, normalised));
  if (!row) throw new AuthError('NOT_FOUND', `no user with email ${normalised}`);
  return row;
}

/** Sets a new password and signs the user out everywhere. */
export async function setPassword(db: Database, email: string, password: string, actor: AuditActor): Promise<void> {
  const user = await requireUser(db, email);
  const passwordHash = await hashPassword(password);
  await db.transaction(async (tx) => {
    await tx.update(adminUsers).set({ passwordHash, updatedAt: new Date() }).where(eq(adminUsers.id, user.id));
    await tx.delete(sessions).where(eq(sessions.userId, user.id));
    await recordAudit(tx, { actor, operation: 'user.set_password', targetType: 'admin_user', targetId: user.email });
  });
}

/** Disables (or re-enables) a user; disabling ends their sessions. */
export async function setUserDisabled(db: Database, email: string, disabled: boolean, actor: AuditActor): Promise<AdminUser> {
  const user = await requireUser(db, email);
  return db.transaction(async (tx) => {
    const [row] = await tx
      .update(adminUsers)
      .set({ disabledAt: disabled ? new Date() : null, updatedAt: new Date() })
      .where(eq(adminUsers.id, user.id))
      .returning();
    if (disabled) await tx.delete(sessions).where(eq(sessions.userId, user.id));
    await recordAudit(tx, {
      actor,
      operation: disabled ? 'user.disable' : 'user.enable',
      targetType: 'admin_user',
      targetId: user.email,
    });
    if (!row) throw new Error('update returned no row');
    return toUser(row);
  });
}

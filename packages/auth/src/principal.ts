import { AuthError } from './errors.js';

export const SCOPES = ['read', 'write', 'admin'] as const;
export type Scope = (typeof SCOPES)[number];

export const ROLES = ['admin', 'marketer', 'viewer'] as const;
export type Role = (typeof ROLES)[number];

/** Who is calling: a partner system with an API key, or a console user with a session. */
export type Principal =
  | { kind: 'api_key'; id: number; name: string; prefix: string; scopes: readonly Scope[] }
  | { kind: 'user'; id: number; email: string; role: Role; scopes: readonly Scope[] };

/** What each console role may do, in API-key scope terms. */
export function scopesForRole(role: Role): Scope[] {
  switch (role) {
    case 'admin':
      return ['read', 'write', 'admin'];
    case 'marketer':
      return ['read', 'write'];
    case 'viewer':
      return ['read'];
  }
}

export function isScope(value: string): value is Scope {
  return (SCOPES as readonly string[]).includes(value);
}

export function isRole(value: string): value is Role {
  return (ROLES as readonly string[]).includes(value);
}

/** Parses `read,write` style lists, naming the bad entry when there is one. */
export function parseScopes(input: readonly string[] | string): Scope[] {
  const parts = (typeof input === 'string' ? input.split(',') : input).map((s) => s.trim()).filter(Boolean);
  if (parts.length === 0) {
    throw new AuthError('BAD_USER_INPUT', `scopes: expected one or more of ${SCOPES.join(', ')}, got none`);
  }
  const scopes: Scope[] = [];
  for (const part of parts) {
    if (!isScope(part)) {
      throw new AuthError('BAD_USER_INPUT', `scopes: expected one of ${SCOPES.join(', ')}, got '${part}'`);
    }
    if (!scopes.includes(part)) scopes.push(part);
  }
  return scopes;
}

/** Throws FORBIDDEN unless the principal holds the scope (UNAUTHENTICATED with none). */
export function requireScope(principal: Principal | null | undefined, scope: Scope): Principal {
  if (!principal) throw new AuthError('UNAUTHENTICATED', 'credentials are required: send an API key as "Authorization: Bearer <key>" or sign in');
  if (!principal.scopes.includes(scope)) {
    const who = principal.kind === 'api_key' ? `API key ${principal.prefix}` : `role ${principal.role}`;
    throw new AuthError('FORBIDDEN', `this operation needs the '${scope}' scope, which ${who} does not have`);
  }
  return principal;
}

export function describePrincipal(principal: Principal): { type: 'user' | 'api_key'; id: string; name: string } {
  return principal.kind === 'user'
    ? { type: 'user', id: String(principal.id), name: principal.email }
    : { type: 'api_key', id: String(principal.id), name: `${principal.name} (${principal.prefix})` };
}

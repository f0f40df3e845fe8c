export { AuthError } from './errors.js';
export type { AuthErrorCode } from './errors.js';
export {
  SCOPES,
  ROLES,
  scopesForRole,
  parseScopes,
  requireScope,
  isRole,
  isScope,
  describePrincipal,
} from './principal.js';
export type { Principal, Role, Scope } from './principal.js';
export { hashPassword, verifyPassword, checkPasswordStrength, MIN_PASSWORD_LENGTH } from './passwords.js';
export { createUser, listUsers, findUserByEmail, setPassword, setUserDisabled, normaliseEmail } from './users.js';
export type { AdminUser, CreateUserInput } from './users.js';
export { signIn, resolveSession, signOut, deleteExpiredSessions } from './sessions.js';
export type { SignInResult } from './sessions.js';
export { createApiKey, listApiKeys, revokeApiKey, ApiKeyResolver } from './api-keys.js';
export type { ApiKeyInfo, CreatedApiKey } from './api-keys.js';
export { hashToken, randomToken } from './tokens.js';

import type { IncomingMessage } from 'node:http';
import { resolveSession, type Principal } from '@clientele/auth';
import { parse as parseCookie } from 'cookie';
import type { Services } from '../context.js';

export const SESSION_COOKIE = 'clientele_session';

export type Credentials =
  | { kind: 'none' }
  | { kind: 'invalid'; reason: string }
  | { kind: 'ok'; principal: Principal };

export function sessionToken(req: IncomingMessage): string | undefined {
  const header = req.headers.cookie;
  if (!header) return undefined;
  return parseCookie(header)[SESSION_COOKIE];
}

/** Reads `Authorization: Bearer <API key>` or the console's session cookie. */
export async function authenticate(req: IncomingMessage, services: Services): Promise<Credentials> {
  const authorization = req.headers.authorization;
  if (authorization !== undefined) {
    const match = /^Bearer\s+(\S+)\s*$/i.exec(authorization);
    if (!match?.[1]) {
      return { kind: 'invalid', reason: 'the Authorization header must be "Bearer <API key>"' };
    }
    const principal = await services.apiKeys.resolve(match[1]);
    return principal
      ? { kind: 'ok', principal }
      : { kind: 'invalid', reason: 'the API key is not valid: it is unknown, revoked or expired' };
  }
  const token = sessionToken(req);
  if (token) {
    const principal = await resolveSession(services.database.db, token);
    return principal
      ? { kind: 'ok', principal }
      : { kind: 'invalid', reason: 'your session has expired: sign in again' };
  }
  return { kind: 'none' };
}

export const MISSING_CREDENTIALS =
  'credentials are required: send an API key as "Authorization: Bearer <key>" or sign in to the console';

import { createHash, randomBytes } from 'node:crypto';

/** SHA-256 hex of a high-entropy token (session tokens, API keys). */
export function hashToken(token: string): string {
  return createHash('sha256').update(token, 'utf8').digest('hex');
}

export function randomToken(bytes = 32): string {
  return randomBytes(bytes).toString('base64url');
}

import { hash, verify } from '@node-rs/argon2';
import { AuthError } from './errors.js';

// Argon2id with the library's defaults (19 MiB, 2 passes): the OWASP baseline.

export const MIN_PASSWORD_LENGTH = 10;
export const MAX_PASSWORD_LENGTH = 1024;

export function checkPasswordStrength(password: string): void {
  if (password.length < MIN_PASSWORD_LENGTH) {
    throw new AuthError(
      'BAD_USER_INPUT',
      `password: expected at least ${MIN_PASSWORD_LENGTH} characters, got ${password.length}`,
    );
  }
  if (password.length > MAX_PASSWORD_LENGTH) {
    throw new AuthError('BAD_USER_INPUT', `password: expected at most ${MAX_PASSWORD_LENGTH} characters`);
  }
}

export async function hashPassword(password: string): Promise<string> {
  checkPasswordStrength(password);
  return hash(password);
}

export async function verifyPassword(passwordHash: string, password: string): Promise<boolean> {
  if (password.length > MAX_PASSWORD_LENGTH) return false;
  try {
    return await verify(passwordHash, password);
  } catch {
    return false;
  }
}

// A hash to verify against when the user does not exist, so sign-in takes the same time
// whether or not the email is known.
let dummyHash: Promise<string> | undefined;
export function timingDummyHash(): Promise<string> {
  dummyHash ??= hash('clientele-timing-equaliser');
  return dummyHash;
}

import { chmodSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { CipherError, formatKeyring, generateKeyringEntry, parseKeyring, type KeyringEntry } from './cipher.js';

/**
 * Development fallback when CLIENTELE_ENCRYPTION_KEYS is unset: a keyring file in the data
 * folder, created on first use (mode 0600). Production refuses to start without the variable.
 */
export function loadOrCreateKeyringFile(dataDir: string): KeyringEntry[] {
  const file = path.join(dataDir, 'encryption-keys');
  if (existsSync(file)) {
    try {
      return parseKeyring(readFileSync(file, 'utf8'), file);
    } catch (error) {
      throw new CipherError(`${(error as Error).message}. Restore the file or set CLIENTELE_ENCRYPTION_KEYS`);
    }
  }
  mkdirSync(dataDir, { recursive: true });
  const entries = [generateKeyringEntry('k1')];
  writeFileSync(file, formatKeyring(entries) + '\n', { mode: 0o600 });
  chmodSync(file, 0o600);
  return entries;
}

export {
  ContactCipher,
  CipherError,
  parseKeyring,
  formatKeyring,
  generateKeyringEntry,
  sameIndex,
  normaliseEmail,
  normalisePhone,
} from './cipher.js';
export type { ContactField, KeyringEntry } from './cipher.js';
export { loadOrCreateKeyringFile } from './keyring-file.js';

import { ContactCipher } from './cipher.js';
/** A fixed keyring for tests only (never for real data). */
export function testCipher(): ContactCipher {
  return new ContactCipher([{ id: 'test', key: Buffer.alloc(32, 7) }]);
}

import { createCipheriv, createDecipheriv, createHmac, hkdfSync, randomBytes, timingSafeEqual } from 'node:crypto';

// Field-level encryption for contact data. Each keyring entry is a 256-bit master key with an
// id; two subkeys are derived from it with HKDF-SHA256: one for AES-256-GCM, one for the
// HMAC-SHA256 blind index used for exact lookups. Ciphertexts and indexes name the key id, so
// a key can be rotated: new writes use the first (current) key, old values stay readable
// while any key that wrote them is still in the ring, and `needsRotation` finds them.

export interface KeyringEntry {
  id: string;
  key: Buffer;
}

/** A contact field; bound into the ciphertext so a value cannot be moved to another field. */
export type ContactField = 'email' | 'phone';

export class CipherError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'CipherError';
  }
}

const VERSION = 'v1';
const KEY_ID = /^[a-z0-9][a-z0-9_-]{0,15}$/;

interface DerivedKey {
  id: string;
  encryption: Buffer;
  index: Buffer;
}

function derive(entry: KeyringEntry): DerivedKey {
  if (!KEY_ID.test(entry.id)) throw new CipherError(`key id '${entry.id}' must be 1–16 of a-z, 0-9, _ and -`);
  if (entry.key.length !== 32) throw new CipherError(`key '${entry.id}' must be 32 bytes, got ${entry.key.length}`);
  const sub = (info: string) => Buffer.from(hkdfSync('sha256', entry.key, Buffer.alloc(0), info, 32));
  return { id: entry.id, encryption: sub('clientele/contact-encryption/v1'), index: sub('clientele/contact-blind-index/v1') };
}

export class ContactCipher {
  private readonly keys: DerivedKey[];
  private readonly byId: Map<string, DerivedKey>;

  /** The first entry is the current key; the rest only decrypt and look up. */
  constructor(keyring: readonly KeyringEntry[]) {
    if (keyring.length === 0) throw new CipherError('the encryption keyring is empty');
    this.keys = keyring.map(derive);
    this.byId = new Map(this.keys.map((k) => [k.id, k]));
    if (this.byId.size !== this.keys.length) throw new CipherError('the encryption keyring repeats a key id');
  }

  get currentKeyId(): string {
    return this.current.id;
  }

  private get current(): DerivedKey {
    const key = this.keys[0];
    if (!key) throw new CipherError('the encryption keyring is empty');
    return key;
  }

  /** `v1.<key id>.<iv>.<ciphertext+tag>`, base64url parts; a fresh IV every time. */
  encrypt(field: ContactField, plaintext: string): string {
    const key = this.current;
    const iv = randomBytes(12);
    const cipher = createCipheriv('aes-256-gcm', key.encryption, iv);
    cipher.setAAD(Buffer.from(field));
    const body = Buffer.concat([cipher.update(plaintext, 'utf8'), cipher.final(), cipher.getAuthTag()]);
    return `${VERSION}.${key.id}.${iv.toString('base64url')}.${body.toString('base64url')}`;
  }

  decrypt(field: ContactField, token: string): string {
    const [version, keyId, ivText, bodyText] = token.split('.');
    if (version !== VERSION || !keyId || !ivText || !bodyText) throw new CipherError(`${field}: not a ${VERSION} ciphertext`);
    const key = this.byId.get(keyId);
    if (!key) throw new CipherError(`${field}: encrypted with key '${keyId}', which is not in the keyring (CLIENTELE_ENCRYPTION_KEYS)`);
    const body = Buffer.from(bodyText, 'base64url');
    if (body.length < 16) throw new CipherError(`${field}: ciphertext too short`);
    const decipher = createDecipheriv('aes-256-gcm', key.encryption, Buffer.from(ivText, 'base64url'));
    decipher.setAAD(Buffer.from(field));
    decipher.setAuthTag(body.subarray(body.length - 16));
    try {
      return Buffer.concat([decipher.update(body.subarray(0, body.length - 16)), decipher.final()]).toString('utf8');
    } catch {
      throw new CipherError(`${field}: ciphertext failed authentication (tampered or wrong key)`);
    }
  }

  /** `<key id>:<HMAC>` of the normalised value under the current key. */
  blindIndex(field: ContactField, normalised: string): string {
    return this.indexWith(this.current, field, normalised);
  }

  /** The value's index under every key in the ring: lookups match rows not yet rotated. */
  blindIndexes(field: ContactField, normalised: string): string[] {
    return this.keys.map((key) => this.indexWith(key, field, normalised));
  }

  /** True when the ciphertext or index was made with a key other than the current one. */
  needsRotation(token: string | null): boolean {
    if (token === null) return false;
    const id = token.includes(':') ? token.split(':')[0] : token.split('.')[1];
    return id !== this.current.id;
  }

  private indexWith(key: DerivedKey, field: ContactField, normalised: string): string {
    const mac = createHmac('sha256', key.index).update(`${field}\u0000${normalised}`, 'utf8').digest('base64url');
    return `${key.id}:${mac}`;
  }
}

/** Parses `id:base64key,id2:base64key2` (the first is current). */
export function parseKeyring(text: string, variable = 'CLIENTELE_ENCRYPTION_KEYS'): KeyringEntry[] {
  const entries = text
    .split(',')
    .map((part) => part.trim())
    .filter(Boolean)
    .map((part) => {
      const [id, encoded] = part.split(':');
      if (!id || !encoded) throw new CipherError(`${variable}: expected entries like 'k1:<32 bytes in base64>', got '${part.slice(0, 12)}…'`);
      const key = Buffer.from(encoded, 'base64');
      if (key.length !== 32) throw new CipherError(`${variable}: key '${id}' must decode to 32 bytes, got ${key.length}`);
      if (!KEY_ID.test(id)) throw new CipherError(`${variable}: key id '${id}' must be 1–16 of a-z, 0-9, _ and -`);
      return { id, key };
    });
  if (entries.length === 0) throw new CipherError(`${variable}: expected at least one key`);
  return entries;
}

export function generateKeyringEntry(id: string): KeyringEntry {
  return { id, key: randomBytes(32) };
}

export function formatKeyring(entries: readonly KeyringEntry[]): string {
  return entries.map((e) => `${e.id}:${e.key.toString('base64')}`).join(',');
}

/** Constant-time comparison of two blind indexes. */
export function sameIndex(a: string, b: string): boolean {
  const x = Buffer.from(a);
  const y = Buffer.from(b);
  return x.length === y.length && timingSafeEqual(x, y);
}

export function normaliseEmail(email: string): string {
  return email.trim().toLowerCase();
}

export function normalisePhone(phone: string): string {
  return phone.replace(/[\s().-]/g, '');
}

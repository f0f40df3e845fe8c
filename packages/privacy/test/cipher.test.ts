import { describe, expect, it } from 'vitest';
import { CipherError, ContactCipher, formatKeyring, generateKeyringEntry, parseKeyring } from '../src/index.js';

const k1 = generateKeyringEntry('k1');
const k2 = generateKeyringEntry('k2');

describe('ContactCipher', () => {
  const cipher = new ContactCipher([k1]);

  it('round-trips and never shows the plaintext; every encryption differs', () => {
    const a = cipher.encrypt('email', 'ada@example.com');
    const b = cipher.encrypt('email', 'ada@example.com');
    expect(a).not.toBe(b);
    expect(a).not.toContain('ada');
    expect(a.startsWith('v1.k1.')).toBe(true);
    expect(cipher.decrypt('email', a)).toBe('ada@example.com');
  });

  it('detects tampering, a swapped field and an unknown key', () => {
    const token = cipher.encrypt('phone', '+441234567890');
    const parts = token.split('.');
    const body = Buffer.from(parts[3]!, 'base64url');
    body[0] = body[0]! ^ 1;
    const tampered = [...parts.slice(0, 3), body.toString('base64url')].join('.');
    expect(() => cipher.decrypt('phone', tampered)).toThrow(/failed authentication/);
    expect(() => cipher.decrypt('email', token)).toThrow(/failed authentication/);
    expect(() => new ContactCipher([k2]).decrypt('phone', token)).toThrow(/key 'k1', which is not in the keyring/);
    expect(() => cipher.decrypt('phone', 'plain text')).toThrow(CipherError);
  });

  it('gives stable blind indexes per key and field, different across keys', () => {
    expect(cipher.blindIndex('email', 'ada@example.com')).toBe(cipher.blindIndex('email', 'ada@example.com'));
    expect(cipher.blindIndex('email', 'ada@example.com')).not.toBe(cipher.blindIndex('phone', 'ada@example.com'));
    const rotated = new ContactCipher([k2, k1]);
    const indexes = rotated.blindIndexes('email', 'ada@example.com');
    expect(indexes).toHaveLength(2);
    expect(indexes[1]).toBe(cipher.blindIndex('email', 'ada@example.com'));
    expect(rotated.blindIndex('email', 'ada@example.com')).toBe(indexes[0]);
  });

  it('supports rotation: old ciphertexts decrypt with the old key still in the ring and are flagged', () => {
    const old = cipher.encrypt('email', 'grace@example.com');
    const rotated = new ContactCipher([k2, k1]);
    expect(rotated.decrypt('email', old)).toBe('grace@example.com');
    expect(rotated.needsRotation(old)).toBe(true);
    expect(rotated.needsRotation(rotated.encrypt('email', 'x'))).toBe(false);
    expect(rotated.needsRotation(cipher.blindIndex('email', 'x'))).toBe(true);
  });

  it('parses keyrings and rejects malformed ones specifically', () => {
    const text = formatKeyring([k1, k2]);
    expect(parseKeyring(text).map((e) => e.id)).toEqual(['k1', 'k2']);
    expect(() => parseKeyring('k1:' + Buffer.alloc(16).toString('base64'))).toThrow(/must decode to 32 bytes, got 16/);
    expect(() => parseKeyring('nokey')).toThrow(/expected entries like/);
    expect(() => parseKeyring('')).toThrow(/at least one key/);
    expect(() => new ContactCipher([k1, { id: 'k1', key: k2.key }])).toThrow(/repeats a key id/);
  });
});

// MurmurHash3 (x86, 128-bit) over a string's UTF-16 code units, two units per 32-bit word.
// Used for event ids derived from row content: about ten times faster than SHA-256 through
// node:crypto for short strings, and 128 bits make an accidental collision between two
// different rows vanishingly unlikely (about 10^-21 for a billion rows). It is not meant to
// resist someone crafting collisions; ids are only compared within one installation's data.

const C1 = 0x239b961b;
const C2 = 0xab0e9789;
const C3 = 0x38b34ae5;
const C4 = 0xa1e38b93;

const rotl = (x: number, r: number): number => (x << r) | (x >>> (32 - r));

function fmix(h: number): number {
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  return h ^ (h >>> 16);
}

let scratch = new Uint16Array(256);

/** The four 32-bit words of the 128-bit hash of a string (written into `out`). */
export function murmur128(key: string, seed: number, out: Uint32Array): Uint32Array {
  if (key.length > scratch.length) scratch = new Uint16Array(2 * key.length);
  for (let i = 0; i < key.length; i++) scratch[i] = key.charCodeAt(i);
  return murmur128Units(scratch, key.length, seed, out);
}

/** The hash of the first `len` UTF-16 code units in `key`: murmur128 of the string they spell. */
export function murmur128Units(key: Uint16Array, len: number, seed: number, out: Uint32Array): Uint32Array {
  let h1 = seed | 0;
  let h2 = seed | 0;
  let h3 = seed | 0;
  let h4 = seed | 0;
  const end = len - (len & 7);
  let i = 0;
  for (; i < end; i += 8) {
    let k1 = (key[i] as number) | ((key[i + 1] as number) << 16);
    let k2 = (key[i + 2] as number) | ((key[i + 3] as number) << 16);
    let k3 = (key[i + 4] as number) | ((key[i + 5] as number) << 16);
    let k4 = (key[i + 6] as number) | ((key[i + 7] as number) << 16);
    k1 = Math.imul(rotl(Math.imul(k1, C1), 15), C2);
    h1 ^= k1;
    h1 = (Math.imul((rotl(h1, 19) + h2) | 0, 5) + 0x561ccd1b) | 0;
    k2 = Math.imul(rotl(Math.imul(k2, C2), 16), C3);
    h2 ^= k2;
    h2 = (Math.imul((rotl(h2, 17) + h3) | 0, 5) + 0x0bcaa747) | 0;
    k3 = Math.imul(rotl(Math.imul(k3, C3), 17), C4);
    h3 ^= k3;
    h3 = (Math.imul((rotl(h3, 15) + h4) | 0, 5) + 0x96cd1c35) | 0;
    k4 = Math.imul(rotl(Math.imul(k4, C4), 18), C1);
    h4 ^= k4;
    h4 = (Math.imul((rotl(h4, 13) + h1) | 0, 5) + 0x32ac3b17) | 0;
  }
  const rest = len - end;
  if (rest > 0) {
    const unit = (k: number) => (i + k < len ? (key[i + k] as number) : 0);
    const k1 = unit(0) | (unit(1) << 16);
    const k2 = unit(2) | (unit(3) << 16);
    const k3 = unit(4) | (unit(5) << 16);
    const k4 = unit(6) | (unit(7) << 16);
    if (rest > 6) h4 ^= Math.imul(rotl(Math.imul(k4, C4), 18), C1);
    if (rest > 4) h3 ^= Math.imul(rotl(Math.imul(k3, C3), 17), C4);
    if (rest > 2) h2 ^= Math.imul(rotl(Math.imul(k2, C2), 16), C3);
    h1 ^= Math.imul(rotl(Math.imul(k1, C1), 15), C2);
  }
  const bytes = len * 2;
  h1 ^= bytes;
  h2 ^= bytes;
  h3 ^= bytes;
  h4 ^= bytes;
  h1 = (h1 + h2 + h3 + h4) | 0;
  h2 = (h2 + h1) | 0;
  h3 = (h3 + h1) | 0;
  h4 = (h4 + h1) | 0;
  h1 = fmix(h1);
  h2 = fmix(h2);
  h3 = fmix(h3);
  h4 = fmix(h4);
  h1 = (h1 + h2 + h3 + h4) | 0;
  h2 = (h2 + h1) | 0;
  h3 = (h3 + h1) | 0;
  h4 = (h4 + h1) | 0;
  out[0] = h1;
  out[1] = h2;
  out[2] = h3;
  out[3] = h4;
  return out;
}

const ALPHABET = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_';

/** 128 bits as 22 base64url characters. */
export function base64url128(words: Uint32Array): string {
  let text = '';
  let acc = 0;
  let bits = 0;
  for (let w = 0; w < 4; w++) {
    const word = words[w] ?? 0;
    for (let shift = 24; shift >= 0; shift -= 8) {
      acc = (acc << 8) | ((word >>> shift) & 0xff);
      bits += 8;
      while (bits >= 6) {
        bits -= 6;
        text += ALPHABET[(acc >>> bits) & 63];
      }
      acc &= (1 << bits) - 1;
    }
  }
  if (bits > 0) text += ALPHABET[(acc << (6 - bits)) & 63];
  return text;
}

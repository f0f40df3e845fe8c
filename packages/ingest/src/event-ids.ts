import { base64url128, murmur128 } from './hash.js';

// Event ids for imported rows that carry none: a hash of the file kind and the row's content,
// plus a number telling apart identical rows of the same file. Re-importing the file (or
// re-running an interrupted import) derives exactly the same ids, so nothing is stored twice,
// while two identical lines of one file are both kept.
//
// Counting identical rows exactly would need every hash of the file in memory. Instead a
// Bloom filter remembers what was seen (about 1.2 bytes a row) and only rows it reports as
// possibly seen go into an exact map. A false positive makes a row's first occurrence number
// 1 instead of 0; that is harmless, because all that matters is that the numbering is the
// same on every run (it depends only on the file's rows, in order) and that identical rows
// get different numbers (they always do).

const BITS_PER_ENTRY = 10;
const HASHES = 7;
const FIRST_CAPACITY = 1 << 16;

class BloomFilter {
  private readonly words: Uint32Array;
  private readonly mask: number;
  count = 0;

  constructor(readonly capacity: number) {
    let bits = 1;
    while (bits < capacity * BITS_PER_ENTRY) bits *= 2;
    this.words = new Uint32Array(bits / 32);
    this.mask = bits - 1;
  }

  has(h1: number, h2: number): boolean {
    for (let i = 0; i < HASHES; i++) {
      const bit = (h1 + Math.imul(i, h2)) & this.mask;
      if (((this.words[bit >>> 5] ?? 0) & (1 << (bit & 31))) === 0) return false;
    }
    return true;
  }

  add(h1: number, h2: number): void {
    for (let i = 0; i < HASHES; i++) {
      const bit = (h1 + Math.imul(i, h2)) & this.mask;
      this.words[bit >>> 5] = (this.words[bit >>> 5] ?? 0) | (1 << (bit & 31));
    }
    this.count++;
  }
}

/** Occurrence numbers of row contents within one file, in bounded memory per row. */
export class OccurrenceCounter {
  private readonly filters: BloomFilter[] = [new BloomFilter(FIRST_CAPACITY)];
  private readonly repeated = new Map<string, number>();

  /** 0 for content not seen before (usually), otherwise a number not given to it yet. */
  next(key: string, h1: number, h2: number): number {
    let maybeSeen = false;
    for (const filter of this.filters) {
      if (filter.has(h1, h2)) {
        maybeSeen = true;
        break;
      }
    }
    if (maybeSeen) {
      // Every key in the exact map once tested positive, and filters only gain bits, so a
      // negative test above means the key is not in the map either.
      const known = this.repeated.get(key) ?? 1;
      this.repeated.set(key, known + 1);
      return known;
    }
    let current = this.filters[this.filters.length - 1];
    if (!current || current.count >= current.capacity) {
      current = new BloomFilter((current?.capacity ?? FIRST_CAPACITY / 2) * 2);
      this.filters.push(current);
    }
    current.add(h1, h2);
    return 0;
  }

  /** Bytes held, for the memory figures. */
  get bytes(): number {
    return this.filters.reduce((sum, filter) => sum + (filter.capacity * BITS_PER_ENTRY) / 8, 0) + this.repeated.size * 64;
  }
}

/** Derives event ids `<prefix>:<hash>` (and `:<n>` for the n-th repeat) for one file. */
export class EventIdDeriver {
  private readonly counter = new OccurrenceCounter();
  private readonly words = new Uint32Array(4);
  private readonly seed: number;

  constructor(
    private readonly prefix: string,
    kind: string,
  ) {
    // The kind seeds the hash, so the same content in files of two kinds gets two ids.
    this.seed = murmur128(kind, 0x5eed, this.words)[0] ?? 0;
  }

  next(content: string): string {
    const words = murmur128(content, this.seed, this.words);
    const base = `${this.prefix}:${base64url128(words)}`;
    const n = this.counter.next(base, words[0] ?? 0, (words[1] ?? 0) | 1);
    return n === 0 ? base : `${base}:${n}`;
  }
}

/**
 * Remembers keys in about 1.2 bytes each and answers whether one may have been seen before:
 * never "no" for a key seen before, rarely (under 1 %) "maybe" for a new one. A bulk import
 * uses it to set aside the rows whose explicit event id may repeat an earlier line of the file,
 * so only those few need an exact check at the end.
 */
export class SeenFilter {
  private readonly filters: BloomFilter[] = [new BloomFilter(FIRST_CAPACITY)];
  private readonly words = new Uint32Array(4);

  /** Whether `key` may have been added before; adds it. */
  testAndAdd(key: string): boolean {
    const words = murmur128(key, 0x5eed, this.words);
    const h1 = words[0] ?? 0;
    const h2 = (words[1] ?? 0) | 1;
    for (const filter of this.filters) if (filter.has(h1, h2)) return true;
    let current = this.filters[this.filters.length - 1];
    if (!current || current.count >= current.capacity) {
      current = new BloomFilter((current?.capacity ?? FIRST_CAPACITY / 2) * 2);
      this.filters.push(current);
    }
    current.add(h1, h2);
    return false;
  }
}

import { base64url128, murmur128, murmur128Units } from './hash.js';

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

/** Bloom filters that grow with what they hold: a new, twice as large one whenever the last is full. */
class GrowingBloomFilter {
  private readonly filters: BloomFilter[] = [new BloomFilter(FIRST_CAPACITY)];

  /** Whether the hash words may have been added before; adds them if not. */
  testAndAdd(h1: number, h2: number): boolean {
    for (const filter of this.filters) if (filter.has(h1, h2)) return true;
    let current = this.filters[this.filters.length - 1];
    if (!current || current.count >= current.capacity) {
      current = new BloomFilter((current?.capacity ?? FIRST_CAPACITY / 2) * 2);
      this.filters.push(current);
    }
    current.add(h1, h2);
    return false;
  }

  get bytes(): number {
    return this.filters.reduce((sum, filter) => sum + (filter.capacity * BITS_PER_ENTRY) / 8, 0);
  }
}

/** Occurrence numbers of row contents within one file, in bounded memory per row. */
export class OccurrenceCounter {
  private readonly seen = new GrowingBloomFilter();
  private readonly repeated = new Map<string, number>();

  /** 0 for content not seen before (usually), otherwise a number not given to it yet. */
  next(key: string, h1: number, h2: number): number {
    return this.mark(h1, h2) ? this.number(key) : 0;
  }

  /**
   * Whether content with these hash words may have been seen before; if not, it is remembered
   * (its number is 0). When it may have been, `number` gives its occurrence number.
   */
  mark(h1: number, h2: number): boolean {
    return this.seen.testAndAdd(h1, h2);
  }

  /** The occurrence number of content that `mark` found possibly seen. */
  number(key: string): number {
    // Every key in the exact map once tested positive, and filters only gain bits, so a
    // negative test in `mark` means the key is not in the map either.
    const known = this.repeated.get(key) ?? 1;
    this.repeated.set(key, known + 1);
    return known;
  }

  /** Bytes held, for the memory figures. */
  get bytes(): number {
    return this.seen.bytes + this.repeated.size * 64;
  }
}

/** What turns a row's content into its event id (ConvertContext.eventIds). */
export interface EventIdSource {
  next(content: string): string;
  /** next() of the string spelled by the first `length` code units of `units`. */
  nextUnits(units: Uint16Array, length: number): string;
}

/**
 * Derives the base of an event id, `<prefix>:<hash>`, and keeps the two hash words an
 * OccurrenceCounter needs. The parallel bulk import hashes rows on worker threads this way and
 * numbers repeats on the main thread, in file order.
 */
export class EventIdHasher implements EventIdSource {
  private readonly words = new Uint32Array(4);
  private readonly seed: number;
  /** Hash words of the last id derived. */
  h1 = 0;
  h2 = 0;

  constructor(
    private readonly prefix: string,
    kind: string,
  ) {
    // The kind seeds the hash, so the same content in files of two kinds gets two ids.
    this.seed = murmur128(kind, 0x5eed, this.words)[0] ?? 0;
  }

  next(content: string): string {
    return this.id(murmur128(content, this.seed, this.words));
  }

  nextUnits(units: Uint16Array, length: number): string {
    return this.id(murmur128Units(units, length, this.seed, this.words));
  }

  private id(words: Uint32Array): string {
    this.h1 = words[0] ?? 0;
    this.h2 = (words[1] ?? 0) | 1;
    return `${this.prefix}:${base64url128(words)}`;
  }
}

/** Derives event ids `<prefix>:<hash>` (and `:<n>` for the n-th repeat) for one file. */
export class EventIdDeriver implements EventIdSource {
  private readonly counter = new OccurrenceCounter();
  private readonly hasher: EventIdHasher;

  constructor(prefix: string, kind: string) {
    this.hasher = new EventIdHasher(prefix, kind);
  }

  next(content: string): string {
    return this.numbered(this.hasher.next(content));
  }

  nextUnits(units: Uint16Array, length: number): string {
    return this.numbered(this.hasher.nextUnits(units, length));
  }

  private numbered(base: string): string {
    const n = this.counter.next(base, this.hasher.h1, this.hasher.h2);
    return n === 0 ? base : `${base}:${n}`;
  }
}

/** The hash words SeenFilter uses for a key (written into `out`: [h1, h2]). */
export function seenHash(key: string, out: Uint32Array): void {
  const words = murmur128(key, 0x5eed, out);
  out[1] = (words[1] ?? 0) | 1;
}

/**
 * Remembers keys in about 1.2 bytes each and answers whether one may have been seen before:
 * never "no" for a key seen before, rarely (under 1 %) "maybe" for a new one. A bulk import
 * uses it to set aside the rows whose explicit event id may repeat an earlier line of the file,
 * so only those few need an exact check at the end.
 */
export class SeenFilter {
  private readonly seen = new GrowingBloomFilter();
  private readonly words = new Uint32Array(4);

  /** Whether `key` may have been added before; adds it. */
  testAndAdd(key: string): boolean {
    seenHash(key, this.words);
    return this.testAndAddHashed(this.words[0] ?? 0, this.words[1] ?? 1);
  }

  /** testAndAdd for a key already hashed with seenHash. */
  testAndAddHashed(h1: number, h2: number): boolean {
    return this.seen.testAndAdd(h1, h2);
  }
}

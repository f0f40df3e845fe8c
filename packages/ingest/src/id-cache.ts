// External ids known to be stored, with their internal ids, for a bulk import: two lookups per
// row. In a Map of 100,000 customers each lookup walked a bucket, an entry and the key string
// at three places in memory; perf put V8's map lookup at a fifth of the importer's time. Here
// a short ASCII id (most are: numbers, SKUs, 'c12345') lives in its slot with its hash and
// internal id, so a lookup usually reads one cache line. Longer or non-ASCII ids go to a Map.

/** Int32 words per slot: hash, key length, id low and high words, then the key's bytes. */
const SLOT_WORDS = 8;
const KEY_OFFSET = 4;
/** Bytes of a key kept in its slot. */
export const INLINE_KEY_BYTES = (SLOT_WORDS - KEY_OFFSET) * 4;
const FIRST_SLOTS = 1 << 14;
const TWO_32 = 2 ** 32;

/** FNV-1a over the key's character codes, then a final mix (the table uses the low bits). */
function hashOf(key: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < key.length; i++) h = Math.imul(h ^ key.charCodeAt(i), 0x01000193);
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  return h | 1; // 0 marks an empty slot
}

/** Whether the key fits in a slot: ASCII, at most INLINE_KEY_BYTES long. */
function inline(key: string): boolean {
  if (key.length > INLINE_KEY_BYTES) return false;
  for (let i = 0; i < key.length; i++) if (key.charCodeAt(i) > 0x7f) return false;
  return true;
}

/** External id → internal id; bounded (cleared when `limit` ids are held). */
export class IdCache {
  private words = new Int32Array(FIRST_SLOTS * SLOT_WORDS);
  private bytes = new Uint8Array(this.words.buffer);
  private mask = FIRST_SLOTS - 1;
  private inlineCount = 0;
  private readonly others = new Map<string, number>();

  constructor(private readonly limit: number) {}

  get size(): number {
    return this.inlineCount + this.others.size;
  }

  get(key: string): number | undefined {
    if (!inline(key)) return this.others.get(key);
    const words = this.words;
    const bytes = this.bytes;
    const length = key.length;
    const hash = hashOf(key);
    for (let slot = hash & this.mask; ; slot = (slot + 1) & this.mask) {
      const at = slot * SLOT_WORDS;
      const stored = words[at] as number;
      if (stored === 0) return undefined;
      if (stored !== hash || words[at + 1] !== length) continue;
      const base = (at + KEY_OFFSET) * 4;
      let k = 0;
      while (k < length && bytes[base + k] === key.charCodeAt(k)) k++;
      if (k === length) return ((words[at + 2] as number) >>> 0) + (words[at + 3] as number) * TWO_32;
    }
  }

  set(key: string, id: number): void {
    if (this.size >= this.limit) this.clear();
    if (!inline(key)) {
      this.others.set(key, id);
      return;
    }
    if ((this.inlineCount + 1) * 2 > this.mask + 1) this.grow();
    if (this.place(key, hashOf(key), id)) this.inlineCount++;
  }

  clear(): void {
    this.words = new Int32Array(FIRST_SLOTS * SLOT_WORDS);
    this.bytes = new Uint8Array(this.words.buffer);
    this.mask = FIRST_SLOTS - 1;
    this.inlineCount = 0;
    this.others.clear();
  }

  /** Writes the key's slot (a new one, or the one holding it); true when it was new. */
  private place(key: string, hash: number, id: number): boolean {
    const words = this.words;
    const bytes = this.bytes;
    for (let slot = hash & this.mask; ; slot = (slot + 1) & this.mask) {
      const at = slot * SLOT_WORDS;
      const stored = words[at] as number;
      if (stored === hash && words[at + 1] === key.length) {
        const base = (at + KEY_OFFSET) * 4;
        let k = 0;
        while (k < key.length && bytes[base + k] === key.charCodeAt(k)) k++;
        if (k === key.length) {
          words[at + 2] = id % TWO_32;
          words[at + 3] = Math.floor(id / TWO_32);
          return false;
        }
      }
      if (stored !== 0) continue;
      words[at] = hash;
      words[at + 1] = key.length;
      words[at + 2] = id % TWO_32;
      words[at + 3] = Math.floor(id / TWO_32);
      const base = (at + KEY_OFFSET) * 4;
      for (let k = 0; k < key.length; k++) bytes[base + k] = key.charCodeAt(k);
      return true;
    }
  }

  /** Twice the slots, every slot moved to its place in the new table. */
  private grow(): void {
    const old = this.words;
    const slots = (this.mask + 1) * 2;
    const words = new Int32Array(slots * SLOT_WORDS);
    const mask = slots - 1;
    for (let at = 0; at < old.length; at += SLOT_WORDS) {
      const hash = old[at] as number;
      if (hash === 0) continue;
      let slot = hash & mask;
      while (words[slot * SLOT_WORDS] !== 0) slot = (slot + 1) & mask;
      words.set(old.subarray(at, at + SLOT_WORDS), slot * SLOT_WORDS);
    }
    this.words = words;
    this.bytes = new Uint8Array(words.buffer);
    this.mask = mask;
  }
}

// The C++ side re-checks every argument: raw calls that bypass @clientele/compute's validation
// must throw (or reject with) JS errors, never crash the process.
import { describe, expect, it } from 'vitest';

import { isNativeBuilt, loadNative } from '../src/index.js';

type Fn = (o: unknown) => unknown;

async function settle(f: () => unknown): Promise<unknown> {
  try {
    const r = f();
    if (r instanceof Promise) return await r.then(
      () => undefined,
      (e: unknown) => e,
    );
    return undefined;
  } catch (e) {
    return e;
  }
}

describe.skipIf(!isNativeBuilt())('native argument re-validation', () => {
  const f32 = (n: number) => new Float32Array(n);
  const i32 = (...v: number[]) => Int32Array.from(v);
  /** An 8-bit copy of n zero floats in rows of 2, from `offset` bytes into a larger buffer. */
  const copy8 = (n: number, offset = 0) => {
    if (!isNativeBuilt()) return new Uint8Array(0);
    const copy = loadNative().int8Copy({ items: f32(n), dim: 2 })!.copy;
    const buffer = new Uint8Array(copy.length + offset);
    buffer.set(copy, offset);
    return buffer.subarray(offset);
  };

  const cases: [string, string, unknown, RegExp | (new (...a: never[]) => Error)][] = [
    ['dotBatch', 'no options', undefined, TypeError],
    ['dotBatch', 'wrong array type', { queries: new Float64Array(2), matrix: f32(2), dim: 2 }, TypeError],
    ['dotBatch', 'bad dim', { queries: f32(2), matrix: f32(2), dim: 0 }, RangeError],
    ['dotBatch', 'NaN', { queries: Float32Array.from([NaN, 1]), matrix: f32(2), dim: 2 }, /finite/],
    ['kmeans', 'k > n', { data: f32(4), dim: 2, k: 3 }, RangeError],
    ['kmeans', 'fractional k', { data: f32(4), dim: 2, k: 1.5 }, RangeError],
    ['kmeans', 'bad centroids', { data: f32(4), dim: 2, k: 1, centroids: f32(1) }, RangeError],
    ['kmeans', 'bad init', { data: f32(4), dim: 2, k: 1, init: 'x' }, RangeError],
    ['kmeans', 'bad cancel', { data: f32(4), dim: 2, k: 1, cancel: new Int32Array(0) }, RangeError],
    ['kmeans', 'bad progress', { data: f32(4), dim: 2, k: 1, onProgress: 3 }, TypeError],
    ['kmeans', 'bad kernel', { data: f32(4), dim: 2, k: 1, kernel: 'sse' }, RangeError],
    ['silhouette', 'negative label', { data: f32(4), dim: 2, labels: i32(0, -1) }, RangeError],
    ['silhouette', 'short labels', { data: f32(4), dim: 2, labels: i32(0) }, RangeError],
    ['buildCsr', 'row out of range', { rows: i32(5), cols: i32(0), nRows: 1, nCols: 1 }, RangeError],
    ['buildCsr', 'negative col', { rows: i32(0), cols: i32(-1), nRows: 1, nCols: 1 }, RangeError],
    ['buildCsr', 'length mismatch', { rows: i32(0, 0), cols: i32(0), nRows: 1, nCols: 1 }, RangeError],
    ['buildCsr', 'bad duplicates', { rows: i32(0), cols: i32(0), nRows: 1, nCols: 1, duplicates: 'max' }, RangeError],
    ['trainExplicit', 'no ratings', { users: i32(), items: i32(), ratings: f32(0), nUsers: 1, nItems: 1 }, RangeError],
    ['trainExplicit', 'zero factors', { users: i32(0), items: i32(0), ratings: f32(1), nUsers: 1, nItems: 1, factors: 0 }, RangeError],
    ['trainImplicit', 'negative value', { users: i32(0), items: i32(0), values: Float32Array.from([-1]), nUsers: 1, nItems: 1 }, RangeError],
    ['trainImplicit', 'one initial matrix', { users: i32(0), items: i32(0), nUsers: 1, nItems: 1, factors: 1, initialUserFactors: f32(1) }, RangeError],
    ['trainImplicit', 'huge factors', { users: i32(0), items: i32(0), nUsers: 1, nItems: 1, factors: 1e9 }, RangeError],
    ['trainImplicit', 'exponent above 2', { users: i32(0), items: i32(0), nUsers: 1, nItems: 1, regularizationExponent: 2.5 }, RangeError],
    ['trainImplicit', 'NaN exponent', { users: i32(0), items: i32(0), nUsers: 1, nItems: 1, regularizationExponent: NaN }, RangeError],
    ['trainImplicit', 'negative offset', { users: i32(0), items: i32(0), nUsers: 1, nItems: 1, regularizationExponent: 1, regularizationOffset: -1 }, RangeError],
    ['trainImplicit', 'infinite offset', { users: i32(0), items: i32(0), nUsers: 1, nItems: 1, regularizationOffset: Infinity }, RangeError],
    ['trainImplicit', 'string exponent', { users: i32(0), items: i32(0), nUsers: 1, nItems: 1, regularizationExponent: '1' }, TypeError],
    ['topK', 'query length', { query: f32(3), items: f32(4), dim: 2, k: 1 }, RangeError],
    ['topK', 'candidate out of range', { query: f32(2), items: f32(4), dim: 2, k: 1, candidates: i32(2) }, RangeError],
    ['topKBatch', 'bad exclude indptr', { queries: f32(2), items: f32(4), dim: 2, k: 1, excludeIndptr: i32(0, 5), excludeIndices: i32(1) }, RangeError],
    ['topKBatch', 'decreasing indptr', { queries: f32(4), items: f32(4), dim: 2, k: 1, excludeIndptr: i32(0, 1, 0), excludeIndices: i32() }, RangeError],
    ['topKBatch', 'rows out of range', { queries: f32(2), items: f32(4), dim: 2, k: 1, rows: i32(1) }, RangeError],
    ['topKBatch', 'half copy of another length', { queries: f32(2), items: f32(4), dim: 2, k: 1, itemsHalf: new Uint16Array(2), maxNorm: 1 }, RangeError],
    ['topKBatch', 'negative maxNorm', { queries: f32(2), items: f32(4), dim: 2, k: 1, itemsHalf: new Uint16Array(16), maxNorm: -1 }, RangeError],
    ['topKBatch', 'half copy not a Uint16Array', { queries: f32(2), items: f32(4), dim: 2, k: 1, itemsHalf: f32(4), maxNorm: 1 }, TypeError],
    ['topKBatch', '8-bit copy of another length', { queries: f32(2), items: f32(4), dim: 2, k: 1, itemsInt8: new Uint8Array(100), maxNorm: 1 }, RangeError],
    ['topKBatch', '8-bit copy of the right length without a header', { queries: f32(2), items: f32(4), dim: 2, k: 1, itemsInt8: new Uint8Array(64 + 64 + 128), maxNorm: 1 }, RangeError],
    ['topKBatch', '8-bit copy not a Uint8Array', { queries: f32(2), items: f32(4), dim: 2, k: 1, itemsInt8: new Int8Array(256), maxNorm: 1 }, TypeError],
    ['topK', '8-bit copy of other items', { query: f32(2), items: f32(4), dim: 2, k: 1, itemsInt8: copy8(6), maxNorm: 1 }, RangeError],
    ['topK', '8-bit copy at an odd byte offset', { query: f32(2), items: f32(4), dim: 2, k: 1, itemsInt8: copy8(4, 1), maxNorm: 1 }, RangeError],
    // The async call reads a private (aligned) copy; it must refuse what the sync call refuses.
    ['topKBatch', '8-bit copy at an odd byte offset', { queries: f32(2), items: f32(4), dim: 2, k: 1, itemsInt8: copy8(4, 1), maxNorm: 1 }, /multiple of 4/],
    ['similarItems', 'query out of range', { items: f32(4), dim: 2, k: 1, queries: i32(9) }, RangeError],
    ['scorePairs', 'user out of range', { userFactors: f32(2), itemFactors: f32(2), dim: 2, users: i32(1), items: i32(0) }, RangeError],
    ['scorePairs', 'bias length', { userFactors: f32(2), itemFactors: f32(2), dim: 2, users: i32(0), items: i32(0), userBias: f32(3) }, RangeError],
  ];

  for (const [fn, what, arg, expected] of cases) {
    it(`${fn}: ${what}`, async () => {
      const native = loadNative() as unknown as Record<string, Fn>;
      const error = await settle(() => native[fn]!(arg));
      expect(error).toBeInstanceOf(Error);
      if (expected instanceof RegExp) expect((error as Error).message).toMatch(expected);
      else expect(error).toBeInstanceOf(expected);
      expect((error as Error).message).toContain(fn === 'silhouette' ? 'silhouette' : fn);
    });
  }

  it('refuses buffers that could shrink or move under the addon, instead of reading freed memory', async () => {
    const native = loadNative();
    // A resizable ArrayBuffer could be shrunk while a worker reads it.
    // (Node 20 has resizable buffers; the ES2022 lib types do not know the constructor's options.)
    const Resizable = ArrayBuffer as unknown as new (length: number, options: { maxByteLength: number }) => ArrayBuffer;
    const resizable = new Resizable(16, { maxByteLength: 64 });
    const items = new Float32Array(resizable);
    expect(((await settle(() => native.topKBatch({ queries: f32(2), items, dim: 2, k: 1 }))) as Error).message).toMatch(/resizable/);
    expect(() => native.topK({ query: f32(2), items, dim: 2, k: 1 })).toThrow(/resizable/);
    // A getter of a later option that transfers an array read earlier.
    const detaching = (target: Float32Array) => ({
      query: f32(2),
      items: target,
      dim: 2,
      k: 1,
      get threads() {
        structuredClone(target.buffer, { transfer: [target.buffer as ArrayBuffer] });
        return 1;
      },
    });
    expect(() => native.topK(detaching(new Float32Array(8)))).toThrow(/detached or moved/);
    const batch = new Float32Array(8);
    const options = Object.defineProperties({ queries: f32(2), items: batch, dim: 2 }, Object.getOwnPropertyDescriptors({ get k() {
      structuredClone(batch.buffer, { transfer: [batch.buffer as ArrayBuffer] });
      return 1;
    } }));
    expect(((await settle(() => native.topKBatch(options as never))) as Error).message).toMatch(/detached or moved/);
  });

  it('crc32 rejects non-Uint8Array input and matches the standard check value', () => {
    const native = loadNative();
    expect(() => (native.crc32 as unknown as Fn)('abc')).toThrow(TypeError);
    expect(native.crc32(new TextEncoder().encode('123456789'))).toBe(0xcbf43926);
    expect(native.crc32(new Uint8Array(0))).toBe(0);
  });

  it('skips items whose factors are not finite instead of ranking them (batch scoring)', async () => {
    // The item matrix is not re-scanned on every call (it is the whole catalogue); a NaN or
    // infinite factor gives a score the selector drops.
    const native = loadNative();
    const items = Float32Array.from([1, 0, NaN, 5, 0.5, 0, Infinity, 0]);
    const got = await native.topKBatch({ queries: Float32Array.from([1, 1]), items, dim: 2, k: 4 });
    // Scores: item 0 → 1, item 1 → NaN (dropped), item 2 → 0.5, item 3 → +Infinity (a valid, highest score).
    expect(got.counts[0]).toBe(3);
    expect(Array.from(got.indices.subarray(0, 3))).toEqual([3, 0, 2]);
  });

  it('survives many calls refused half-way through reading their arguments', async () => {
    // Each of these fails after the call has started reading its options (the progress callback,
    // the init name, the factor count); a worker half-built by such a call used to be finalised
    // later into freed memory. In a normal build that crashed only now and then; against the
    // AddressSanitizer build (npm run test:sanitize, in CI) this test reports it on every run.
    const native = loadNative() as unknown as Record<string, Fn>;
    for (let i = 0; i < 300; i++) {
      await settle(() => native['kmeans']!({ data: f32(4), dim: 2, k: 1, onProgress: 3 }));
      await settle(() => native['kmeans']!({ data: f32(4), dim: 2, k: 1, init: 'x' }));
      await settle(() => native['trainImplicit']!({ users: i32(0), items: i32(0), nUsers: 1, nItems: 1, factors: 1e9 }));
    }
    for (let i = 0; i < 5; i++) await new Promise((resolve) => setImmediate(resolve));
    const ok = await loadNative().kmeans({ data: Float32Array.from([0, 0, 10, 10]), dim: 2, k: 2 });
    expect(ok.inertia).toBe(0);
  });

  it('survives a cancelled call whose inputs are no longer referenced from JS', async () => {
    const native = loadNative();
    const cancel = native.cancelFlag();
    const p = native.kmeans({ data: new Float32Array(200_000).map(() => Math.random()), dim: 4, k: 50, maxIterations: 1000, tolerance: 0, cancel });
    Atomics.store(cancel, 0, 1);
    await expect(p).rejects.toMatchObject({ name: 'AbortError' });
  });
  it('keeps what JavaScript does to the inputs of a running call away from its worker', async () => {
    const native = loadNative();
    // Written after the call started: indices out of range and NaN queries must not be read
    // (they were validated when it started), and the result is the one of the original inputs.
    const n = 20_000;
    const d = 16;
    const nq = 256;
    const items = Float32Array.from({ length: n * d }, (_, i) => Math.sin(i));
    const queries = Float32Array.from({ length: nq * d }, (_, i) => Math.cos(i * 0.7));
    const candidates = Int32Array.from({ length: n }, (_, i) => n - 1 - i);
    const reference = await native.topKBatch({ queries: queries.slice(), items, dim: d, k: 5, candidates: candidates.slice() });
    const running = native.topKBatch({ queries, items, dim: d, k: 5, candidates });
    candidates.fill(1e9);
    queries.fill(Number.NaN);
    expect(await running).toEqual(reference);

    // Transferred away (and collected) while the worker reads them: a plain query matrix (the
    // call's copy is read), and a pinned item matrix.
    const gc = (globalThis as { gc?: () => void }).gc;
    if (!gc) throw new Error('the native tests run with --expose-gc (native/vitest.config.ts)');
    const pinnedItems = native.pin(items);
    const plainQueries = Float32Array.from({ length: nq * d }, (_, i) => Math.cos(i * 0.3));
    const before = await native.topKBatch({ queries: plainQueries.slice(), items: pinnedItems, dim: d, k: 5 });
    const scanning = native.topKBatch({ queries: plainQueries, items: pinnedItems, dim: d, k: 5 });
    structuredClone(plainQueries.buffer, { transfer: [plainQueries.buffer] });
    structuredClone(pinnedItems.buffer, { transfer: [pinnedItems.buffer] });
    expect(plainQueries.length).toBe(0);
    // Pinned memory is not moved by a transfer (the other side gets a copy): nothing to free.
    expect(pinnedItems.length).toBe(n * d);
    gc();
    await new Promise((resolve) => setImmediate(resolve));
    gc();
    expect(await scanning).toEqual(before);

    // A cancel flag is read by the worker while the call runs: only the addon's memory will do.
    const flag = await settle(() => native.kmeans({ data: f32(4), dim: 2, k: 1, cancel: new Int32Array(1) }));
    expect(flag).toBeInstanceOf(RangeError);
    expect((flag as Error).message).toMatch(/cancel: expected a flag made by cancelFlag\(\)/);
  });

  it('pins a copy of an array in memory the addon owns', () => {
    const native = loadNative();
    const original = Float32Array.from([1, 2, 3]);
    const pinned = native.pin(original);
    expect(pinned).toBeInstanceOf(Float32Array);
    expect([...pinned]).toEqual([1, 2, 3]);
    original[0] = 9;
    expect(pinned[0]).toBe(1);
    expect(native.pin(Uint8Array.from([4, 5]))).toEqual(Uint8Array.from([4, 5]));
    expect(native.pin(new Uint16Array(0))).toHaveLength(0);
    // Index arrays are copied by every call, pinned or not: pinning them would mean nothing.
    expect(() => native.pin(new Int32Array(2) as never)).toThrow(/pin: array: expected a Float32Array, Uint8Array or Uint16Array, received a Int32Array/);
    expect(() => native.pin(new Float64Array(2) as never)).toThrow(/pin: array: expected a Float32Array/);
    expect(native.cancelFlag()).toEqual(new Int32Array(1));
  });
});

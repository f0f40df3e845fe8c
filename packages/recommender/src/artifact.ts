import { createHash } from 'node:crypto';
import { deserializeFactors, serializeFactors } from '@clientele/compute';
import type { ModelKind } from './params.js';

// The binary artifact of a model version, stored in the database and loaded by every API
// process. Layout (little-endian):
//   'CLRA' · format (u32) · header length H (u32) · header (UTF-8 JSON, H bytes) · padding to 8
//   sections, each 8-byte aligned, as listed in the header with their offsets and lengths:
//     factors     the factor model ('CLFM' bytes from serializeFactors, with its own CRC-32)
//     userIds     f64  customer id of each user row
//     itemIds     f64  item id of each item row
//     seenIndptr  i32  CSR offsets (users + 1) of each customer's training items
//     seenItems   i32  item rows          seenValues f32  rating or summed weight
//     seenTypes   u8   index into header.types of the pair's strongest interaction type
//     popularity  f32  training pairs per item row
//     gram        f64  YᵀY (factors × factors), for explanations of implicit scores
// The whole artifact's SHA-256 is stored beside it and checked before a process serves it.

export const ARTIFACT_FORMAT = 1;
const MAGIC = 0x41524c43; // 'CLRA' as a little-endian u32

export interface ModelArtifact {
  kind: ModelKind;
  factors: number;
  userFactors: Float32Array;
  itemFactors: Float32Array;
  userBias: Float32Array | null;
  itemBias: Float32Array | null;
  globalMean: number;
  /** implicit: confidence scale; explicit: 0. */
  alpha: number;
  regularization: number;
  /**
   * implicit: λ of a customer row with n pairs is regularization·(n + offset)^exponent (as in
   * training); exponent 0 is one λ for all. Absent from artifacts written before: 0.
   */
  regularizationExponent: number;
  regularizationOffset: number;
  userIds: Float64Array;
  itemIds: Float64Array;
  seenIndptr: Int32Array;
  seenItems: Int32Array;
  seenValues: Float32Array;
  seenTypes: Uint8Array;
  types: string[];
  popularity: Float32Array;
  gram: Float64Array;
}

type SectionType = 'u8' | 'i32' | 'f32' | 'f64';
interface Section {
  name: string;
  type: SectionType;
  offset: number;
  length: number;
}
interface Header {
  kind: ModelKind;
  factors: number;
  users: number;
  items: number;
  nnz: number;
  alpha: number;
  regularization: number;
  regularizationExponent?: number;
  regularizationOffset?: number;
  types: string[];
  sections: Section[];
}

const BYTES: Record<SectionType, number> = { u8: 1, i32: 4, f32: 4, f64: 8 };

export class ArtifactError extends Error {
  readonly code = 'CORRUPT_ARTIFACT';
  constructor(message: string) {
    super(message);
    this.name = 'ArtifactError';
  }
}

/** YᵀY of row-major factors (rows × f), symmetric, as float64. */
export function gramMatrix(factors: Float32Array, f: number): Float64Array {
  const g = new Float64Array(f * f);
  const rows = factors.length / f;
  for (let r = 0; r < rows; r++) {
    const base = r * f;
    for (let a = 0; a < f; a++) {
      const ya = factors[base + a] ?? 0;
      if (ya === 0) continue;
      const row = a * f;
      for (let b = a; b < f; b++) g[row + b] = (g[row + b] ?? 0) + ya * (factors[base + b] ?? 0);
    }
  }
  for (let a = 0; a < f; a++) for (let b = 0; b < a; b++) g[a * f + b] = g[b * f + a] ?? 0;
  return g;
}

export function sha256(bytes: Uint8Array): string {
  return createHash('sha256').update(bytes).digest('hex');
}

const align = (n: number) => Math.ceil(n / 8) * 8;

export function encodeArtifact(a: ModelArtifact): Uint8Array {
  const factorBytes = serializeFactors({
    factors: a.factors,
    userFactors: a.userFactors,
    itemFactors: a.itemFactors,
    ...(a.userBias && a.itemBias ? { userBias: a.userBias, itemBias: a.itemBias } : {}),
    globalMean: a.globalMean,
  });
  const parts: [string, SectionType, ArrayBufferView & { length: number }][] = [
    ['factors', 'u8', factorBytes],
    ['userIds', 'f64', a.userIds],
    ['itemIds', 'f64', a.itemIds],
    ['seenIndptr', 'i32', a.seenIndptr],
    ['seenItems', 'i32', a.seenItems],
    ['seenValues', 'f32', a.seenValues],
    ['seenTypes', 'u8', a.seenTypes],
    ['popularity', 'f32', a.popularity],
    ['gram', 'f64', a.gram],
  ];
  // Offsets are relative to the start of the section area, so the header can be sized first.
  const sections: Section[] = [];
  let at = 0;
  for (const [name, type, data] of parts) {
    sections.push({ name, type, offset: at, length: data.length });
    at = align(at + data.byteLength);
  }
  const header: Header = {
    kind: a.kind,
    factors: a.factors,
    users: a.userIds.length,
    items: a.itemIds.length,
    nnz: a.seenItems.length,
    alpha: a.alpha,
    regularization: a.regularization,
    regularizationExponent: a.regularizationExponent ?? 0,
    regularizationOffset: a.regularizationOffset ?? 0,
    types: a.types,
    sections,
  };
  const json = new TextEncoder().encode(JSON.stringify(header));
  const start = align(12 + json.length);
  const out = new Uint8Array(start + at);
  const view = new DataView(out.buffer);
  view.setUint32(0, MAGIC, true);
  view.setUint32(4, ARTIFACT_FORMAT, true);
  view.setUint32(8, json.length, true);
  out.set(json, 12);
  parts.forEach(([, , data], i) => {
    out.set(new Uint8Array(data.buffer, data.byteOffset, data.byteLength), start + (sections[i]?.offset ?? 0));
  });
  return out;
}

function fail(what: string): never {
  throw new ArtifactError(`model artifact: ${what}`);
}

/** Reads an artifact; throws ArtifactError when anything does not add up (never returns half a model). */
export function decodeArtifact(bytes: Uint8Array): ModelArtifact {
  if (bytes.length < 12) fail(`expected at least 12 bytes, got ${bytes.length}`);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  if (view.getUint32(0, true) !== MAGIC) fail("expected the 'CLRA' magic, got other bytes");
  const format = view.getUint32(4, true);
  if (format !== ARTIFACT_FORMAT) fail(`expected format ${ARTIFACT_FORMAT}, got ${format}`);
  const length = view.getUint32(8, true);
  if (12 + length > bytes.length) fail(`header of ${length} bytes runs past the end (${bytes.length} bytes)`);
  let header: Header;
  try {
    header = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(bytes.subarray(12, 12 + length))) as Header;
  } catch {
    return fail('the header is not valid JSON');
  }
  const start = align(12 + length);
  const byName = new Map((Array.isArray(header.sections) ? header.sections : []).map((s) => [s.name, s]));
  const read = <T>(name: string, type: SectionType, expected: number | null, make: (buffer: ArrayBuffer, n: number) => T): T => {
    const s = byName.get(name);
    if (!s || s.type !== type || !Number.isInteger(s.offset) || !Number.isInteger(s.length) || s.offset < 0 || s.length < 0) fail(`section '${name}' is missing or malformed`);
    if (expected !== null && s.length !== expected) fail(`section '${name}' has ${s.length} values, expected ${expected}`);
    const from = start + s.offset;
    const to = from + s.length * BYTES[type];
    if (to > bytes.length) fail(`section '${name}' runs past the end`);
    // A copy: aligned, and independent of the input's buffer (a node-postgres Buffer is a view
    // into a shared pool, and Buffer#slice does not copy).
    const copy = new Uint8Array(to - from);
    copy.set(bytes.subarray(from, to));
    return make(copy.buffer, s.length);
  };
  const { users, items, factors: f, nnz } = header;
  if (![users, items, f, nnz].every((n) => Number.isInteger(n) && n >= 0) || f < 1) fail('the header sizes are not whole numbers');
  if (header.kind !== 'explicit' && header.kind !== 'implicit') fail(`unknown model kind '${String(header.kind)}'`);
  const factorBytes = read('factors', 'u8', null, (b) => new Uint8Array(b));
  let model;
  try {
    model = deserializeFactors(factorBytes);
  } catch (error) {
    return fail(`the factors do not read back (${(error as Error).message})`);
  }
  if (model.factors !== f || model.userFactors.length !== users * f || model.itemFactors.length !== items * f) fail('the factor sizes differ from the header');
  const seenIndptr = read('seenIndptr', 'i32', users + 1, (b, n) => new Int32Array(b, 0, n));
  const seenItems = read('seenItems', 'i32', nnz, (b, n) => new Int32Array(b, 0, n));
  if (seenIndptr[0] !== 0 || seenIndptr[users] !== nnz) fail('seenIndptr does not span the seen items');
  for (let u = 0; u < users; u++) if ((seenIndptr[u + 1] ?? 0) < (seenIndptr[u] ?? 0)) fail('seenIndptr decreases');
  for (const i of seenItems) if (i < 0 || i >= items) fail('a seen item is outside the item rows');
  const types = Array.isArray(header.types) ? header.types.map(String) : [];
  const seenTypes = read('seenTypes', 'u8', nnz, (b) => new Uint8Array(b));
  for (const t of seenTypes) if (t >= Math.max(1, types.length)) fail('a seen type code has no name');
  return {
    kind: header.kind,
    factors: f,
    userFactors: model.userFactors,
    itemFactors: model.itemFactors,
    userBias: model.hasBias ? model.userBias : null,
    itemBias: model.hasBias ? model.itemBias : null,
    globalMean: model.globalMean,
    alpha: Number(header.alpha) || 0,
    regularization: Number(header.regularization) || 0,
    regularizationExponent: Number(header.regularizationExponent) || 0,
    regularizationOffset: Number(header.regularizationOffset) || 0,
    userIds: read('userIds', 'f64', users, (b, n) => new Float64Array(b, 0, n)),
    itemIds: read('itemIds', 'f64', items, (b, n) => new Float64Array(b, 0, n)),
    seenIndptr,
    seenItems,
    seenValues: read('seenValues', 'f32', nnz, (b, n) => new Float32Array(b, 0, n)),
    seenTypes,
    types,
    popularity: read('popularity', 'f32', items, (b, n) => new Float32Array(b, 0, n)),
    gram: read('gram', 'f64', f * f, (b, n) => new Float64Array(b, 0, n)),
  };
}

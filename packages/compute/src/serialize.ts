// Compact binary form of a factor model for storage:
//   header (48 bytes, little-endian)
//     0  magic 'CLFM'            4  format version (u16)     6  flags (u16: bit 0 = biases present)
//     8  factors (u32)          12  users (u32)              16  items (u32)
//    20  reserved (u32)         24  global mean (f64)        32  payload bytes (f64, integral)
//    40  reserved (8 bytes)
//   payload: user factors, item factors, [user biases, item biases] as float32 little-endian
//   trailer: CRC-32 (u32) of header + payload
import { native } from './native.js';
import { Check } from './validate.js';

export const FACTORS_FORMAT_VERSION = 1;
const MAGIC = 0x4d464c43; // 'CLFM' read as little-endian u32
const HEADER = 48;

export interface FactorModel {
  factors: number;
  userFactors: Float32Array;
  itemFactors: Float32Array;
  userBias?: Float32Array;
  itemBias?: Float32Array;
  globalMean?: number;
}

const littleEndian = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;

function checksum(bytes: Uint8Array): number {
  return native().crc32(bytes) >>> 0;
}

/** Serialises factors (and biases, when present) with a versioned header and a CRC-32. */
export function serializeFactors(model: FactorModel): Uint8Array {
  const check = new Check('serializeFactors');
  const m = check.object('model', model);
  const f = check.integer('model.factors', m.factors, 1, 1 << 20);
  const uf = check.float32('model.userFactors', m.userFactors);
  const itf = check.float32('model.itemFactors', m.itemFactors);
  const nu = check.rows('model.userFactors', uf, f, 'model.factors');
  const ni = check.rows('model.itemFactors', itf, f, 'model.factors');
  const hasBias = m.userBias !== undefined || m.itemBias !== undefined;
  let ub: Float32Array = new Float32Array(0);
  let ib: Float32Array = new Float32Array(0);
  if (hasBias) {
    ub = check.float32('model.userBias', m.userBias);
    ib = check.float32('model.itemBias', m.itemBias);
    check.length('model.userBias', ub, nu, 'one per user');
    check.length('model.itemBias', ib, ni, 'one per item');
  }
  const globalMean = check.number('model.globalMean', m.globalMean, -1e30, 1e30, 0);
  if (!littleEndian) throw new Error('serializeFactors: big-endian platforms are not supported');
  const payload = (uf.length + itf.length + ub.length + ib.length) * 4;
  const out = new Uint8Array(HEADER + payload + 4);
  const view = new DataView(out.buffer);
  view.setUint32(0, MAGIC, true);
  view.setUint16(4, FACTORS_FORMAT_VERSION, true);
  view.setUint16(6, hasBias ? 1 : 0, true);
  view.setUint32(8, f, true);
  view.setUint32(12, nu, true);
  view.setUint32(16, ni, true);
  view.setFloat64(24, globalMean, true);
  view.setFloat64(32, payload, true);
  let offset = HEADER;
  for (const part of [uf, itf, ub, ib]) {
    out.set(new Uint8Array(part.buffer, part.byteOffset, part.byteLength), offset);
    offset += part.byteLength;
  }
  view.setUint32(offset, checksum(out.subarray(0, offset)), true);
  return out;
}

/** Reads what serializeFactors wrote; throws on a wrong magic, unknown version, bad size or checksum. */
export function deserializeFactors(bytes: Uint8Array): Required<FactorModel> & { version: number; hasBias: boolean } {
  const check = new Check('deserializeFactors');
  if (!(bytes instanceof Uint8Array)) throw check.typeError('bytes', 'a Uint8Array', bytes);
  if (bytes.length < HEADER + 4) throw check.rangeError('bytes', `at least ${HEADER + 4} bytes`, `${bytes.length}`);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  if (view.getUint32(0, true) !== MAGIC) throw check.rangeError('bytes', "the 'CLFM' magic", 'other bytes (not a factor model)');
  const version = view.getUint16(4, true);
  if (version < 1 || version > FACTORS_FORMAT_VERSION) {
    throw check.rangeError('bytes', `format version 1..${FACTORS_FORMAT_VERSION}`, `version ${version}`);
  }
  const hasBias = (view.getUint16(6, true) & 1) === 1;
  const f = view.getUint32(8, true);
  const nu = view.getUint32(12, true);
  const ni = view.getUint32(16, true);
  const globalMean = view.getFloat64(24, true);
  const payload = view.getFloat64(32, true);
  const expected = (nu * f + ni * f + (hasBias ? nu + ni : 0)) * 4;
  if (f === 0 || payload !== expected || bytes.length !== HEADER + payload + 4) {
    throw check.rangeError('bytes', `${HEADER + expected + 4} bytes for the sizes in the header`, `${bytes.length} bytes`);
  }
  const stored = view.getUint32(HEADER + payload, true);
  const actual = checksum(bytes.subarray(0, HEADER + payload));
  if (stored !== actual) {
    throw check.rangeError('bytes', `checksum ${stored.toString(16)}`, `${actual.toString(16)} (the data is corrupt)`);
  }
  // Copy into fresh, aligned buffers.
  const body = bytes.slice(HEADER, HEADER + payload);
  const all = new Float32Array(body.buffer, 0, payload / 4);
  let o = 0;
  const take = (n: number) => all.slice(o, (o += n));
  const userFactors = take(nu * f);
  const itemFactors = take(ni * f);
  const userBias = hasBias ? take(nu) : new Float32Array(0);
  const itemBias = hasBias ? take(ni) : new Float32Array(0);
  return { version, hasBias, factors: f, userFactors, itemFactors, userBias, itemBias, globalMean };
}

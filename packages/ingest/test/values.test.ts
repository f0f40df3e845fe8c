import { describe, expect, it } from 'vitest';
import { isoUtc } from '../src/values.js';

describe('isoUtc', () => {
  it('formats as Date#toISOString does, over the four-digit years and at their edges', () => {
    const edges = [0, 1, 951_782_400_000 /* 2000-02-29 */, 4_107_542_400_000 /* 2100-03-01 */, 253_402_300_799_999, 253_402_300_800_000, -1, -62_167_219_200_000, 1.5];
    let a = 12345;
    const random = Array.from({ length: 50_000 }, () => {
      a = (Math.imul(a, 1_103_515_245) + 12_345) >>> 0;
      return Math.floor((a / 2 ** 32) * 253_402_300_800_000);
    });
    for (const ms of [...edges, ...random]) expect(isoUtc(ms), String(ms)).toBe(new Date(ms).toISOString());
  });
});

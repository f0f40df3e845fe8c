import { describe, expect, it } from 'vitest';

import { addonPath, isNativeBuilt, loadNative } from '../src/index.js';

describe.skipIf(!isNativeBuilt())('@clientele/native', () => {
  it('loads the addon and reports CPU features', () => {
    const native = loadNative();
    const f = native.cpuFeatures();
    expect(typeof f.avx2).toBe('boolean');
    expect(['avx2', 'portable']).toContain(f.kernel);
    expect(f.threads).toBeGreaterThanOrEqual(1);
    expect(typeof f.cuda.compiled).toBe('boolean');
    expect(f.cuda.devices).toBeGreaterThanOrEqual(0);
  });

  it('computes a dot-product batch', async () => {
    const native = loadNative();
    const out = await native.dotBatch({
      queries: new Float32Array([1, 2, 3, 4]),
      matrix: new Float32Array([1, 0, 0, 1, 1, 1]),
      dim: 2,
    });
    expect(Array.from(out)).toEqual([1, 2, 3, 3, 4, 7]);
  });

  it('rejects a non-object argument with a TypeError', () => {
    const native = loadNative();
    expect(() => (native.dotBatch as unknown as (x: number) => unknown)(3)).toThrow(TypeError);
  });
});

describe('addon path', () => {
  it('points at build/Release', () => {
    expect(addonPath).toMatch(/clientele_native\.node$/);
  });
});

describe('missing binary', () => {
  it('throws an error that says it is missing and lists the fixes', async () => {
    const { vi } = await import('vitest');
    vi.resetModules();
    const previous = process.env.CLIENTELE_NATIVE_ADDON;
    process.env.CLIENTELE_NATIVE_ADDON = '/nonexistent/clientele_native.node';
    try {
      const mod = await import('../src/index.js');
      expect(() => mod.loadNative()).toThrow(mod.NativeAddonMissingError);
      expect(() => mod.loadNative()).toThrow(/missing[\s\S]*npm run build[\s\S]*CMake ≥ 3\.18 and a C\+\+17 compiler/);
    } finally {
      if (previous === undefined) delete process.env.CLIENTELE_NATIVE_ADDON;
      else process.env.CLIENTELE_NATIVE_ADDON = previous;
      vi.resetModules();
    }
  });
});

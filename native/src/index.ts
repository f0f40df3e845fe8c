// Locates and loads the compiled addon (build/Release/clientele_native.node). The typed, validated
// API lives in @clientele/compute; this package only knows where the binary is and what it exports.
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

import type { NativeBinding } from './binding.js';

export type * from './binding.js';

const packageRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');

/** Where the addon is expected: `CLIENTELE_NATIVE_ADDON` overrides the default build output. */
export const addonPath: string =
  process.env.CLIENTELE_NATIVE_ADDON ?? path.join(packageRoot, 'build', 'Release', 'clientele_native.node');

/** The ABI version this TypeScript expects from the binary (bumped when the binding changes). */
export const ABI_VERSION = 2;

/** Thrown when the compiled addon is absent or cannot be loaded. */
export class NativeAddonMissingError extends Error {
  override readonly name = 'NativeAddonMissingError';
  readonly code = 'NATIVE_ADDON_MISSING';
}

function missingMessage(reason: string): string {
  return [
    `The Clientele native addon is missing or unusable: ${reason}`,
    `  expected at ${addonPath}`,
    'To fix it:',
    '  • run `npm run build` from the repository root (it builds the addon through turbo), or',
    '    `corepack pnpm --filter @clientele/native build` to build only the addon;',
    '  • the build needs CMake ≥ 3.18 and a C++17 compiler (Debian/Ubuntu: apt-get install cmake g++);',
    '  • after a Node.js upgrade or a failed build, delete native/build and build again.',
  ].join('\n');
}

let cached: NativeBinding | undefined;

/** Loads the addon once; throws NativeAddonMissingError listing the fixes when it cannot. */
export function loadNative(): NativeBinding {
  if (cached) return cached;
  if (!existsSync(addonPath)) throw new NativeAddonMissingError(missingMessage('the file does not exist'));
  const require = createRequire(import.meta.url);
  let binding: NativeBinding;
  try {
    binding = require(addonPath) as NativeBinding;
  } catch (error) {
    const detail = error instanceof Error ? error.message : String(error);
    throw new NativeAddonMissingError(missingMessage(`loading it failed (${detail})`), { cause: error });
  }
  if (binding.abiVersion !== ABI_VERSION) {
    throw new NativeAddonMissingError(
      missingMessage(`it was built from other sources (ABI ${String(binding.abiVersion)}, expected ${ABI_VERSION})`),
    );
  }
  cached = binding;
  return binding;
}

/** True when the addon file exists (it may still fail to load). */
export function isNativeBuilt(): boolean {
  return existsSync(addonPath);
}

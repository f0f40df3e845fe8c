// Options every long-running call accepts, and the bridge from AbortSignal/progress callbacks to
// the addon's cancel flag and progress queue.
import type { KernelName, RawCommon, RawProgress } from '@clientele/native';

import { native } from './native.js';
import type { Check } from './validate.js';

/** Progress of long work, in the one shape used across Clientele, plus the current loss or inertia. */
export interface Progress {
  /** The phase, e.g. 'kmeans', 'kmeans++', 'als', 'mf'. */
  stage: string;
  /** Steps done (iterations) and the total planned. */
  done: number;
  total: number;
  /** Loss, inertia or another figure of merit for the step just finished. */
  value: number;
}

export interface RunOptions {
  /** Worker threads: 0 or absent = all cores. Results are deterministic for a given seed and thread count. */
  threads?: number;
  /** Inner kernels: 'auto' (AVX2+FMA when available), 'portable' or 'avx2'. */
  kernel?: KernelName;
  /** Cancels between iterations; the Promise then rejects with the signal's reason. */
  signal?: AbortSignal;
  /** Called on the event loop after each iteration. */
  onProgress?: (progress: Progress) => void;
}

export const KERNELS = ['auto', 'portable', 'avx2'] as const;

export function commonOptions(check: Check, o: RunOptions): Omit<RawCommon, 'cancel' | 'onProgress'> {
  const threads = check.integer('options.threads', o.threads, 0, 1024, 0);
  const kernel = check.oneOf('options.kernel', o.kernel, KERNELS, 'auto');
  if (o.signal !== undefined && !(o.signal instanceof AbortSignal)) {
    throw check.typeError('options.signal', 'an AbortSignal', o.signal);
  }
  if (o.onProgress !== undefined && typeof o.onProgress !== 'function') {
    throw check.typeError('options.onProgress', 'a function', o.onProgress);
  }
  return { threads, kernel };
}

function abortReason(signal: AbortSignal): unknown {
  return signal.reason ?? new DOMException('The operation was aborted', 'AbortError');
}

/**
 * Starts a native call with the cancel flag and progress wired up; rejects with the signal's reason
 * when aborted.
 */
export async function runNative<T>(
  options: RunOptions,
  start: (common: Pick<RawCommon, 'cancel' | 'onProgress'>) => Promise<T>,
): Promise<T> {
  const { signal, onProgress } = options;
  if (signal?.aborted) throw abortReason(signal);
  // Only a call that can be aborted gets a flag (memory the addon lends, see cancelFlag).
  const cancel = signal ? native().cancelFlag() : undefined;
  const onAbort = () => {
    if (cancel) Atomics.store(cancel, 0, 1);
  };
  signal?.addEventListener('abort', onAbort, { once: true });
  const progress = onProgress ? (p: RawProgress) => onProgress({ ...p }) : undefined;
  try {
    return await start({ ...(cancel ? { cancel } : {}), ...(progress ? { onProgress: progress } : {}) });
  } catch (error) {
    if (signal?.aborted && (error as { name?: string } | null)?.name === 'AbortError') throw abortReason(signal);
    throw error;
  } finally {
    signal?.removeEventListener('abort', onAbort);
  }
}

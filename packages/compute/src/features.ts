import { native } from './native.js';

export interface CpuFeatures {
  avx2: boolean;
  fma: boolean;
  /** AVX-512 F, BW and VNNI (with the OS saving their state). */
  avx512vnni: boolean;
  /** The 8-bit scan of ItemScorer runs on VNNI here (it then keeps an 8-bit copy, else a half-float one). */
  int8ScanFast: boolean;
  /** The kernel used by default: AVX2+FMA when the CPU has both, unless CLIENTELE_NATIVE_KERNEL=portable. */
  kernel: 'avx2' | 'portable';
  /** Default worker threads (the machine's cores). */
  threads: number;
  /** The optional CUDA path: compiled in, and devices found at run time (0 = CPU path). */
  cuda: { compiled: boolean; devices: number; reason?: string };
}

/** What the CPU supports and which kernels the addon picked. */
export function cpuFeatures(): CpuFeatures {
  return native().cpuFeatures();
}

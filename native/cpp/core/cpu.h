// Run-time CPU feature detection and kernel selection.
#pragma once

#include <string>

namespace clientele {

struct CpuInfo {
  bool avx2 = false;
  bool fma = false;
};

/** What this CPU (and OS, for the AVX state) supports. */
CpuInfo detect_cpu();

enum class KernelChoice { Auto, Portable, Avx2 };

/** Parses "auto" | "portable" | "avx2"; throws RangeError otherwise. */
KernelChoice parse_kernel_choice(const std::string& name, const char* argument);

struct Kernels;

/**
 * The kernel table for a choice. Auto picks AVX2+FMA when the CPU has both, unless the
 * environment variable CLIENTELE_NATIVE_KERNEL=portable forces the portable path.
 * Asking for avx2 on a CPU without it throws RangeError.
 */
const Kernels& select_kernels(KernelChoice choice);

/** The name of the kernel Auto resolves to ("avx2" or "portable"). */
const char* default_kernel_name();

}  // namespace clientele

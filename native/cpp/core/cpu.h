// Run-time CPU feature detection and kernel selection.
#pragma once

#include <string>

#include "kernels.h"

namespace clientele {

struct CpuInfo {
  bool avx2 = false;
  bool fma = false;
  /** AVX-512 F, BW and VNNI, with the OS saving the vector state: the 8-bit scan's fast kernel. */
  bool avx512vnni = false;
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

/**
 * The 8-bit scan kernel for a choice: VNNI when the CPU (and build) has it and the choice is
 * auto or avx2 (the vector kernels) and CLIENTELE_NATIVE_KERNEL does not force portable code;
 * else the portable one, which gives the same results.
 */
DotRowsI8 select_i8_kernel(KernelChoice choice);

/** Whether the 8-bit scan runs on VNNI here (then it is the fastest scan; else the half-float one is). */
bool i8_scan_is_fast();

/** The name of the kernel Auto resolves to ("avx2" or "portable"). */
const char* default_kernel_name();

}  // namespace clientele

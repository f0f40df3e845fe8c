#include "cpu.h"

#include <cstdlib>
#include <cstring>

#include "common.h"
#include "kernels.h"

namespace clientele {

int hardware_threads() {
  unsigned n = std::thread::hardware_concurrency();
  return n == 0 ? 1 : static_cast<int>(n > 256 ? 256 : n);
}

static CpuInfo detect_cpu_once() {
  CpuInfo info;
#if defined(__x86_64__) || defined(__i386__)
  __builtin_cpu_init();
  // libgcc checks the OS-enabled AVX state (XGETBV) before reporting avx2.
  info.avx2 = __builtin_cpu_supports("avx2") != 0;
  info.fma = __builtin_cpu_supports("fma") != 0;
  // The AVX2 kernels also convert half floats (F16C), present on every AVX2 CPU in practice.
  if (!__builtin_cpu_supports("f16c")) info.avx2 = false;
  // libgcc also checks that the OS saves the opmask and ZMM state before reporting AVX-512.
  info.avx512vnni = __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
                    __builtin_cpu_supports("avx512vnni");
#endif
  return info;
}

// Kernel selection runs on every scoring call: the CPU is asked once.
CpuInfo detect_cpu() {
  static const CpuInfo info = detect_cpu_once();
  return info;
}

KernelChoice parse_kernel_choice(const std::string& name, const char* argument) {
  if (name == "auto") return KernelChoice::Auto;
  if (name == "portable") return KernelChoice::Portable;
  if (name == "avx2") return KernelChoice::Avx2;
  throw_range(std::string(argument) + ": expected 'auto', 'portable' or 'avx2', received '" + name + "'");
}

static bool env_forces_portable() {
  const char* v = std::getenv("CLIENTELE_NATIVE_KERNEL");
  return v != nullptr && std::strcmp(v, "portable") == 0;
}

const Kernels& select_kernels(KernelChoice choice) {
  CpuInfo cpu = detect_cpu();
  bool has = cpu.avx2 && cpu.fma;
#ifndef CLIENTELE_HAVE_AVX2_TU
  has = false;
#endif
  switch (choice) {
    case KernelChoice::Portable:
      return portable_kernels();
    case KernelChoice::Avx2:
      if (!has) throw_range("kernel: 'avx2' was requested but this CPU (or build) lacks AVX2+FMA");
#ifdef CLIENTELE_HAVE_AVX2_TU
      return avx2_kernels();
#else
      return portable_kernels();
#endif
    case KernelChoice::Auto:
    default:
#ifdef CLIENTELE_HAVE_AVX2_TU
      if (has && !env_forces_portable()) return avx2_kernels();
#endif
      return portable_kernels();
  }
}

DotRowsI8 select_i8_kernel(KernelChoice choice) {
#ifdef CLIENTELE_HAVE_AVX512_TU
  if (choice != KernelChoice::Portable && detect_cpu().avx512vnni && !env_forces_portable()) return dot_rows_i8_vnni;
#else
  (void)choice;
#endif
  return dot_rows_i8_portable;
}

bool i8_scan_is_fast() { return select_i8_kernel(KernelChoice::Auto) != dot_rows_i8_portable; }

const char* default_kernel_name() { return select_kernels(KernelChoice::Auto).name; }

}  // namespace clientele

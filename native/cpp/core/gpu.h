// Optional CUDA path. The CUDA code lives in a separate shared object (clientele_cuda.so, built only
// when nvcc was found) that is dlopen'ed on first use: a machine without the CUDA driver or runtime
// loads the addon normally and simply reports no devices.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>

namespace clientele {

struct GpuApi {
  /** Number of usable CUDA devices (0 when the driver is missing). */
  int (*device_count)();
  /** k-means assignment: labels/best as in Kernels::assign_rows (row-major X n×d, C k×d). 0 on success. */
  int (*kmeans_assign)(const float* X, size_t n, size_t d, const float* C, size_t k, int32_t* labels, float* best);
  /**
   * Implicit ALS conjugate-gradient solves for all rows of a CSR matrix. YtY is f×f (regularised).
   * X (rows×f) is read as the warm start and overwritten. 0 on success.
   */
  int (*implicit_cg)(const int64_t* indptr, const int32_t* indices, const float* conf, size_t rows, const float* Y,
                     size_t ny, const float* YtY, size_t f, int cg_steps, float* X);
};

struct GpuStatus {
  bool compiled = false;  // the CUDA shared object exists next to the addon
  bool loaded = false;    // it was loaded
  int devices = 0;        // devices reported by cudaGetDeviceCount (0 on any failure)
  std::string error;      // why it could not be used, if so
};

/** Probes once (thread-safe) and caches the result. */
const GpuStatus& gpu_status();
/** The loaded API when at least one device is present, else nullptr. */
const GpuApi* gpu_api();

}  // namespace clientele

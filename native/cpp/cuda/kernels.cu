// Optional CUDA kernels: k-means assignment and implicit-ALS conjugate-gradient solves.
// Built into clientele_cuda.so (static CUDA runtime) and used only when a device is present.
#include <cuda_runtime.h>

#include <cfloat>
#include <cstddef>
#include <cstdint>

namespace {

// One thread per point; centroids streamed through shared memory in tiles.
__global__ void assign_kernel(const float* X, size_t n, size_t d, const float* C, const float* cnorm, size_t k,
                              int32_t* labels, float* best) {
  extern __shared__ float tile[];
  const size_t tile_rows = blockDim.x;
  size_t i = blockIdx.x * static_cast<size_t>(blockDim.x) + threadIdx.x;
  float bv = FLT_MAX;
  int32_t bi = 0;
  for (size_t c0 = 0; c0 < k; c0 += tile_rows) {
    size_t cn = k - c0 < tile_rows ? k - c0 : tile_rows;
    __syncthreads();
    for (size_t t = threadIdx.x; t < cn * d; t += blockDim.x) tile[t] = C[c0 * d + t];
    __syncthreads();
    if (i < n) {
      const float* x = X + i * d;
      for (size_t c = 0; c < cn; ++c) {
        float dot = 0.0f;
        for (size_t p = 0; p < d; ++p) dot = fmaf(x[p], tile[c * d + p], dot);
        float v = cnorm[c0 + c] - 2.0f * dot;
        if (v < bv) {
          bv = v;
          bi = static_cast<int32_t>(c0 + c);
        }
      }
    }
  }
  if (i < n) {
    labels[i] = bi;
    best[i] = bv;
  }
}

__global__ void norms_kernel(const float* C, size_t k, size_t d, float* out) {
  size_t c = blockIdx.x * static_cast<size_t>(blockDim.x) + threadIdx.x;
  if (c >= k) return;
  float s = 0.0f;
  for (size_t p = 0; p < d; ++p) s = fmaf(C[c * d + p], C[c * d + p], s);
  out[c] = s;
}

// One block per row, f threads (f ≤ 1024): r = b − A x; then cg_steps of CG, A never formed.
__global__ void implicit_cg_kernel(const int64_t* indptr, const int32_t* indices, const float* conf, size_t rows,
                                   const float* Y, const float* YtY, int f, int cg_steps, float* X) {
  extern __shared__ float sh[];
  float* x = sh;
  float* r = x + f;
  float* p = r + f;
  float* red = p + f;
  size_t u = blockIdx.x;
  if (u >= rows) return;
  int t = threadIdx.x;
  auto block_sum = [&](float v) {
    red[t] = v;
    __syncthreads();
    for (int s = 1; s < f; s <<= 1) {
      float o = (t % (2 * s) == 0 && t + s < f) ? red[t + s] : 0.0f;
      __syncthreads();
      red[t] += o;
      __syncthreads();
    }
    float total = red[0];
    __syncthreads();
    return total;
  };
  x[t] = X[u * f + t];
  __syncthreads();
  // A·v = YtY v + Σ (c−1)(y·v) y
  auto apply = [&](const float* v) {
    float acc = 0.0f;
    for (int j = 0; j < f; ++j) acc = fmaf(YtY[t * f + j], v[j], acc);
    for (int64_t k = indptr[u]; k < indptr[u + 1]; ++k) {
      const float* y = Y + static_cast<size_t>(indices[k]) * f;
      float s = block_sum(y[t] * v[t]);
      acc = fmaf((conf[k] - 1.0f) * s, y[t], acc);
    }
    return acc;
  };
  float ax = apply(x);
  float b = 0.0f;
  for (int64_t k = indptr[u]; k < indptr[u + 1]; ++k) b += conf[k] * Y[static_cast<size_t>(indices[k]) * f + t];
  r[t] = b - ax;
  p[t] = r[t];
  __syncthreads();
  float rsold = block_sum(r[t] * r[t]);
  for (int it = 0; it < cg_steps && rsold > 1e-20f; ++it) {
    float ap = apply(p);
    float pap = block_sum(p[t] * ap);
    if (pap <= 0.0f) break;
    float alpha = rsold / pap;
    x[t] += alpha * p[t];
    r[t] -= alpha * ap;
    __syncthreads();
    float rsnew = block_sum(r[t] * r[t]);
    p[t] = r[t] + (rsnew / rsold) * p[t];
    __syncthreads();
    rsold = rsnew;
  }
  X[u * f + t] = x[t];
}

template <typename T>
struct DeviceBuffer {
  T* ptr = nullptr;
  cudaError_t alloc(size_t n) { return cudaMalloc(reinterpret_cast<void**>(&ptr), (n == 0 ? 1 : n) * sizeof(T)); }
  ~DeviceBuffer() {
    if (ptr) cudaFree(ptr);
  }
};

}  // namespace

extern "C" {

__attribute__((visibility("default"))) int clientele_cuda_device_count() {
  int n = 0;
  if (cudaGetDeviceCount(&n) != cudaSuccess) {
    cudaGetLastError();
    return 0;
  }
  return n;
}

__attribute__((visibility("default"))) int clientele_cuda_kmeans_assign(const float* X, size_t n, size_t d,
                                                                         const float* C, size_t k, int32_t* labels,
                                                                         float* best) {
  DeviceBuffer<float> dX, dC, dN, dB;
  DeviceBuffer<int32_t> dL;
  if (dX.alloc(n * d) || dC.alloc(k * d) || dN.alloc(k) || dB.alloc(n) || dL.alloc(n)) return 1;
  if (cudaMemcpy(dX.ptr, X, n * d * sizeof(float), cudaMemcpyHostToDevice)) return 2;
  if (cudaMemcpy(dC.ptr, C, k * d * sizeof(float), cudaMemcpyHostToDevice)) return 2;
  norms_kernel<<<static_cast<unsigned>((k + 255) / 256), 256>>>(dC.ptr, k, d, dN.ptr);
  unsigned threads = 128;
  size_t shared = threads * d * sizeof(float);
  if (shared > 48 * 1024) {
    threads = static_cast<unsigned>((48 * 1024) / (d * sizeof(float)));
    if (threads < 32) return 3;
    threads = threads / 32 * 32;
    shared = threads * d * sizeof(float);
  }
  assign_kernel<<<static_cast<unsigned>((n + threads - 1) / threads), threads, shared>>>(dX.ptr, n, d, dC.ptr, dN.ptr,
                                                                                         k, dL.ptr, dB.ptr);
  if (cudaGetLastError() != cudaSuccess) return 4;
  if (cudaMemcpy(labels, dL.ptr, n * sizeof(int32_t), cudaMemcpyDeviceToHost)) return 5;
  if (cudaMemcpy(best, dB.ptr, n * sizeof(float), cudaMemcpyDeviceToHost)) return 5;
  return 0;
}

__attribute__((visibility("default"))) int clientele_cuda_implicit_cg(const int64_t* indptr, const int32_t* indices,
                                                                       const float* conf, size_t rows, const float* Y,
                                                                       size_t ny, const float* YtY, size_t f,
                                                                       int cg_steps, float* X) {
  if (f == 0 || f > 1024) return 3;
  size_t nnz = static_cast<size_t>(indptr[rows]);
  DeviceBuffer<int64_t> dP;
  DeviceBuffer<int32_t> dI;
  DeviceBuffer<float> dC, dY, dA, dX;
  if (dP.alloc(rows + 1) || dI.alloc(nnz) || dC.alloc(nnz) || dY.alloc(ny * f) || dA.alloc(f * f) || dX.alloc(rows * f))
    return 1;
  if (cudaMemcpy(dP.ptr, indptr, (rows + 1) * sizeof(int64_t), cudaMemcpyHostToDevice) ||
      cudaMemcpy(dI.ptr, indices, nnz * sizeof(int32_t), cudaMemcpyHostToDevice) ||
      cudaMemcpy(dC.ptr, conf, nnz * sizeof(float), cudaMemcpyHostToDevice) ||
      cudaMemcpy(dY.ptr, Y, ny * f * sizeof(float), cudaMemcpyHostToDevice) ||
      cudaMemcpy(dA.ptr, YtY, f * f * sizeof(float), cudaMemcpyHostToDevice) ||
      cudaMemcpy(dX.ptr, X, rows * f * sizeof(float), cudaMemcpyHostToDevice))
    return 2;
  size_t shared = 4 * f * sizeof(float);
  implicit_cg_kernel<<<static_cast<unsigned>(rows), static_cast<unsigned>(f), shared>>>(
      dP.ptr, dI.ptr, dC.ptr, rows, dY.ptr, dA.ptr, static_cast<int>(f), cg_steps, dX.ptr);
  if (cudaGetLastError() != cudaSuccess) return 4;
  if (cudaMemcpy(X, dX.ptr, rows * f * sizeof(float), cudaMemcpyDeviceToHost)) return 5;
  return 0;
}

}  // extern "C"

// k-means: greedy k-means++ initialisation, Lloyd iterations with blocked-GEMM distances and a
// running argmin, empty-cluster reseeding, restarts; silhouette on a sample.
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

#include "common.h"
#include "kernels.h"

namespace clientele {

enum class KmeansInit { PlusPlus, Random, Given };

struct KmeansParams {
  size_t k = 8;
  int max_iter = 100;
  double tol = 1e-4;  // stop when (previous − current) / previous inertia < tol
  int n_init = 1;
  uint64_t seed = 0;
  KmeansInit init = KmeansInit::PlusPlus;
  const float* init_centroids = nullptr;  // k×d when init == Given
  int candidates = 0;                     // k-means++ candidates per step (0 = 2 + ⌊ln k⌋, at most 8)
  bool use_gpu = false;
};

struct KmeansResult {
  double inertia = 0;
  int iterations = 0;
  int best_run = 0;
  std::vector<double> history;  // inertia after each assignment, best run
};

/** Clusters X (n×d). Writes labels (n) and centroids (k×d). */
KmeansResult kmeans(const Kernels& K, const float* X, size_t n, size_t d, const KmeansParams& p, int32_t* labels,
                    float* centroids, const RunContext& ctx);

/** Greedy k-means++ seeding only: writes k×d centroids. */
void kmeans_plusplus(const Kernels& K, const float* X, size_t n, size_t d, size_t k, int candidates, uint64_t seed,
                     float* centroids, const RunContext& ctx);

/** One assignment pass (labels, squared distances). Returns the inertia. */
double kmeans_assign(const Kernels& K, const float* X, size_t n, size_t d, const float* C, size_t k, int32_t* labels,
                     float* dist2, const RunContext& ctx);

/**
 * Mean silhouette over a random sample of at most `sample` points (all when sample ≥ n), Euclidean.
 * Points in singleton clusters (within the sample) score 0. Labels must be in [0, k).
 */
double silhouette(const Kernels& K, const float* X, size_t n, size_t d, const int32_t* labels, size_t k, size_t sample,
                  uint64_t seed, const RunContext& ctx);

}  // namespace clientele

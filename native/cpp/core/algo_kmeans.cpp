#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>
#include <numeric>

#include "gpu.h"
#include "kmeans.h"

namespace clientele {
namespace {

constexpr float kInf = std::numeric_limits<float>::infinity();

/** Centroids packed in panels of kPanel columns for Kernels::assign_rows. */
struct PackedCentroids {
  AlignedFloats panels;
  std::vector<float> cnorm;
  size_t npanels = 0;
  void pack(const float* C, size_t k, size_t d) {
    npanels = (k + kPanel - 1) / kPanel;
    size_t need = checked_mul(checked_mul(npanels, d, "k × d"), kPanel, "k × d");
    if (panels.size != need) panels = AlignedFloats(need);
    cnorm.assign(npanels * kPanel, kInf);
    for (size_t q = 0; q < npanels; ++q)
      for (size_t p = 0; p < d; ++p)
        for (size_t c = 0; c < kPanel; ++c) {
          size_t j = q * kPanel + c;
          panels[(q * d + p) * kPanel + c] = j < k ? C[j * d + p] : 0.0f;
        }
    for (size_t j = 0; j < k; ++j) {
      double s = 0;
      for (size_t p = 0; p < d; ++p) s += static_cast<double>(C[j * d + p]) * C[j * d + p];
      cnorm[j] = static_cast<float>(s);
    }
  }
};

void squared_norms(const Kernels& K, const float* X, size_t n, size_t d, float* out, const RunContext& ctx) {
  parallel_for(ctx.threads, n, [&](int, size_t b, size_t e) {
    for (size_t i = b; i < e; ++i) out[i] = K.dot(X + i * d, X + i * d, d);
  });
}

double exact_d2(const float* a, const float* b, size_t d) {
  double s = 0;
  for (size_t p = 0; p < d; ++p) {
    double t = static_cast<double>(a[p]) - b[p];
    s += t * t;
  }
  return s;
}

/** X packed once per call in blocks of kAssignRows rows (see pack_row_blocks). */
AlignedFloats pack_for_assign(const float* X, size_t n, size_t d, int threads) {
  const size_t nb = (n + kAssignRows - 1) / kAssignRows;
  AlignedFloats Xp(checked_mul(checked_mul(nb, kAssignRows, "points"), d, "points × dim"));
  parallel_for(threads, nb, [&](int, size_t b0, size_t b1) { pack_row_blocks(X, n, d, b0, b1, Xp.data, kAssignRows); });
  return Xp;
}

/** Cluster sums for the update, per thread (reduced in thread order). */
struct UpdateSums {
  size_t k = 0, d = 0;
  std::vector<double> sums;     // threads × k × d
  std::vector<int64_t> counts;  // threads × k
  std::vector<float> scratch;   // threads × k × d (float partials, flushed per chunk)
  void reset(size_t threads, size_t k_, size_t d_) {
    k = k_;
    d = d_;
    sums.assign(threads * k * d, 0.0);
    counts.assign(threads * k, 0);
    scratch.assign(threads * k * d, 0.0f);
  }
};

/**
 * Assignment with precomputed ‖x‖²: labels, squared distances, returns inertia (sum in fixed
 * order). With `upd`, the cluster sums of the new labels are accumulated on the way.
 */
double assign_all(const Kernels& K, const float* Xp, const float* xnorm, size_t n, size_t d, const PackedCentroids& pc,
                  int32_t* labels, float* dist2, int threads, const float* X = nullptr, UpdateSums* upd = nullptr) {
  size_t t = static_cast<size_t>(std::max(1, threads));
  std::vector<double> partial(t, 0.0);
  const size_t nb = (n + kAssignRows - 1) / kAssignRows;
  parallel_for(threads, nb, [&](int tid, size_t b0, size_t b1) {
    // Chunks small enough that float partial sums stay accurate before the flush to double.
    constexpr size_t kChunk = 1020 / kAssignRows * kAssignRows;
    const size_t b = b0 * kAssignRows, e = std::min(n, b1 * kAssignRows);
    const size_t th = static_cast<size_t>(tid);
    float* scratch = upd ? upd->scratch.data() + th * upd->k * d : nullptr;
    double s = 0;
    for (size_t i0 = b; i0 < e; i0 += kChunk) {
      size_t m = std::min(kChunk, e - i0);
      K.assign_rows(Xp + (i0 / kAssignRows) * kAssignRows * d, m, d, pc.panels.data, pc.cnorm.data(), pc.npanels,
                    labels + i0, dist2 + i0, upd ? X + i0 * d : nullptr, scratch,
                    upd ? upd->counts.data() + th * upd->k : nullptr);
      if (upd) {
        double* dst = upd->sums.data() + th * upd->k * d;
        for (size_t q = 0; q < upd->k * d; ++q) {
          dst[q] += scratch[q];
          scratch[q] = 0.0f;
        }
      }
      for (size_t i = i0; i < i0 + m; ++i) {
        float v = xnorm[i] + dist2[i];
        dist2[i] = v > 0 ? v : 0.0f;
        s += dist2[i];
      }
    }
    partial[static_cast<size_t>(tid)] = s;
  });
  double total = 0;
  for (double v : partial) total += v;
  return total;
}

}  // namespace

double kmeans_assign(const Kernels& K, const float* X, size_t n, size_t d, const float* C, size_t k, int32_t* labels,
                     float* dist2, const RunContext& ctx) {
  std::vector<float> xnorm(n);
  squared_norms(K, X, n, d, xnorm.data(), ctx);
  PackedCentroids pc;
  pc.pack(C, k, d);
  AlignedFloats Xp = pack_for_assign(X, n, d, ctx.threads);
  return assign_all(K, Xp.data, xnorm.data(), n, d, pc, labels, dist2, ctx.threads);
}

void kmeans_plusplus(const Kernels& K, const float* X, size_t n, size_t d, size_t k, int candidates, uint64_t seed,
                     float* centroids, const RunContext& ctx) {
  if (n == 0 || k == 0) return;
  if (k > n) throw_range("k must be ≤ the number of points");
  Rng rng(seed);
  size_t L = candidates > 0 ? static_cast<size_t>(candidates)
                            : 2 + static_cast<size_t>(std::floor(std::log(static_cast<double>(k))));
  L = std::min<size_t>(std::max<size_t>(L, 1), kPanel8);
  const int threads = ctx.threads;
  const size_t t = static_cast<size_t>(std::max(1, threads));
  // D² is summed in blocks of kBlock points (a coarse prefix sum: sampling is a binary search over
  // block sums, then a short scan), so no n-long prefix array is written each step.
  constexpr size_t kBlock = 64;
  const size_t nblocks = (n + kBlock - 1) / kBlock;

  std::vector<float> xnorm(n), D2(n);
  std::vector<double> bsum(nblocks), bprefix(nblocks + 1);
  squared_norms(K, X, n, d, xnorm.data(), ctx);
  size_t first = static_cast<size_t>(rng.below(n));
  std::memcpy(centroids, X + first * d, d * sizeof(float));

  // Distances of every point to each candidate (n × kPanel8), so the D² update after choosing
  // reads them instead of re-reading X.
  std::vector<float> dist(checked_mul(kPanel8, n, "points"));
  auto finish_blocks = [&](size_t b0, size_t b1, const float* col) {
    for (size_t blk = b0; blk < b1; ++blk) {
      size_t i0 = blk * kBlock, i1 = std::min(n, i0 + kBlock);
      double s = 0;
      for (size_t i = i0; i < i1; ++i) {
        float v = col ? std::min(D2[i], col[i * kPanel8]) : D2[i];
        D2[i] = v;
        s += v;
      }
      bsum[blk] = s;
    }
  };
  auto prefix_sums = [&]() {
    bprefix[0] = 0;
    for (size_t blk = 0; blk < nblocks; ++blk) bprefix[blk + 1] = bprefix[blk] + bsum[blk];
  };
  parallel_for(threads, n, [&](int, size_t b, size_t e) {
    for (size_t i = b; i < e; ++i) D2[i] = static_cast<float>(exact_d2(X + i * d, centroids, d));
  });
  parallel_for(threads, nblocks, [&](int, size_t b0, size_t b1) { finish_blocks(b0, b1, nullptr); });
  prefix_sums();

  // X packed once into transposed row blocks: every step streams it through the dot kernel.
  const size_t npack = (n + kPackRows - 1) / kPackRows;
  AlignedFloats Xp(checked_mul(checked_mul(npack, kPackRows, "points"), d, "points × dim"));
  parallel_for(threads, npack, [&](int, size_t b0, size_t b1) { pack_row_blocks(X, n, d, b0, b1, Xp.data); });
  AlignedFloats panel(d * kPanel8);
  std::vector<size_t> cand(L);
  std::vector<float> cnorm(kPanel8);
  std::vector<double> pot(t * kPanel8);
  for (size_t c = 1; c < k; ++c) {
    if ((c & 15) == 0) ctx.check_cancel();
    double total = bprefix[nblocks];
    for (size_t l = 0; l < L; ++l) {
      if (!(total > 0)) {
        cand[l] = static_cast<size_t>(rng.below(n));
        continue;
      }
      double u = rng.uniform() * total;
      size_t blk = static_cast<size_t>(std::upper_bound(bprefix.begin() + 1, bprefix.end(), u) - bprefix.begin()) - 1;
      if (blk >= nblocks) blk = nblocks - 1;
      while (blk + 1 < nblocks && bsum[blk] <= 0) ++blk;  // skip empty blocks (rounding)
      size_t i0 = blk * kBlock, i1 = std::min(n, i0 + kBlock);
      double acc = bprefix[blk];
      size_t pick = i1 - 1;
      while (pick > i0 && D2[pick] <= 0) --pick;  // last positive point, in case rounding runs past
      for (size_t i = i0; i < i1; ++i) {
        acc += D2[i];
        if (acc > u && D2[i] > 0) {
          pick = i;
          break;
        }
      }
      cand[l] = pick;
    }
    for (size_t p = 0; p < d; ++p)
      for (size_t l = 0; l < kPanel8; ++l) panel[p * kPanel8 + l] = l < L ? X[cand[l] * d + p] : 0.0f;
    for (size_t l = 0; l < kPanel8; ++l) cnorm[l] = l < L ? xnorm[cand[l]] : 0.0f;
    std::fill(pot.begin(), pot.end(), 0.0);
    parallel_for(threads, npack, [&](int tid, size_t pb0, size_t pb1) {
      double* pt = pot.data() + static_cast<size_t>(tid) * kPanel8;
      constexpr size_t kChunk = 20 * kPackRows;
      const size_t b = pb0 * kPackRows, e = std::min(n, pb1 * kPackRows);
      for (size_t i0 = b; i0 < e; i0 += kChunk) {
        size_t m = std::min(kChunk, e - i0);
        K.kpp_pass(Xp.data + (i0 / kPackRows) * kPackRows * d, m, d, panel.data, xnorm.data() + i0, cnorm.data(),
                   D2.data() + i0, dist.data() + i0 * kPanel8, pt);
      }
    });
    size_t best = 0;
    double best_pot = std::numeric_limits<double>::infinity();
    for (size_t l = 0; l < L; ++l) {
      double s = 0;
      for (size_t th = 0; th < t; ++th) s += pot[th * kPanel8 + l];
      if (s < best_pot) {
        best_pot = s;
        best = l;
      }
    }
    float* chosen = centroids + c * d;
    std::memcpy(chosen, X + cand[best] * d, d * sizeof(float));
    const float* col = dist.data() + best;
    parallel_for(threads, nblocks, [&](int, size_t b0, size_t b1) { finish_blocks(b0, b1, col); });
    prefix_sums();
  }
}

namespace {

struct Run {
  double inertia = std::numeric_limits<double>::infinity();
  int iterations = 0;
  std::vector<int32_t> labels;
  std::vector<float> centroids;
  std::vector<double> history;
};

void reseed_empty(const float* X, size_t n, size_t d, size_t k, const std::vector<int64_t>& counts, float* C,
                  const float* dist2) {
  std::vector<size_t> empty;
  for (size_t j = 0; j < k; ++j)
    if (counts[j] == 0) empty.push_back(j);
  if (empty.empty()) return;
  // The farthest points (largest squared distance to their centroid), distinct, largest first,
  // ties to the smaller index.
  size_t m = std::min(empty.size(), n);
  std::vector<size_t> idx(n);
  std::iota(idx.begin(), idx.end(), size_t{0});
  auto farther = [&](size_t a, size_t b) { return dist2[a] > dist2[b] || (dist2[a] == dist2[b] && a < b); };
  std::partial_sort(idx.begin(), idx.begin() + static_cast<ptrdiff_t>(m), idx.end(), farther);
  for (size_t e = 0; e < m; ++e) std::memcpy(C + empty[e] * d, X + idx[e] * d, d * sizeof(float));
}

void lloyd(const Kernels& K, const float* X, const float* Xp, const float* xnorm, size_t n, size_t d,
           const KmeansParams& p, Run& run, int run_index, const RunContext& ctx) {
  const size_t k = p.k;
  const int threads = ctx.threads;
  const size_t t = static_cast<size_t>(std::max(1, threads));
  std::vector<float> dist2(n);
  run.labels.assign(n, 0);
  PackedCentroids pc;
  checked_mul(checked_mul(t, k, "k"), d, "k × d");
  UpdateSums upd;
  std::vector<int64_t> total_counts(k);
  const GpuApi* gpu = p.use_gpu ? gpu_api() : nullptr;
  double prev = std::numeric_limits<double>::infinity();
  for (int it = 0; it < p.max_iter; ++it) {
    ctx.check_cancel();
    double inertia;
    upd.reset(t, k, d);
    if (gpu != nullptr &&
        gpu->kmeans_assign(X, n, d, run.centroids.data(), k, run.labels.data(), dist2.data()) == 0) {
      inertia = 0;
      for (size_t i = 0; i < n; ++i) {
        float v = xnorm[i] + dist2[i];
        dist2[i] = v > 0 ? v : 0.0f;
        inertia += dist2[i];
      }
      parallel_for(threads, n, [&](int tid, size_t b, size_t e) {
        size_t th = static_cast<size_t>(tid);
        K.accumulate_rows(X + b * d, run.labels.data() + b, e - b, d, k, upd.sums.data() + th * k * d,
                          upd.counts.data() + th * k, upd.scratch.data() + th * k * d);
      });
    } else {
      pc.pack(run.centroids.data(), k, d);
      inertia = assign_all(K, Xp, xnorm, n, d, pc, run.labels.data(), dist2.data(), threads, X, &upd);
    }
    run.iterations = it + 1;
    run.inertia = inertia;
    run.history.push_back(inertia);
    ctx.report("kmeans", static_cast<int64_t>(run_index) * p.max_iter + it + 1,
               static_cast<int64_t>(p.n_init) * p.max_iter, inertia);
    bool converged = std::isfinite(prev) && (prev <= 0 || (prev - inertia) < p.tol * prev);
    prev = inertia;
    if (converged || it + 1 == p.max_iter) break;
    // Update from the sums accumulated during the assignment, reduced in thread order.
    const std::vector<double>& sums = upd.sums;
    const std::vector<int64_t>& counts = upd.counts;
    for (size_t j = 0; j < k; ++j) {
      int64_t cnt = 0;
      for (size_t th = 0; th < t; ++th) cnt += counts[th * k + j];
      total_counts[j] = cnt;
      if (cnt == 0) continue;
      for (size_t q = 0; q < d; ++q) {
        double s = 0;
        for (size_t th = 0; th < t; ++th) s += sums[(th * k + j) * d + q];
        run.centroids[j * d + q] = static_cast<float>(s / static_cast<double>(cnt));
      }
    }
    reseed_empty(X, n, d, k, total_counts, run.centroids.data(), dist2.data());
  }
}

}  // namespace

KmeansResult kmeans(const Kernels& K, const float* X, size_t n, size_t d, const KmeansParams& p, int32_t* labels,
                    float* centroids, const RunContext& ctx) {
  if (n == 0 || d == 0) throw_range("k-means needs at least one point with at least one dimension");
  if (p.k == 0 || p.k > n) throw_range("k must be in [1, n]");
  if (p.max_iter < 1) throw_range("maxIterations must be ≥ 1");
  if (p.n_init < 1) throw_range("restarts must be ≥ 1");
  if (p.init == KmeansInit::Given && p.init_centroids == nullptr) throw_range("initial centroids are missing");
  std::vector<float> xnorm(n);
  squared_norms(K, X, n, d, xnorm.data(), ctx);
  AlignedFloats Xp = pack_for_assign(X, n, d, ctx.threads);
  Run best;
  int best_run = 0;
  int runs = p.init == KmeansInit::Given ? 1 : p.n_init;
  for (int r = 0; r < runs; ++r) {
    ctx.check_cancel();
    Run run;
    run.centroids.assign(p.k * d, 0.0f);
    uint64_t seed = derive_seed(p.seed, static_cast<uint64_t>(r));
    if (p.init == KmeansInit::Given) {
      std::memcpy(run.centroids.data(), p.init_centroids, p.k * d * sizeof(float));
    } else if (p.init == KmeansInit::Random) {
      // k distinct points chosen uniformly (partial Fisher-Yates on an index map).
      Rng rng(seed);
      std::vector<size_t> idx(n);
      std::iota(idx.begin(), idx.end(), size_t{0});
      for (size_t j = 0; j < p.k; ++j) {
        size_t s = j + static_cast<size_t>(rng.below(n - j));
        std::swap(idx[j], idx[s]);
        std::memcpy(run.centroids.data() + j * d, X + idx[j] * d, d * sizeof(float));
      }
    } else {
      kmeans_plusplus(K, X, n, d, p.k, p.candidates, seed, run.centroids.data(), ctx);
    }
    lloyd(K, X, Xp.data, xnorm.data(), n, d, p, run, r, ctx);
    if (run.inertia < best.inertia || r == 0) {
      best = std::move(run);
      best_run = r;
    }
  }
  std::memcpy(labels, best.labels.data(), n * sizeof(int32_t));
  std::memcpy(centroids, best.centroids.data(), p.k * d * sizeof(float));
  KmeansResult res;
  res.inertia = best.inertia;
  res.iterations = best.iterations;
  res.best_run = best_run;
  res.history = std::move(best.history);
  return res;
}

double silhouette(const Kernels& K, const float* X, size_t n, size_t d, const int32_t* labels, size_t k, size_t sample,
                  uint64_t seed, const RunContext& ctx) {
  if (n == 0) throw_range("silhouette needs at least one point");
  for (size_t i = 0; i < n; ++i)
    if (labels[i] < 0 || static_cast<size_t>(labels[i]) >= k) throw_range("labels must be in [0, k)");
  size_t m = std::min(sample == 0 ? n : sample, n);
  std::vector<size_t> idx(n);
  std::iota(idx.begin(), idx.end(), size_t{0});
  if (m < n) {
    Rng rng(seed);
    for (size_t j = 0; j < m; ++j) std::swap(idx[j], idx[j + static_cast<size_t>(rng.below(n - j))]);
    idx.resize(m);
    std::sort(idx.begin(), idx.end());
  }
  // Labels of the sample, read once and checked (the array belongs to JS).
  std::vector<size_t> lab(m);
  for (size_t a = 0; a < m; ++a) {
    int32_t l = __atomic_load_n(labels + idx[a], __ATOMIC_RELAXED);
    if (l < 0 || static_cast<size_t>(l) >= k) throw_range("labels must be in [0, k)");
    lab[a] = static_cast<size_t>(l);
  }
  std::vector<int64_t> size(k, 0);
  for (size_t a = 0; a < m; ++a) ++size[lab[a]];
  size_t distinct = 0;
  for (int64_t c : size) distinct += c > 0;
  if (distinct < 2) return 0.0;
  std::vector<double> score(m, 0.0);
  std::vector<float> xnorm(m);
  for (size_t a = 0; a < m; ++a) xnorm[a] = K.dot(X + idx[a] * d, X + idx[a] * d, d);
  parallel_dynamic(ctx.threads, m, 16, [&](int, size_t b, size_t e) {
    std::vector<double> sum(k);
    for (size_t a = b; a < e; ++a) {
      if ((a & 63) == 0) ctx.check_cancel();
      std::fill(sum.begin(), sum.end(), 0.0);
      const float* xa = X + idx[a] * d;
      for (size_t c = 0; c < m; ++c) {
        if (c == a) continue;
        float d2 = xnorm[a] + xnorm[c] - 2.0f * K.dot(xa, X + idx[c] * d, d);
        sum[lab[c]] += std::sqrt(d2 > 0 ? d2 : 0.0f);
      }
      size_t own = lab[a];
      if (size[own] <= 1) {
        score[a] = 0.0;
        continue;
      }
      double ai = sum[own] / static_cast<double>(size[own] - 1);
      double bi = std::numeric_limits<double>::infinity();
      for (size_t j = 0; j < k; ++j)
        if (j != own && size[j] > 0) bi = std::min(bi, sum[j] / static_cast<double>(size[j]));
      double den = std::max(ai, bi);
      score[a] = den > 0 ? (bi - ai) / den : 0.0;
    }
  });
  double total = 0;
  for (double s : score) total += s;
  return total / static_cast<double>(m);
}

}  // namespace clientele

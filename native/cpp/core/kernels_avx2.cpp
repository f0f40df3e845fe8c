// AVX2 + FMA kernels. This file alone is compiled with -mavx2 -mfma; nothing here runs unless
// detect_cpu() reported both features.
#include <immintrin.h>

#include <cmath>
#include <limits>
#include <vector>

#include "kernels.h"

namespace clientele {
namespace {

inline float hsum(__m256 v) {
  __m128 lo = _mm256_castps256_ps128(v), hi = _mm256_extractf128_ps(v, 1);
  lo = _mm_add_ps(lo, hi);
  __m128 sh = _mm_movehdup_ps(lo);
  lo = _mm_add_ps(lo, sh);
  sh = _mm_movehl_ps(sh, lo);
  return _mm_cvtss_f32(_mm_add_ss(lo, sh));
}

float dot_a(const float* a, const float* b, size_t n) {
  __m256 s0 = _mm256_setzero_ps(), s1 = _mm256_setzero_ps();
  size_t i = 0;
  for (; i + 16 <= n; i += 16) {
    s0 = _mm256_fmadd_ps(_mm256_loadu_ps(a + i), _mm256_loadu_ps(b + i), s0);
    s1 = _mm256_fmadd_ps(_mm256_loadu_ps(a + i + 8), _mm256_loadu_ps(b + i + 8), s1);
  }
  for (; i + 8 <= n; i += 8) s0 = _mm256_fmadd_ps(_mm256_loadu_ps(a + i), _mm256_loadu_ps(b + i), s0);
  float s = hsum(_mm256_add_ps(s0, s1));
  for (; i < n; ++i) s += a[i] * b[i];
  return s;
}

void axpy_a(float a, const float* x, float* y, size_t n) {
  __m256 va = _mm256_set1_ps(a);
  size_t i = 0;
  for (; i + 8 <= n; i += 8)
    _mm256_storeu_ps(y + i, _mm256_fmadd_ps(va, _mm256_loadu_ps(x + i), _mm256_loadu_ps(y + i)));
  for (; i < n; ++i) y[i] += a * x[i];
}

void dot_rows_a(const float* q, const float* M, size_t rows, size_t d, float* out) {
  size_t j = 0;
  if ((d & 7) == 0) {
    for (; j + 4 <= rows; j += 4) {
      const float* m0 = M + j * d;
      const float* m1 = m0 + d;
      const float* m2 = m1 + d;
      const float* m3 = m2 + d;
      __m256 a0 = _mm256_setzero_ps(), a1 = _mm256_setzero_ps(), a2 = _mm256_setzero_ps(), a3 = _mm256_setzero_ps();
      for (size_t p = 0; p < d; p += 8) {
        __m256 vq = _mm256_loadu_ps(q + p);
        a0 = _mm256_fmadd_ps(vq, _mm256_loadu_ps(m0 + p), a0);
        a1 = _mm256_fmadd_ps(vq, _mm256_loadu_ps(m1 + p), a1);
        a2 = _mm256_fmadd_ps(vq, _mm256_loadu_ps(m2 + p), a2);
        a3 = _mm256_fmadd_ps(vq, _mm256_loadu_ps(m3 + p), a3);
      }
      // Transpose-add the four accumulators into one vector of four sums.
      __m256 t0 = _mm256_hadd_ps(a0, a1), t1 = _mm256_hadd_ps(a2, a3);
      __m256 t = _mm256_hadd_ps(t0, t1);
      __m128 s = _mm_add_ps(_mm256_castps256_ps128(t), _mm256_extractf128_ps(t, 1));
      _mm_storeu_ps(out + j, s);
    }
  }
  for (; j < rows; ++j) out[j] = dot_a(q, M + j * d, d);
}

/**
 * NQ queries against NP panels of half rows at a time (see half_panel_length): each converted
 * vector holds one dimension of 8 rows, so a broadcast query value and one FMA advance 8 row sums
 * with no horizontal reduction, and each conversion serves all NQ queries. NQ·NP accumulators are
 * independent chains, enough to hide the FMA latency even for one query.
 */
template <int NQ, int NP>
size_t half_panels(const float* const* qs, const uint16_t* H, size_t rows, size_t d, float* out, size_t stride,
                   size_t b) {
  const size_t panels = (rows + kHalfPanel - 1) / kHalfPanel;
  for (; b + NP <= panels; b += NP) {
    const uint16_t* h = H + b * d * kHalfPanel;
    __m256 acc[NQ][NP];
#pragma GCC unroll 16
    for (int q = 0; q < NQ; ++q)
#pragma GCC unroll 16
      for (int n = 0; n < NP; ++n) acc[q][n] = _mm256_setzero_ps();
    for (size_t p = 0; p < d; ++p) {
      __m256 r[NP];
#pragma GCC unroll 16
      for (int n = 0; n < NP; ++n)
        r[n] = _mm256_cvtph_ps(_mm_loadu_si128(reinterpret_cast<const __m128i*>(h + (n * d + p) * kHalfPanel)));
#pragma GCC unroll 16
      for (int q = 0; q < NQ; ++q) {
        __m256 vq = _mm256_broadcast_ss(qs[q] + p);
#pragma GCC unroll 16
        for (int n = 0; n < NP; ++n) acc[q][n] = _mm256_fmadd_ps(vq, r[n], acc[q][n]);
      }
    }
#pragma GCC unroll 16
    for (int q = 0; q < NQ; ++q)
#pragma GCC unroll 16
      for (int n = 0; n < NP; ++n) {
        size_t j = (b + static_cast<size_t>(n)) * kHalfPanel;
        float* o = out + static_cast<size_t>(q) * stride + j;
        if (j + kHalfPanel <= rows) {
          _mm256_storeu_ps(o, acc[q][n]);
        } else {
          alignas(32) float t[kHalfPanel];
          _mm256_store_ps(t, acc[q][n]);
          for (size_t i = 0; j + i < rows; ++i) o[i] = t[i];
        }
      }
  }
  return b;
}

/** NQ queries over all panels: NP at a time, then the rest one by one. */
template <int NQ, int NP>
void half_queries(const float* const* qs, const uint16_t* H, size_t rows, size_t d, float* out, size_t stride) {
  size_t b = half_panels<NQ, NP>(qs, H, rows, d, out, stride, 0);
  half_panels<NQ, 1>(qs, H, rows, d, out, stride, b);
}

void dot_rows_half_a(const float* const* qs, size_t nq, const uint16_t* H, size_t rows, size_t d, float* out,
                     size_t stride) {
  size_t q = 0;
  for (; q + 4 <= nq; q += 4) half_queries<4, 2>(qs + q, H, rows, d, out + q * stride, stride);
  switch (nq - q) {
    case 3: half_queries<3, 3>(qs + q, H, rows, d, out + q * stride, stride); break;
    case 2: half_queries<2, 4>(qs + q, H, rows, d, out + q * stride, stride); break;
    case 1: half_queries<1, 8>(qs + q, H, rows, d, out + q * stride, stride); break;
    default: break;
  }
}

/**
 * Register-blocked micro-kernel: MR rows of X (packed transposed: ap[p·MR + r]) times one packed
 * panel of 8·NB columns, over all d. Accumulators: MR·NB ymm registers (12); one pointer for A.
 */
template <int MR, int NB>
__attribute__((always_inline)) inline void micro(const float* ap, size_t d, const float* panel, float* out) {
  __m256 acc[MR][NB];
  for (int r = 0; r < MR; ++r)
    for (int b = 0; b < NB; ++b) acc[r][b] = _mm256_setzero_ps();
  for (size_t p = 0; p < d; ++p) {
    __m256 bv[NB];
    for (int b = 0; b < NB; ++b) bv[b] = _mm256_loadu_ps(panel + p * 8 * NB + 8 * b);
    const float* a = ap + p * MR;
    for (int r = 0; r < MR; ++r) {
      __m256 av = _mm256_broadcast_ss(a + r);
      for (int b = 0; b < NB; ++b) acc[r][b] = _mm256_fmadd_ps(av, bv[b], acc[r][b]);
    }
  }
  for (int r = 0; r < MR; ++r)
    for (int b = 0; b < NB; ++b) _mm256_storeu_ps(out + (r * NB + b) * 8, acc[r][b]);
}

constexpr int kMR = static_cast<int>(kAssignRows);  // 6 rows × 16 columns = 12 accumulators

inline void add_a(const float* x, float* s, size_t d) {
  size_t p = 0;
  for (; p + 8 <= d; p += 8) _mm256_storeu_ps(s + p, _mm256_add_ps(_mm256_loadu_ps(s + p), _mm256_loadu_ps(x + p)));
  for (; p < d; ++p) s[p] += x[p];
}

void accumulate_rows_a(const float* X, const int32_t* labels, size_t n, size_t d, size_t k, double* sums, int64_t* counts,
          float* scratch) {
  constexpr size_t kBlock = 256;  // float partial sums stay exact enough over 256 points
  for (size_t q = 0; q < k * d; ++q) scratch[q] = 0.0f;
  for (size_t i0 = 0; i0 < n; i0 += kBlock) {
    size_t i1 = i0 + kBlock < n ? i0 + kBlock : n;
    for (size_t i = i0; i < i1; ++i) {
      size_t j = static_cast<size_t>(labels[i]);
      ++counts[j];
      add_a(X + i * d, scratch + j * d, d);
    }
    for (size_t q = 0; q < k * d; ++q) {
      sums[q] += scratch[q];
      scratch[q] = 0.0f;
    }
  }
}


void assign_rows_a(const float* Xp, size_t rows, size_t d, const float* packed, const float* cnorm, size_t npanels,
                   int32_t* labels, float* best, const float* X_rows, float* sums, int64_t* counts) {
  // Per block of kMR rows: the distance tile (kMR × all centroids) is written once, while a running
  // per-lane minimum is kept; the argmin is then the first column equal to the row minimum (so ties
  // go to the smaller index, as in the portable kernel).
  const size_t kpad = npanels * kPanel;
  std::vector<float> tile_storage(kMR * kpad + 8);
  float* tile = tile_storage.data();
  const __m256 two = _mm256_set1_ps(2.0f);
  for (size_t i0 = 0; i0 < rows; i0 += kMR) {
    size_t m = rows - i0 < static_cast<size_t>(kMR) ? rows - i0 : kMR;
    const float* ap = Xp + (i0 / kMR) * d * kMR;
    if (X_rows != nullptr && i0 + 2 * kMR <= rows) {
      // Prefetch the next block's rows for the fused update.
      const char* nx = reinterpret_cast<const char*>(X_rows + (i0 + kMR) * d);
      for (size_t b = 0; b < kMR * d * sizeof(float); b += 64) _mm_prefetch(nx + b, _MM_HINT_T0);
    }
    alignas(32) float minv[kMR][8];
    for (int r = 0; r < kMR; ++r) _mm256_store_ps(minv[r], _mm256_set1_ps(std::numeric_limits<float>::infinity()));
    for (size_t q = 0; q < npanels; ++q) {
      const float* panel = packed + q * d * kPanel;
      __m256 acc[kMR][2];
      for (int r = 0; r < kMR; ++r) acc[r][0] = acc[r][1] = _mm256_setzero_ps();
      for (size_t p = 0; p < d; ++p) {
        __m256 b0 = _mm256_loadu_ps(panel + p * 16), b1 = _mm256_loadu_ps(panel + p * 16 + 8);
        const float* a = ap + p * kMR;
        for (int r = 0; r < kMR; ++r) {
          __m256 av = _mm256_broadcast_ss(a + r);
          acc[r][0] = _mm256_fmadd_ps(av, b0, acc[r][0]);
          acc[r][1] = _mm256_fmadd_ps(av, b1, acc[r][1]);
        }
      }
      const __m256 cn0 = _mm256_loadu_ps(cnorm + q * kPanel), cn1 = _mm256_loadu_ps(cnorm + q * kPanel + 8);
      for (int r = 0; r < kMR; ++r) {
        __m256 v0 = _mm256_fnmadd_ps(two, acc[r][0], cn0);
        __m256 v1 = _mm256_fnmadd_ps(two, acc[r][1], cn1);
        _mm256_storeu_ps(tile + r * kpad + q * kPanel, v0);
        _mm256_storeu_ps(tile + r * kpad + q * kPanel + 8, v1);
        _mm256_store_ps(minv[r], _mm256_min_ps(_mm256_load_ps(minv[r]), _mm256_min_ps(v0, v1)));
      }
    }
    for (size_t r = 0; r < m; ++r) {
      // Horizontal minimum, then the first column holding it.
      __m256 mv = _mm256_load_ps(minv[r]);
      __m128 lo = _mm_min_ps(_mm256_castps256_ps128(mv), _mm256_extractf128_ps(mv, 1));
      lo = _mm_min_ps(lo, _mm_movehl_ps(lo, lo));
      lo = _mm_min_ss(lo, _mm_shuffle_ps(lo, lo, 1));
      float bv = _mm_cvtss_f32(lo);
      const __m256 target = _mm256_set1_ps(bv);
      const float* row = tile + r * kpad;
      int32_t bi = 0;
      for (size_t j = 0; j < kpad; j += 8) {
        int mask = _mm256_movemask_ps(_mm256_cmp_ps(_mm256_loadu_ps(row + j), target, _CMP_EQ_OQ));
        if (mask != 0) {
          bi = static_cast<int32_t>(j) + __builtin_ctz(static_cast<unsigned>(mask));
          break;
        }
      }
      labels[i0 + r] = bi;
      best[i0 + r] = bv;
      if (X_rows != nullptr) {
        ++counts[bi];
        add_a(X_rows + (i0 + r) * d, sums + static_cast<size_t>(bi) * d, d);
      }
    }
  }
}

void dots_panel8_a(const float* Xp, size_t rows, size_t d, const float* panel, float* out) {
  constexpr int MR = static_cast<int>(kPackRows);
  for (size_t i0 = 0, b = 0; i0 < rows; i0 += MR, ++b) {
    size_t m = rows - i0 < static_cast<size_t>(MR) ? rows - i0 : MR;
    if (m == static_cast<size_t>(MR)) {
      micro<MR, 1>(Xp + b * d * MR, d, panel, out + i0 * kPanel8);
    } else {
      alignas(32) float tmp[MR * 8];
      micro<MR, 1>(Xp + b * d * MR, d, panel, tmp);
      for (size_t r = 0; r < m * 8; ++r) out[i0 * kPanel8 + r] = tmp[r];
    }
  }
}

void kpp_pass_a(const float* Xp, size_t rows, size_t d, const float* panel, const float* xnorm, const float* cnorm,
                const float* D2, float* dist, double* pot) {
  constexpr int MR = static_cast<int>(kPackRows);
  const __m256 two = _mm256_set1_ps(2.0f), zero = _mm256_setzero_ps();
  const __m256 cn = _mm256_loadu_ps(cnorm);
  __m256d p0 = _mm256_setzero_pd(), p1 = _mm256_setzero_pd();
  for (size_t i0 = 0, b = 0; i0 < rows; i0 += MR, ++b) {
    size_t m = rows - i0 < static_cast<size_t>(MR) ? rows - i0 : MR;
    alignas(32) float acc[MR * 8];
    micro<MR, 1>(Xp + b * d * MR, d, panel, acc);
    __m256 blk = _mm256_setzero_ps();
    for (size_t r = 0; r < m; ++r) {
      __m256 base = _mm256_add_ps(_mm256_set1_ps(xnorm[i0 + r]), cn);
      __m256 v = _mm256_max_ps(_mm256_fnmadd_ps(two, _mm256_load_ps(acc + r * 8), base), zero);
      _mm256_storeu_ps(dist + (i0 + r) * kPanel8, v);
      blk = _mm256_add_ps(blk, _mm256_min_ps(v, _mm256_set1_ps(D2[i0 + r])));
    }
    p0 = _mm256_add_pd(p0, _mm256_cvtps_pd(_mm256_castps256_ps128(blk)));
    p1 = _mm256_add_pd(p1, _mm256_cvtps_pd(_mm256_extractf128_ps(blk, 1)));
  }
  alignas(32) double s[8];
  _mm256_store_pd(s, p0);
  _mm256_store_pd(s + 4, p1);
  for (int l = 0; l < 8; ++l) pot[l] += s[l];
}

void implicit_matvec_a(const float* A, const float* Y, const int32_t* idx, const float* w, size_t nnz, size_t f,
                       const float* p, float* out) {
  for (size_t i = 0; i < f; ++i) out[i] = 0.0f;
  for (size_t j = 0; j < f; ++j) axpy_a(p[j], A + j * f, out, f);
  for (size_t k = 0; k < nnz; ++k) {
    if (k + 2 < nnz) {
      const char* nx = reinterpret_cast<const char*>(Y + static_cast<size_t>(idx[k + 2]) * f);
      for (size_t b = 0; b < f * sizeof(float); b += 64) _mm_prefetch(nx + b, _MM_HINT_T0);
    }
    const float* y = Y + static_cast<size_t>(idx[k]) * f;
    float s = dot_a(y, p, f) * w[k];
    axpy_a(s, y, out, f);
  }
}

const Kernels kAvx2 = {"avx2", dot_a, axpy_a, dot_rows_a, dot_rows_half_a, accumulate_rows_a, assign_rows_a, dots_panel8_a, kpp_pass_a, implicit_matvec_a};

}  // namespace

const Kernels& avx2_kernels() { return kAvx2; }

}  // namespace clientele

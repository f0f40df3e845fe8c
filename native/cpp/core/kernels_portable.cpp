// Portable kernels: plain loops the compiler can vectorise for the baseline ISA.
#include <cmath>
#include <limits>

#include "kernels.h"

namespace clientele {
namespace {

float dot_p(const float* a, const float* b, size_t n) {
  // Four partial sums, so the order of additions matches across calls with the same n.
  float s0 = 0, s1 = 0, s2 = 0, s3 = 0;
  size_t i = 0;
  for (; i + 4 <= n; i += 4) {
    s0 += a[i] * b[i];
    s1 += a[i + 1] * b[i + 1];
    s2 += a[i + 2] * b[i + 2];
    s3 += a[i + 3] * b[i + 3];
  }
  for (; i < n; ++i) s0 += a[i] * b[i];
  return (s0 + s1) + (s2 + s3);
}

void axpy_p(float a, const float* x, float* y, size_t n) {
  for (size_t i = 0; i < n; ++i) y[i] += a * x[i];
}

void dot_rows_p(const float* q, const float* M, size_t rows, size_t d, float* out) {
  for (size_t j = 0; j < rows; ++j) out[j] = dot_p(q, M + j * d, d);
}

void dot_rows_half_p(const float* const* qs, size_t nq, const uint16_t* H, size_t rows, size_t d, float* out,
                     size_t stride) {
  for (size_t q = 0; q < nq; ++q)
    for (size_t j = 0; j < rows; ++j) {
      const uint16_t* h = H + (j / kHalfPanel) * d * kHalfPanel + j % kHalfPanel;
      float s = 0;
      for (size_t p = 0; p < d; ++p) s += qs[q][p] * half_to_float(h[p * kHalfPanel]);
      out[q * stride + j] = s;
    }
}

constexpr size_t kRows = kAssignRows;

inline void add_p(const float* x, float* s, size_t d) {
  for (size_t p = 0; p < d; ++p) s[p] += x[p];
}

void accumulate_rows_p(const float* X, const int32_t* labels, size_t n, size_t d, size_t k, double* sums, int64_t* counts,
          float* scratch) {
  constexpr size_t kBlock = 256;  // float partial sums stay exact enough over 256 points
  for (size_t q = 0; q < k * d; ++q) scratch[q] = 0.0f;
  for (size_t i0 = 0; i0 < n; i0 += kBlock) {
    size_t i1 = i0 + kBlock < n ? i0 + kBlock : n;
    for (size_t i = i0; i < i1; ++i) {
      size_t j = static_cast<size_t>(labels[i]);
      ++counts[j];
      add_p(X + i * d, scratch + j * d, d);
    }
    for (size_t q = 0; q < k * d; ++q) {
      sums[q] += scratch[q];
      scratch[q] = 0.0f;
    }
  }
}


void assign_rows_p(const float* Xp, size_t rows, size_t d, const float* packed, const float* cnorm,
                   size_t npanels, int32_t* labels, float* best, const float* X_rows, float* sums, int64_t* counts) {
  for (size_t i0 = 0; i0 < rows; i0 += kRows) {
    const float* ap = Xp + (i0 / kRows) * d * kRows;
    size_t m = rows - i0 < kRows ? rows - i0 : kRows;
    float bestv[kRows];
    int32_t besti[kRows];
    for (size_t r = 0; r < kRows; ++r) {
      bestv[r] = std::numeric_limits<float>::infinity();
      besti[r] = 0;
    }
    for (size_t q = 0; q < npanels; ++q) {
      float acc[kRows][kPanel] = {};
      const float* panel = packed + q * d * kPanel;
      for (size_t p = 0; p < d; ++p) {
        const float* b = panel + p * kPanel;
        for (size_t r = 0; r < m; ++r) {
          float a = ap[p * kRows + r];
          for (size_t c = 0; c < kPanel; ++c) acc[r][c] += a * b[c];
        }
      }
      for (size_t r = 0; r < m; ++r) {
        for (size_t c = 0; c < kPanel; ++c) {
          float v = cnorm[q * kPanel + c] - 2.0f * acc[r][c];
          if (v < bestv[r]) {
            bestv[r] = v;
            besti[r] = static_cast<int32_t>(q * kPanel + c);
          }
        }
      }
    }
    for (size_t r = 0; r < m; ++r) {
      labels[i0 + r] = besti[r];
      best[i0 + r] = bestv[r];
      if (X_rows != nullptr) {
        ++counts[besti[r]];
        add_p(X_rows + (i0 + r) * d, sums + static_cast<size_t>(besti[r]) * d, d);
      }
    }
  }
}

void dots_panel8_p(const float* Xp, size_t rows, size_t d, const float* panel, float* out) {
  for (size_t i0 = 0, b = 0; i0 < rows; i0 += kPackRows, ++b) {
    size_t m = rows - i0 < kPackRows ? rows - i0 : kPackRows;
    float acc[kPackRows][kPanel8] = {};
    const float* ap = Xp + b * d * kPackRows;
    for (size_t p = 0; p < d; ++p)
      for (size_t r = 0; r < kPackRows; ++r) {
        float a = ap[p * kPackRows + r];
        for (size_t c = 0; c < kPanel8; ++c) acc[r][c] += a * panel[p * kPanel8 + c];
      }
    for (size_t r = 0; r < m; ++r)
      for (size_t c = 0; c < kPanel8; ++c) out[(i0 + r) * kPanel8 + c] = acc[r][c];
  }
}

void kpp_pass_p(const float* Xp, size_t rows, size_t d, const float* panel, const float* xnorm, const float* cnorm,
                const float* D2, float* dist, double* pot) {
  dots_panel8_p(Xp, rows, d, panel, dist);
  for (size_t i = 0; i < rows; ++i)
    for (size_t l = 0; l < kPanel8; ++l) {
      float v = xnorm[i] + cnorm[l] - 2.0f * dist[i * kPanel8 + l];
      v = v > 0 ? v : 0.0f;
      dist[i * kPanel8 + l] = v;
      pot[l] += v < D2[i] ? v : D2[i];
    }
}

void implicit_matvec_p(const float* A, const float* Y, const int32_t* idx, const float* w, size_t nnz, size_t f,
                       const float* p, float* out) {
  for (size_t i = 0; i < f; ++i) out[i] = 0.0f;
  for (size_t j = 0; j < f; ++j) axpy_p(p[j], A + j * f, out, f);  // A symmetric: row j = column j
  for (size_t k = 0; k < nnz; ++k) {
    const float* y = Y + static_cast<size_t>(idx[k]) * f;
    float s = dot_p(y, p, f) * w[k];
    axpy_p(s, y, out, f);
  }
}

}  // namespace

void dot_rows_i8_portable(const uint8_t* const* qs, const float* qscale, const float* floors, size_t nq,
                          const int8_t* codes, const int32_t* sums, const float* scales, size_t rows, size_t d,
                          float* out, uint16_t* masks, size_t stride) {
  const size_t G = i8_groups(d);
  for (size_t q = 0; q < nq; ++q) {
    for (size_t b = 0; b < i8_panels(rows); ++b) masks[q * (stride / kI8Panel) + b] = 0;
    for (size_t j = 0; j < rows; ++j) {
      const int8_t* c = codes + (j / kI8Panel) * G * 64 + (j % kI8Panel) * 4;
      int32_t acc = 0;
      for (size_t g = 0; g < G; ++g)
        for (size_t t = 0; t < 4; ++t) acc += int32_t(qs[q][g * 4 + t]) * int32_t(c[g * 64 + t]);
      // The same float operations, in the same order, as the VNNI kernel.
      const float v = static_cast<float>(acc - sums[j] * 128) * (scales[j] * qscale[q]);
      out[q * stride + j] = v;
      if (!(v < floors[q])) masks[q * (stride / kI8Panel) + j / kI8Panel] |= uint16_t(1u << (j % kI8Panel));
    }
  }
}

namespace {

const Kernels kPortable = {"portable", dot_p, axpy_p, dot_rows_p, dot_rows_half_p, accumulate_rows_p, assign_rows_p, dots_panel8_p, kpp_pass_p, implicit_matvec_p};

}  // namespace

const Kernels& portable_kernels() { return kPortable; }

}  // namespace clientele

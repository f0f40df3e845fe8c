// Inner kernels, in two builds: portable C++ (kernels_portable.cpp) and AVX2+FMA (kernels_avx2.cpp,
// compiled with -mavx2 -mfma and only called after run-time detection).
#pragma once

#include <cstddef>
#include <cstdint>

namespace clientele {

/** Width of a packed centroid panel for the k-means assignment kernel. */
constexpr size_t kPanel = 16;
/** Width of a packed candidate panel for k-means++ (and other small-n dot blocks). */
constexpr size_t kPanel8 = 8;

/** Rows per pre-packed block for dots_panel8 / kpp_pass. */
constexpr size_t kPackRows = 12;
/** Rows per pre-packed block for assign_rows. */
constexpr size_t kAssignRows = 6;

/**
 * Packs rows [0, n) of X (row-major, d columns) into blocks of kPackRows rows stored transposed:
 * block b holds out[(b·d + p)·kPackRows + r] = X[(b·kPackRows + r)·d + p], zero-padded.
 * `out` needs ceil(n / kPackRows)·kPackRows·d floats. Blocks [b0, b1) only.
 */
inline void pack_row_blocks(const float* X, size_t n, size_t d, size_t b0, size_t b1, float* out,
                            size_t rows_per_block = kPackRows) {
  const size_t R = rows_per_block;
  for (size_t b = b0; b < b1; ++b) {
    float* dst = out + b * d * R;
    for (size_t r = 0; r < R; ++r) {
      size_t i = b * R + r;
      if (i < n) {
        const float* x = X + i * d;
        for (size_t p = 0; p < d; ++p) dst[p * R + r] = x[p];
      } else {
        for (size_t p = 0; p < d; ++p) dst[p * R + r] = 0.0f;
      }
    }
  }
}

/** IEEE half → float (exact). */
inline float half_to_float(uint16_t h) {
  uint32_t sign = uint32_t(h & 0x8000u) << 16, exp = (h >> 10) & 0x1Fu, man = h & 0x3FFu, bits;
  if (exp == 0) {
    if (man == 0) {
      bits = sign;
    } else {  // subnormal: normalise
      int e = -1;
      do {
        ++e;
        man <<= 1;
      } while ((man & 0x400u) == 0);
      bits = sign | (uint32_t(127 - 15 - e) << 23) | ((man & 0x3FFu) << 13);
    }
  } else if (exp == 31) {
    bits = sign | 0x7F800000u | (man << 13);
  } else {
    bits = sign | ((exp + 127 - 15) << 23) | (man << 13);
  }
  float f;
  __builtin_memcpy(&f, &bits, 4);
  return f;
}

/** float → IEEE half, round to nearest even (values beyond ±65504 become ±inf). */
inline uint16_t float_to_half(float f) {
  uint32_t x;
  __builtin_memcpy(&x, &f, 4);
  uint32_t sign = (x >> 16) & 0x8000u;
  uint32_t absx = x & 0x7FFFFFFFu;
  if (absx >= 0x7F800000u) return uint16_t(sign | 0x7C00u | (absx > 0x7F800000u ? 0x200u : 0));
  if (absx >= 0x477FF000u) return uint16_t(sign | 0x7C00u);  // rounds past 65504
  if (absx < 0x38800000u) {                                  // subnormal or zero in half
    if (absx < 0x33000000u) return uint16_t(sign);
    uint32_t man = (absx & 0x7FFFFFu) | 0x800000u;
    int shift = 126 - int(absx >> 23);  // 14 + (113 - exp) ... total shift to half subnormal units
    uint32_t v = man >> shift;
    uint32_t rem = man & ((1u << shift) - 1), half = 1u << (shift - 1);
    if (rem > half || (rem == half && (v & 1u))) ++v;
    return uint16_t(sign | v);
  }
  uint32_t v = ((absx >> 13) - ((127u - 15u) << 10));
  uint32_t rem = absx & 0x1FFFu;
  if (rem > 0x1000u || (rem == 0x1000u && (v & 1u))) ++v;
  return uint16_t(sign | v);
}

/**
 * Half-float copies of a factor matrix are stored in panels of kHalfPanel rows, dimension-major:
 * row j, dimension p is at H[(j / 8)·d·8 + p·8 + j % 8], so one vector load holds one dimension of
 * 8 consecutive rows. The last panel is padded with zeros.
 */
constexpr size_t kHalfPanel = 8;
inline size_t half_panel_length(size_t rows, size_t d) { return (rows + kHalfPanel - 1) / kHalfPanel * kHalfPanel * d; }

struct Kernels {
  const char* name;
  /** Σ a[i]·b[i]. */
  float (*dot)(const float* a, const float* b, size_t n);
  /** y += a·x. */
  void (*axpy)(float a, const float* x, float* y, size_t n);
  /** out[j] = q · M[j·d .. j·d+d) for j < rows. */
  void (*dot_rows)(const float* q, const float* M, size_t rows, size_t d, float* out);
  /**
   * out[q·stride + j] = qs[q] · row j of H for q < nq, j < rows, with H the half-float panel layout
   * of half_panel_length (starting at a panel): several queries at once, so each stretch of H is
   * read and converted once for all of them.
   */
  void (*dot_rows_half)(const float* const* qs, size_t nq, const uint16_t* H, size_t rows, size_t d, float* out,
                        size_t stride);
  /**
   * Cluster sums for the k-means update: for i < n, sums[labels[i]·d + p] += X[i·d + p] and
   * counts[labels[i]] += 1. `scratch` holds k·d floats (partial sums flushed to double every block).
   */
  void (*accumulate_rows)(const float* X, const int32_t* labels, size_t n, size_t d, size_t k, double* sums,
                          int64_t* counts, float* scratch);
  /**
   * k-means assignment for `rows` points X (pre-packed by pack_row_blocks in blocks of
   * kAssignRows; `rows` covers whole blocks except the last) against centroids packed in
   * `npanels` panels of kPanel: panel q holds, for p < d, kPanel floats at packed[(q·d + p)·kPanel].
   * cnorm[q·kPanel + c] is ‖centroid‖² (+inf for padding). Writes the argmin of ‖c‖² − 2x·c to
   * labels[i] and its value to best[i]; ties go to the smaller centroid index.
   * When `X_rows` (the same rows, row-major) is non-null, each row is also added to
   * sums[labels[i]·d ..] (float) and counts[labels[i]] is incremented: the k-means update fused
   * into the assignment, while the rows' memory traffic overlaps the arithmetic.
   */
  void (*assign_rows)(const float* Xpacked, size_t rows, size_t d, const float* packed, const float* cnorm,
                      size_t npanels, int32_t* labels, float* best, const float* X_rows, float* sums,
                      int64_t* counts);
  /**
   * out[i·kPanel8 + c] = x_i · panel column c, for a single packed panel of kPanel8 columns. X is
   * pre-packed by pack_row_blocks (blocks of kPackRows rows, transposed); `rows` counts real rows
   * and must cover whole blocks except the last.
   */
  void (*dots_panel8)(const float* Xpacked, size_t rows, size_t d, const float* panel, float* out);
  /**
   * One k-means++ candidate pass over pre-packed rows (as dots_panel8): for each row i and column
   * l < kPanel8, v = max(0, xnorm[i] + cnorm[l] − 2·x_i·c_l) is written to dist[i·kPanel8 + l] and
   * min(v, D2[i]) is added to pot[l].
   */
  void (*kpp_pass)(const float* Xpacked, size_t rows, size_t d, const float* panel, const float* xnorm,
                   const float* cnorm, const float* D2, float* dist, double* pot);
  /**
   * out = A·p + Σ_k w[k]·(Y[idx[k]]·p)·Y[idx[k]] with A symmetric f×f (row-major) and Y rows of length f.
   */
  void (*implicit_matvec)(const float* A, const float* Y, const int32_t* idx, const float* w, size_t nnz,
                          size_t f, const float* p, float* out);
};

const Kernels& portable_kernels();
#ifdef CLIENTELE_HAVE_AVX2_TU
const Kernels& avx2_kernels();
#endif

/**
 * 8-bit copies of a factor matrix (see scoring.h, make_int8_copy) are stored in panels of
 * kI8Panel rows and groups of 4 dimensions: row j, dimension p is the byte at
 * ((j / 16)·G + p / 4)·64 + (j % 16)·4 + p % 4, with G = ceil(d / 4) groups; padding is zero. One
 * 64-byte vector then holds 4 dimensions of 16 rows, the operand of AVX-512 VNNI's vpdpbusd.
 */
constexpr size_t kI8Panel = 16;
inline size_t i8_groups(size_t d) { return (d + 3) / 4; }
inline size_t i8_panels(size_t rows) { return (rows + kI8Panel - 1) / kI8Panel; }

/**
 * The 8-bit scan: for q < nq and j < rows (rows counted from the start of a panel),
 * out[q·stride + j] = (Σ_p qs[q][p]·code(j, p) − 128·sums[j]) · scales[j] · qscale[q], where
 * qs[q] holds i8_groups(d)·4 unsigned bytes (the query's 8-bit codes plus 128), codes starts at a
 * panel, and sums and scales are per row from that panel on (padded to whole panels). Also
 * masks[q·stride / kI8Panel + panel]: bit r set when row panel·16 + r (< rows) scored at least
 * floors[q] (or NaN), so the caller looks only at the few rows that can still make the top k.
 */
using DotRowsI8 = void (*)(const uint8_t* const* qs, const float* qscale, const float* floors, size_t nq,
                           const int8_t* codes, const int32_t* sums, const float* scales, size_t rows, size_t d,
                           float* out, uint16_t* masks, size_t stride);
void dot_rows_i8_portable(const uint8_t* const* qs, const float* qscale, const float* floors, size_t nq,
                          const int8_t* codes, const int32_t* sums, const float* scales, size_t rows, size_t d,
                          float* out, uint16_t* masks, size_t stride);
#ifdef CLIENTELE_HAVE_AVX512_TU
/** dot_rows_i8 with AVX-512 VNNI (kernels_avx512.cpp); same results, bit for bit. */
void dot_rows_i8_vnni(const uint8_t* const* qs, const float* qscale, const float* floors, size_t nq,
                      const int8_t* codes, const int32_t* sums, const float* scales, size_t rows, size_t d,
                      float* out, uint16_t* masks, size_t stride);
#endif

}  // namespace clientele

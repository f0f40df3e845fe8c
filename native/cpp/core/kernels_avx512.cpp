// AVX-512 VNNI kernel of the 8-bit scan. This file alone is compiled with -mavx512f -mavx512bw
// -mavx512vnni; nothing here runs unless detect_cpu() reported all three (and the OS saves the
// vector state).
#include <immintrin.h>

#include <cstring>

#include "kernels.h"

namespace clientele {
namespace {

/**
 * NQ queries against NP panels of 16 rows at a time: per group of 4 dimensions one 64-byte load
 * per panel, and per query one broadcast of its 4 bytes and one vpdpbusd, which adds 64 products
 * into 16 row sums. NQ·NP accumulators are independent chains.
 */
template <int NQ, int NP>
size_t i8_panels_pass(const uint8_t* const* qs, const float* qscale, const float* floors, const int8_t* codes,
                      const int32_t* sums, const float* scales, size_t rows, size_t d, float* out, uint16_t* masks,
                      size_t stride, size_t b) {
  const size_t G = i8_groups(d);
  const size_t panels = i8_panels(rows);
  for (; b + NP <= panels; b += NP) {
    __m512i acc[NQ][NP];
#pragma GCC unroll 16
    for (int q = 0; q < NQ; ++q)
#pragma GCC unroll 16
      for (int n = 0; n < NP; ++n) acc[q][n] = _mm512_setzero_si512();
    const int8_t* base = codes + b * G * 64;
    for (size_t g = 0; g < G; ++g) {
      __m512i r[NP];
#pragma GCC unroll 16
      for (int n = 0; n < NP; ++n) r[n] = _mm512_loadu_si512(base + (n * G + g) * 64);
#pragma GCC unroll 16
      for (int q = 0; q < NQ; ++q) {
        int32_t four;
        std::memcpy(&four, qs[q] + g * 4, 4);
        const __m512i vq = _mm512_set1_epi32(four);
#pragma GCC unroll 16
        for (int n = 0; n < NP; ++n) acc[q][n] = _mm512_dpbusd_epi32(acc[q][n], vq, r[n]);
      }
    }
#pragma GCC unroll 16
    for (int n = 0; n < NP; ++n) {
      const size_t j = (b + static_cast<size_t>(n)) * kI8Panel;
      const __m512i corr = _mm512_slli_epi32(_mm512_loadu_si512(sums + j), 7);
      const __m512 sc = _mm512_loadu_ps(scales + j);
      const __mmask16 keep = j + kI8Panel <= rows ? __mmask16(0xFFFF) : __mmask16((1u << (rows - j)) - 1u);
#pragma GCC unroll 16
      for (int q = 0; q < NQ; ++q) {
        const __m512 v = _mm512_mul_ps(_mm512_cvtepi32_ps(_mm512_sub_epi32(acc[q][n], corr)), _mm512_mul_ps(sc, _mm512_set1_ps(qscale[q])));
        _mm512_mask_storeu_ps(out + static_cast<size_t>(q) * stride + j, keep, v);
        // Not less than the floor (NaN included, as the portable kernel's !(v < floor)).
        masks[static_cast<size_t>(q) * (stride / kI8Panel) + b + static_cast<size_t>(n)] =
            static_cast<uint16_t>(_mm512_mask_cmp_ps_mask(keep, v, _mm512_set1_ps(floors[q]), _CMP_NLT_UQ));
      }
    }
  }
  return b;
}

template <int NQ, int NP>
void i8_queries(const uint8_t* const* qs, const float* qscale, const float* floors, const int8_t* codes,
                const int32_t* sums, const float* scales, size_t rows, size_t d, float* out, uint16_t* masks,
                size_t stride) {
  size_t b = i8_panels_pass<NQ, NP>(qs, qscale, floors, codes, sums, scales, rows, d, out, masks, stride, 0);
  i8_panels_pass<NQ, 1>(qs, qscale, floors, codes, sums, scales, rows, d, out, masks, stride, b);
}

}  // namespace

void dot_rows_i8_vnni(const uint8_t* const* qs, const float* qscale, const float* floors, size_t nq,
                      const int8_t* codes, const int32_t* sums, const float* scales, size_t rows, size_t d,
                      float* out, uint16_t* masks, size_t stride) {
  const size_t ms = stride / kI8Panel;
  size_t q = 0;
  for (; q + 4 <= nq; q += 4)
    i8_queries<4, 4>(qs + q, qscale + q, floors + q, codes, sums, scales, rows, d, out + q * stride, masks + q * ms, stride);
  switch (nq - q) {
    case 3: i8_queries<3, 4>(qs + q, qscale + q, floors + q, codes, sums, scales, rows, d, out + q * stride, masks + q * ms, stride); break;
    case 2: i8_queries<2, 4>(qs + q, qscale + q, floors + q, codes, sums, scales, rows, d, out + q * stride, masks + q * ms, stride); break;
    case 1: i8_queries<1, 8>(qs + q, qscale + q, floors + q, codes, sums, scales, rows, d, out + q * stride, masks + q * ms, stride); break;
    default: break;
  }
}

}  // namespace clientele

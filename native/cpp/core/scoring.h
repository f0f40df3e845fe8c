// Dot-product scoring: batches of queries against a matrix, top-k, similar items, pair scores.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>

#include "common.h"
#include "kernels.h"

namespace clientele {

/** out[q·rows + j] = Q[q] · M[j] for q < nq, j < rows (row-major, dimension d). */
void dot_batch(const Kernels& K, const float* Q, size_t nq, const float* M, size_t rows, size_t d, float* out,
               const RunContext& ctx);

}  // namespace clientele

namespace clientele {

/** Top-k query against a matrix: exclusions and an optional candidate set. */
struct TopKQuery {
  const float* query = nullptr;      // d floats
  const int32_t* exclude = nullptr;  // item indices never returned (any order)
  size_t n_exclude = 0;
};

/**
 * Writes up to k best rows of M (rows × d) for `query` into idx/score, best first (ties: smaller
 * index first). When `candidates` is non-null only those rows are scored. `norms`, when non-null,
 * divides each score by norms[j] (used for cosine). Returns the number written (≤ k).
 * Indices must be valid (the caller checks).
 */
size_t top_k(const Kernels& K, const float* M, size_t rows, size_t d, const TopKQuery& q, const int32_t* candidates,
             size_t n_candidates, const float* norms, size_t k, int32_t* idx, float* score);

/** top_k over all rows split across `threads` (each with its own heap, merged); same result as top_k. */
size_t top_k_parallel(const Kernels& K, const float* M, size_t rows, size_t d, const TopKQuery& q, size_t k,
                      int32_t* idx, float* score, int threads);

/**
 * Exact top-k over all rows using a half-float copy H of M for the scan: items whose approximate
 * score could reach the k-th best (given the conversion error bound, from max_norm = max ‖M[j]‖)
 * are rescored in float32 from M. Same results as top_k, with half the memory traffic.
 */
size_t top_k_half(const Kernels& K, const float* M, const uint16_t* H, size_t rows, size_t d, const TopKQuery& q,
                  float max_norm, size_t k, int32_t* idx, float* score, int threads);

/**
 * top_k for many queries in one pass over M: rows in blocks that stay in cache while every query
 * is scored against them, so M is read from memory once per batch instead of once per query.
 * Rows are split across `threads`; each query's result is the same as top_k's. A query with a null
 * `query` pointer gets no results. Writes k slots per query (unused: -1 / -inf) and counts[q].
 */
void top_k_batch(const Kernels& K, const float* M, size_t rows, size_t d, const TopKQuery* queries, size_t nq, size_t k,
                 int32_t* idx, float* score, int32_t* counts, const RunContext& ctx);

/**
 * top_k_batch with the scan over a half-float copy H of M (max_norm = max ‖M[j]‖, as from
 * to_half): each query keeps the rows that could be in its exact top-k given the conversion
 * error bound, and those are rescored in float32. Same results as top_k_batch; H is read from
 * memory once per batch, half the bytes of M.
 */
void top_k_batch_half(const Kernels& K, const float* M, const uint16_t* H, size_t rows, size_t d, const TopKQuery* queries,
                      size_t nq, size_t k, float max_norm, int32_t* idx, float* score, int32_t* counts,
                      const RunContext& ctx);

/**
 * Half-float copy of M (rows × d) in the panel layout of half_panel_length (`out` holds
 * half_panel_length(rows, d) values); returns max row norm, or -1 when a value does not fit a half.
 */
double to_half(const float* M, size_t n, size_t d, uint16_t* out);

/** Widest rows an 8-bit copy takes: its 32-bit sums cannot overflow (255·127·4096 < 2³¹). */
constexpr size_t kI8MaxDim = 4096;
constexpr size_t kI8HeaderBytes = 64;

/** An 8-bit copy's parts, as read_int8_copy finds them. */
struct Int8Copy {
  const int8_t* codes = nullptr;   // panel layout of kernels.h (kI8Panel)
  const float* scales = nullptr;   // per row, padded to whole panels
  const int32_t* sums = nullptr;   // Σ codes per row, padded
  float max_scale = 0;             // max over rows of the row's scale
  float max_scale_l1 = 0;          // max over rows of scale · Σ |codes|
};

/** Bytes of an 8-bit copy of rows × d (header, codes, scales, sums). */
size_t int8_copy_bytes(size_t rows, size_t d);

/**
 * Writes the 8-bit copy of M (each row scaled by its largest |value| / 127 and rounded) into
 * `out` (int8_copy_bytes(rows, d) bytes, 4-byte aligned). Returns the largest row norm, or -1
 * when d is 0 or over kI8MaxDim or a value is not finite.
 */
double make_int8_copy(const float* M, size_t rows, size_t d, uint8_t* out);

/** Finds the parts of an 8-bit copy of rows × d; false, with what was expected in `why`, when it is not one. */
bool read_int8_copy(const uint8_t* data, size_t bytes, size_t rows, size_t d, Int8Copy& out, std::string& why);

/**
 * top_k_batch with the scan over an 8-bit copy C of M (by `scan`, see select_i8_kernel): each
 * query keeps the rows whose approximate score is within the quantisation error bound of its
 * running k-th best, and those are rescored in float32 from M. Same results as top_k_batch;
 * max_norm = max ‖M[j]‖.
 */
void top_k_batch_i8(const Kernels& K, DotRowsI8 scan, const float* M, const Int8Copy& C, size_t rows, size_t d,
                    const TopKQuery* queries, size_t nq, size_t k, float max_norm, int32_t* idx, float* score,
                    int32_t* counts, const RunContext& ctx);

/** ‖M[j]‖ for every row (0 rows stay 0). */
void row_norms(const Kernels& K, const float* M, size_t rows, size_t d, float* out, const RunContext& ctx);

/**
 * out[i] = U[users[i]]·V[items[i]] (+ ub[users[i]] + vb[items[i]] + global when biases are given).
 * Indices are checked at the point of use (nu users, ni items): a pair out of range scores NaN.
 */
void score_pairs(const Kernels& K, const float* U, size_t nu, const float* V, size_t ni, size_t d,
                 const int32_t* users, const int32_t* items, size_t n, const float* ub, const float* vb, float global,
                 float* out, const RunContext& ctx);

}  // namespace clientele

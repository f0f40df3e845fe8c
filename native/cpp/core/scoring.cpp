#include "scoring.h"

#include <algorithm>
#include <cstring>
#include <string>
#include <cmath>

namespace clientele {

void dot_batch(const Kernels& K, const float* Q, size_t nq, const float* M, size_t rows, size_t d, float* out,
               const RunContext& ctx) {
  if (nq == 0 || rows == 0) return;
  // Blocks of matrix rows small enough to stay in L2 while every query passes over them.
  const size_t block = std::max<size_t>(64, (256 * 1024) / std::max<size_t>(1, d * sizeof(float)));
  const size_t nblocks = (rows + block - 1) / block;
  parallel_dynamic(ctx.threads, nblocks, 1, [&](int, size_t b0, size_t b1) {
    for (size_t b = b0; b < b1; ++b) {
      size_t j0 = b * block, j1 = std::min(rows, j0 + block);
      for (size_t q = 0; q < nq; ++q) K.dot_rows(Q + q * d, M + j0 * d, j1 - j0, d, out + q * rows + j0);
    }
  });
}

}  // namespace clientele

#include <cmath>
#include <functional>
#include <limits>
#include <vector>

namespace clientele {
namespace {

struct Entry {
  float score;
  int32_t index;
};
// "a is better than b": higher score, then smaller index.
inline bool better(const Entry& a, const Entry& b) {
  return a.score > b.score || (a.score == b.score && a.index < b.index);
}
// Min-heap on "better": the root is the worst kept entry.
struct WorseFirst {
  bool operator()(const Entry& a, const Entry& b) const { return better(a, b); }
};

class Selector {
 public:
  Selector(size_t k, const int32_t* exclude, size_t n_exclude) : k_(k) {
    if (n_exclude > 0) {
      excl_.assign(exclude, exclude + n_exclude);
      std::sort(excl_.begin(), excl_.end());
    }
    heap_.reserve(k);
  }
  inline void offer(float s, int32_t j) {
    if (k_ == 0 || std::isnan(s)) return;
    Entry e{s, j};
    if (heap_.size() == k_ && !better(e, heap_.front())) return;
    if (!excl_.empty() && std::binary_search(excl_.begin(), excl_.end(), j)) return;
    if (heap_.size() < k_) {
      heap_.push_back(e);
      std::push_heap(heap_.begin(), heap_.end(), WorseFirst());
    } else {
      std::pop_heap(heap_.begin(), heap_.end(), WorseFirst());
      heap_.back() = e;
      std::push_heap(heap_.begin(), heap_.end(), WorseFirst());
    }
  }
  std::vector<Entry> take() { return std::move(heap_); }
  size_t finish(int32_t* idx, float* score) {
    std::sort(heap_.begin(), heap_.end(), better);
    for (size_t i = 0; i < heap_.size(); ++i) {
      idx[i] = heap_[i].index;
      score[i] = heap_[i].score;
    }
    return heap_.size();
  }

 private:
  size_t k_;
  std::vector<int32_t> excl_;
  std::vector<Entry> heap_;
};

/** Offers rows [j0, j1) of M to the selector. */
void scan_rows(const Kernels& K, const float* M, size_t j0, size_t j1, size_t d, const float* query, const float* norms,
               Selector& sel) {
  constexpr size_t kBlock = 512;
  float buf[kBlock];
  for (size_t b = j0; b < j1; b += kBlock) {
    size_t m = std::min(kBlock, j1 - b);
    K.dot_rows(query, M + b * d, m, d, buf);
    if (norms)
      for (size_t t = 0; t < m; ++t) buf[t] = norms[b + t] > 0 ? buf[t] / norms[b + t] : 0.0f;
    for (size_t t = 0; t < m; ++t) sel.offer(buf[t], static_cast<int32_t>(b + t));
  }
}

}  // namespace

size_t top_k_parallel(const Kernels& K, const float* M, size_t rows, size_t d, const TopKQuery& q, size_t k,
                      int32_t* idx, float* score, int threads) {
  if (threads <= 1 || rows < 8192 || k == 0) return top_k(K, M, rows, d, q, nullptr, 0, nullptr, k, idx, score);
  size_t t = static_cast<size_t>(threads);
  std::vector<std::vector<Entry>> parts(t);
  parallel_for(threads, rows, [&](int tid, size_t b, size_t e) {
    Selector sel(k, q.exclude, q.n_exclude);
    scan_rows(K, M, b, e, d, q.query, nullptr, sel);
    parts[static_cast<size_t>(tid)] = sel.take();
  });
  std::vector<Entry> all;
  for (auto& p : parts) all.insert(all.end(), p.begin(), p.end());
  std::sort(all.begin(), all.end(), better);
  size_t n = std::min(k, all.size());
  for (size_t i = 0; i < n; ++i) {
    idx[i] = all[i].index;
    score[i] = all[i].score;
  }
  return n;
}

size_t top_k(const Kernels& K, const float* M, size_t rows, size_t d, const TopKQuery& q, const int32_t* candidates,
             size_t n_candidates, const float* norms, size_t k, int32_t* idx, float* score) {
  Selector sel(k, q.exclude, q.n_exclude);
  if (k == 0) return 0;
  if (candidates != nullptr) {
    for (size_t c = 0; c < n_candidates; ++c) {
      int32_t j = candidates[c];
      if (j < 0 || static_cast<size_t>(j) >= rows) continue;
      float s = K.dot(q.query, M + static_cast<size_t>(j) * d, d);
      if (norms) s = norms[j] > 0 ? s / norms[j] : 0.0f;
      sel.offer(s, j);
    }
  } else {
    scan_rows(K, M, 0, rows, d, q.query, norms, sel);
  }
  return sel.finish(idx, score);
}

void top_k_batch(const Kernels& K, const float* M, size_t rows, size_t d, const TopKQuery* queries, size_t nq, size_t k,
                 int32_t* idx, float* score, int32_t* counts, const RunContext& ctx) {
  if (nq == 0) return;
  const size_t block = std::min<size_t>(4096, std::max<size_t>(64, (128 * 1024) / std::max<size_t>(1, d * sizeof(float))));
  // Threads split the rows; each keeps a heap per query, merged at the end.
  size_t t = static_cast<size_t>(std::max(1, ctx.threads));
  t = std::max<size_t>(1, std::min(t, rows / 8192));
  std::vector<std::vector<std::vector<Entry>>> parts(t);
  if (k > 0 && rows > 0) {
    parallel_for(static_cast<int>(t), rows, [&](int tid, size_t b, size_t e) {
      std::vector<Selector> sel;
      sel.reserve(nq);
      for (size_t q = 0; q < nq; ++q) sel.emplace_back(queries[q].query ? k : 0, queries[q].exclude, queries[q].n_exclude);
      std::vector<float> buf(block);
      for (size_t j0 = b; j0 < e; j0 += block) {
        ctx.check_cancel();
        size_t m = std::min(block, e - j0);
        const float* rowsp = M + j0 * d;
        for (size_t q = 0; q < nq; ++q) {
          if (!queries[q].query) continue;
          K.dot_rows(queries[q].query, rowsp, m, d, buf.data());
          Selector& s = sel[q];
          for (size_t r = 0; r < m; ++r) s.offer(buf[r], static_cast<int32_t>(j0 + r));
        }
      }
      auto& out = parts[static_cast<size_t>(tid)];
      out.resize(nq);
      for (size_t q = 0; q < nq; ++q) out[q] = sel[q].take();
    });
  }
  std::vector<Entry> all;
  for (size_t q = 0; q < nq; ++q) {
    all.clear();
    for (auto& p : parts)
      if (q < p.size()) all.insert(all.end(), p[q].begin(), p[q].end());
    std::sort(all.begin(), all.end(), better);
    size_t n = std::min(k, all.size());
    for (size_t i = 0; i < k; ++i) {
      idx[q * k + i] = i < n ? all[i].index : -1;
      score[q * k + i] = i < n ? all[i].score : -std::numeric_limits<float>::infinity();
    }
    counts[q] = static_cast<int32_t>(n);
  }
}

double to_half(const float* M, size_t rows, size_t d, uint16_t* out) {
  double max_norm = 0;
  for (size_t j = 0; j < rows; ++j) {
    double s = 0;
    uint16_t* h = out + (j / kHalfPanel) * d * kHalfPanel + j % kHalfPanel;
    for (size_t p = 0; p < d; ++p) {
      float v = M[j * d + p];
      if (!(std::fabs(v) <= 65000.0f)) return -1;
      h[p * kHalfPanel] = float_to_half(v);
      s += double(v) * v;
    }
    max_norm = std::max(max_norm, std::sqrt(s));
  }
  // The padding rows of the last panel score 0 and are never offered (the scan stops at rows).
  for (size_t j = rows; j % kHalfPanel != 0; ++j) {
    uint16_t* h = out + (j / kHalfPanel) * d * kHalfPanel + j % kHalfPanel;
    for (size_t p = 0; p < d; ++p) h[p * kHalfPanel] = 0;
  }
  return max_norm;
}

namespace {

/** Bound on |q·y − q·half(y)| over all rows y of M, for one query (see top_k_half). */
float half_margin(const float* query, size_t d, float max_norm) {
  // |q·y − q·half(y)| ≤ 2⁻¹¹·‖q‖·‖y‖ (normal halves) + 2⁻²⁵·‖q‖₁ (subnormal halves); doubled
  // and padded for the float32 rounding of both dot products.
  double qn = 0, q1 = 0;
  for (size_t p = 0; p < d; ++p) {
    qn += double(query[p]) * query[p];
    q1 += std::fabs(query[p]);
  }
  return static_cast<float>(2.2 * (std::sqrt(qn) * max_norm * (1.0 / 2048 + 1e-6 * d) + q1 * 3e-8) + 1e-30);
}

/**
 * Approximate (half-float) scores of one query, offered in row order: keeps every row whose
 * score is within `margin` of the running k-th best, i.e. every row that could be in the exact
 * top-k. Excluded rows (sorted) are never kept.
 */
class ScanCandidates {
 public:
  ScanCandidates(size_t k, float margin, const std::vector<int32_t>* excluded) : k_(k), margin_(margin), excl_(excluded) {
    heap_.reserve(k);
  }
  inline void offer(float s, int32_t j) {
    if (!(s >= floor_ - margin_)) return;  // also drops NaN
    if (excl_ && !excl_->empty() && std::binary_search(excl_->begin(), excl_->end(), j)) return;
    cand_.push_back(j);
    if (heap_.size() < k_) {
      heap_.push_back(s);
      std::push_heap(heap_.begin(), heap_.end(), std::greater<float>());
      if (heap_.size() == k_) floor_ = heap_.front();
    } else if (s > heap_.front()) {
      std::pop_heap(heap_.begin(), heap_.end(), std::greater<float>());
      heap_.back() = s;
      std::push_heap(heap_.begin(), heap_.end(), std::greater<float>());
      floor_ = heap_.front();
    }
  }
  /** Rows scoring below this cannot make the top k (for now: it only rises). */
  float threshold() const { return floor_ - margin_; }
  /**
   * s[0..m) for rows j0.. in order, looking only at the rows whose bit is set in masks[panel]
   * (bit r of panel p: row p·panel + r reached threshold() as it was before the block).
   */
  void offer_masked(const float* s, int32_t j0, const uint16_t* masks, size_t panels, size_t panel) {
    for (size_t p = 0; p < panels; ++p)
      for (uint32_t bits = masks[p]; bits != 0; bits &= bits - 1) {
        const size_t r = p * panel + static_cast<size_t>(__builtin_ctz(bits));
        offer(s[r], j0 + static_cast<int32_t>(r));
      }
  }
  const std::vector<int32_t>& rows() const { return cand_; }

 private:
  size_t k_;
  float margin_;
  const std::vector<int32_t>* excl_;
  std::vector<float> heap_;
  std::vector<int32_t> cand_;
  float floor_ = -std::numeric_limits<float>::infinity();
};

}  // namespace

size_t top_k_half(const Kernels& K, const float* M, const uint16_t* H, size_t rows, size_t d, const TopKQuery& q,
                  float max_norm, size_t k, int32_t* idx, float* score, int threads) {
  if (k == 0 || rows == 0) return 0;
  // A batch of one: the same scan, candidate margin and float32 rescoring.
  RunContext ctx;
  ctx.threads = threads;
  int32_t count = 0;
  top_k_batch_half(K, M, H, rows, d, &q, 1, k, max_norm, idx, score, &count, ctx);
  return static_cast<size_t>(count);
}

namespace {

/**
 * The approximate scan shared by the half-float and 8-bit copies: rows in blocks of `block` (a
 * multiple of `panel`, the copy's rows per panel), threads on whole panels; for each block,
 * `score_block(j0, m, buf, floors, masks)` writes the approximate scores of the queries with a
 * vector (a-th of them) for rows [j0, j0 + m) to buf[a·block + r], and in masks[a·block/panel + p]
 * bit r for each row p·panel + r (< m) that scored at least floors[a]. Every row within margins[q] of
 * the running k-th best is kept and rescored exactly in float32 from M, so the result is
 * top_k's. A query with a null vector gets no results.
 */
template <typename ScoreBlock>
void approximate_then_exact(const Kernels& K, const float* M, size_t rows, size_t d, const TopKQuery* queries, size_t nq,
                            size_t k, const std::vector<float>& margins, size_t panel, size_t block, int32_t* idx,
                            float* score, int32_t* counts, const RunContext& ctx, ScoreBlock score_block) {
  std::vector<std::vector<int32_t>> excluded(nq);
  std::vector<size_t> active;
  for (size_t q = 0; q < nq; ++q) {
    if (!queries[q].query) continue;
    active.push_back(q);
    excluded[q].assign(queries[q].exclude, queries[q].exclude + queries[q].n_exclude);
    std::sort(excluded[q].begin(), excluded[q].end());
  }
  size_t t = static_cast<size_t>(std::max(1, ctx.threads));
  t = std::max<size_t>(1, std::min(t, rows / 8192));
  const size_t panels = (rows + panel - 1) / panel;
  // parts[thread][query]: that thread's candidate rows.
  std::vector<std::vector<std::vector<int32_t>>> parts(t);
  if (k > 0 && rows > 0 && !active.empty()) {
    parallel_for(static_cast<int>(t), panels, [&](int tid, size_t pb, size_t pe) {
      const size_t b = pb * panel, e = std::min(rows, pe * panel);
      std::vector<ScanCandidates> cand;
      cand.reserve(nq);
      for (size_t q = 0; q < nq; ++q) cand.emplace_back(queries[q].query ? k : 0, margins[q], &excluded[q]);
      std::vector<float> buf(block * active.size()), floors(active.size());
      std::vector<uint16_t> masks(block / panel * active.size());
      for (size_t j0 = b; j0 < e; j0 += block) {
        ctx.check_cancel();
        const size_t m = std::min(block, e - j0);
        for (size_t a = 0; a < active.size(); ++a) floors[a] = cand[active[a]].threshold();
        score_block(j0, m, buf.data(), floors.data(), masks.data());
        for (size_t a = 0; a < active.size(); ++a)
          cand[active[a]].offer_masked(buf.data() + a * block, static_cast<int32_t>(j0), masks.data() + a * (block / panel),
                                       (m + panel - 1) / panel, panel);
      }
      auto& out = parts[static_cast<size_t>(tid)];
      out.resize(nq);
      for (size_t q = 0; q < nq; ++q) out[q] = cand[q].rows();
    });
  }
  for (size_t q = 0; q < nq; ++q) {
    size_t n = 0;
    if (queries[q].query && k > 0) {
      // Exact float32 rescoring of the candidates: the same result as top_k.
      Selector sel(k, nullptr, 0);
      for (auto& p : parts)
        if (q < p.size())
          for (int32_t j : p[q]) sel.offer(K.dot(queries[q].query, M + static_cast<size_t>(j) * d, d), j);
      n = sel.finish(idx + q * k, score + q * k);
    }
    for (size_t i = n; i < k; ++i) {
      idx[q * k + i] = -1;
      score[q * k + i] = -std::numeric_limits<float>::infinity();
    }
    counts[q] = static_cast<int32_t>(n);
  }
}

/** Rows per block: about 32 KiB of the copy (`row_bytes` per row), whole panels, 32–1024 rows. */
size_t scan_block(size_t row_bytes, size_t panel) {
  const size_t rows = std::min<size_t>(1024, std::max<size_t>(32, (32 * 1024) / std::max<size_t>(1, row_bytes)));
  return std::max(panel, rows / panel * panel);
}

}  // namespace

void top_k_batch_half(const Kernels& K, const float* M, const uint16_t* H, size_t rows, size_t d, const TopKQuery* queries,
                      size_t nq, size_t k, float max_norm, int32_t* idx, float* score, int32_t* counts,
                      const RunContext& ctx) {
  if (nq == 0) return;
  std::vector<float> margins(nq, 0.0f);
  std::vector<const float*> active;
  for (size_t q = 0; q < nq; ++q) {
    if (!queries[q].query) continue;
    margins[q] = half_margin(queries[q].query, d, max_norm);
    active.push_back(queries[q].query);
  }
  // Blocks of 256 half rows (32 KiB at d = 64) stay in L1/L2 while every query of the batch is
  // scored against them: the half matrix is read from memory once per batch.
  const size_t block = scan_block(d * sizeof(uint16_t), kHalfPanel);
  approximate_then_exact(K, M, rows, d, queries, nq, k, margins, kHalfPanel, block, idx, score, counts, ctx,
                         [&](size_t j0, size_t m, float* buf, const float* floors, uint16_t* masks) {
                           K.dot_rows_half(active.data(), active.size(), H + j0 * d, m, d, buf, block);  // j0 starts a panel
                           for (size_t a = 0; a < active.size(); ++a)
                             for (size_t p = 0; p * kHalfPanel < m; ++p) {
                               uint16_t bits = 0;
                               for (size_t r = 0; r < kHalfPanel && p * kHalfPanel + r < m; ++r)
                                 bits |= static_cast<uint16_t>(!(buf[a * block + p * kHalfPanel + r] < floors[a])) << r;
                               masks[a * (block / kHalfPanel) + p] = bits;
                             }
                         });
}

// ---- 8-bit copies ------------------------------------------------------------------------------

namespace {

constexpr uint32_t kI8Magic = 0x38514C43u;  // "CLQ8"
constexpr uint32_t kI8Version = 1;

struct I8Header {
  uint32_t magic;
  uint32_t version;
  uint64_t rows;
  uint64_t d;
  float max_scale;
  float max_scale_l1;
  uint8_t reserved[kI8HeaderBytes - 32];
};
static_assert(sizeof(I8Header) == kI8HeaderBytes, "8-bit copy header size");

size_t i8_code_bytes(size_t rows, size_t d) { return i8_panels(rows) * i8_groups(d) * 64; }

}  // namespace

size_t int8_copy_bytes(size_t rows, size_t d) {
  return kI8HeaderBytes + i8_code_bytes(rows, d) + i8_panels(rows) * kI8Panel * (sizeof(float) + sizeof(int32_t));
}

double make_int8_copy(const float* M, size_t rows, size_t d, uint8_t* out) {
  if (d == 0 || d > kI8MaxDim) return -1;
  const size_t G = i8_groups(d), P = i8_panels(rows);
  std::memset(out, 0, int8_copy_bytes(rows, d));
  int8_t* codes = reinterpret_cast<int8_t*>(out + kI8HeaderBytes);
  float* scales = reinterpret_cast<float*>(out + kI8HeaderBytes + i8_code_bytes(rows, d));
  int32_t* sums = reinterpret_cast<int32_t*>(scales + P * kI8Panel);
  double max_norm = 0, max_scale = 0, max_scale_l1 = 0;
  for (size_t j = 0; j < rows; ++j) {
    const float* y = M + j * d;
    float m = 0;
    double norm = 0;
    for (size_t p = 0; p < d; ++p) {
      if (!std::isfinite(y[p])) return -1;
      m = std::max(m, std::fabs(y[p]));
      norm += double(y[p]) * y[p];
    }
    // Each row on its own scale: code = round(y / s), |code| ≤ 127, so |y − s·code| ≤ s/2.
    const float s = m > 0 ? m / 127.0f : 0.0f;
    int8_t* c = codes + (j / kI8Panel) * G * 64 + (j % kI8Panel) * 4;
    int32_t sum = 0, l1 = 0;
    for (size_t p = 0; p < d && s > 0; ++p) {
      const long v = std::lrint(y[p] / s);
      const int8_t code = static_cast<int8_t>(std::max(-127L, std::min(127L, v)));
      c[(p / 4) * 64 + p % 4] = code;
      sum += code;
      l1 += code < 0 ? -code : code;
    }
    scales[j] = s;
    sums[j] = sum;
    max_norm = std::max(max_norm, std::sqrt(norm));
    max_scale = std::max(max_scale, double(s));
    max_scale_l1 = std::max(max_scale_l1, double(s) * l1);
  }
  I8Header h{};
  h.magic = kI8Magic;
  h.version = kI8Version;
  h.rows = rows;
  h.d = d;
  h.max_scale = static_cast<float>(max_scale);
  h.max_scale_l1 = static_cast<float>(max_scale_l1);
  std::memcpy(out, &h, sizeof h);
  return max_norm;
}

bool read_int8_copy(const uint8_t* data, size_t bytes, size_t rows, size_t d, Int8Copy& out, std::string& why) {
  if (d == 0 || d > kI8MaxDim) {
    why = "an 8-bit copy needs 1 to " + std::to_string(kI8MaxDim) + " dimensions";
    return false;
  }
  if (bytes != int8_copy_bytes(rows, d)) {
    why = "length " + std::to_string(int8_copy_bytes(rows, d)) + " (as made by int8Copy for these items)";
    return false;
  }
  I8Header h;
  std::memcpy(&h, data, sizeof h);
  if (h.magic != kI8Magic || h.version != kI8Version || h.rows != rows || h.d != d) {
    why = "an 8-bit copy of these items (made by int8Copy)";
    return false;
  }
  if (!(h.max_scale >= 0 && std::isfinite(h.max_scale) && h.max_scale_l1 >= 0 && std::isfinite(h.max_scale_l1))) {
    why = "finite scale bounds in the copy's header";
    return false;
  }
  out.codes = reinterpret_cast<const int8_t*>(data + kI8HeaderBytes);
  out.scales = reinterpret_cast<const float*>(data + kI8HeaderBytes + i8_code_bytes(rows, d));
  out.sums = reinterpret_cast<const int32_t*>(out.scales + i8_panels(rows) * kI8Panel);
  out.max_scale = h.max_scale;
  out.max_scale_l1 = h.max_scale_l1;
  return true;
}

void top_k_batch_i8(const Kernels& K, DotRowsI8 scan, const float* M, const Int8Copy& C, size_t rows, size_t d,
                    const TopKQuery* queries, size_t nq, size_t k, float max_norm, int32_t* idx, float* score,
                    int32_t* counts, const RunContext& ctx) {
  if (nq == 0) return;
  const size_t G = i8_groups(d);
  std::vector<float> margins(nq, 0.0f);
  // Each query's 8-bit codes plus 128 (vpdpbusd multiplies unsigned by signed bytes; the kernel
  // takes 128·Σ code back off with the row sums), zero-padded to whole groups of 4.
  const size_t with_vector = static_cast<size_t>(std::count_if(queries, queries + nq, [](const TopKQuery& q) { return q.query != nullptr; }));
  std::vector<uint8_t> codes(with_vector * G * 4, 128);
  std::vector<float> qscale;
  for (size_t q = 0, a = 0; q < nq; ++q) {
    const float* x = queries[q].query;
    if (!x) continue;
    float m = 0;
    double l1 = 0, l2 = 0;
    for (size_t p = 0; p < d; ++p) {
      m = std::max(m, std::fabs(x[p]));
      l1 += std::fabs(x[p]);
      l2 += double(x[p]) * x[p];
    }
    const float s = m > 0 ? m / 127.0f : 0.0f;
    for (size_t p = 0; p < d && s > 0; ++p)
      codes[a * G * 4 + p] = static_cast<uint8_t>(128 + std::max(-127L, std::min(127L, std::lrint(x[p] / s))));
    qscale.push_back(s);
    ++a;
    // |q·y − s_q·s_y·Σ q̃ ỹ| ≤ ‖q‖₁·s_y/2 + s_y·‖ỹ‖₁·s_q/2 for each row (the two roundings), bounded
    // over rows by the copy's maxima; plus the float32 rounding of the scan's conversions and
    // products and of the exact rescoring's dot product; doubled (see ScanCandidates) and padded.
    const double quant = 1.01 * (C.max_scale * l1 / 2 + C.max_scale_l1 * s / 2);
    const double rounding = 1e-6 * double(d) * (127.0 * s * 127.0 * C.max_scale + std::sqrt(l2) * max_norm);
    margins[q] = static_cast<float>(2.2 * (quant + rounding) + 1e-30);
  }
  std::vector<const uint8_t*> active;
  for (size_t a = 0; a < qscale.size(); ++a) active.push_back(codes.data() + a * G * 4);
  const size_t block = scan_block(G * 4, kI8Panel);
  approximate_then_exact(K, M, rows, d, queries, nq, k, margins, kI8Panel, block, idx, score, counts, ctx,
                         [&](size_t j0, size_t m, float* buf, const float* floors, uint16_t* masks) {
                           scan(active.data(), qscale.data(), floors, active.size(), C.codes + (j0 / kI8Panel) * G * 64,
                                C.sums + j0, C.scales + j0, m, d, buf, masks, block);
                         });
}

void row_norms(const Kernels& K, const float* M, size_t rows, size_t d, float* out, const RunContext& ctx) {
  parallel_for(ctx.threads, rows, [&](int, size_t b, size_t e) {
    for (size_t j = b; j < e; ++j) out[j] = std::sqrt(K.dot(M + j * d, M + j * d, d));
  });
}

void score_pairs(const Kernels& K, const float* U, size_t nu, const float* V, size_t ni, size_t d,
                 const int32_t* users, const int32_t* items, size_t n, const float* ub, const float* vb, float global,
                 float* out, const RunContext& ctx) {
  parallel_for(ctx.threads, n, [&](int, size_t b, size_t e) {
    for (size_t i = b; i < e; ++i) {
      // Read once: the arrays belong to JS and could change while this runs.
      int32_t su = __atomic_load_n(users + i, __ATOMIC_RELAXED), sv = __atomic_load_n(items + i, __ATOMIC_RELAXED);
      if (su < 0 || static_cast<size_t>(su) >= nu || sv < 0 || static_cast<size_t>(sv) >= ni) {
        out[i] = std::numeric_limits<float>::quiet_NaN();
        continue;
      }
      size_t u = static_cast<size_t>(su), v = static_cast<size_t>(sv);
      float s = K.dot(U + u * d, V + v * d, d);
      if (ub) s += ub[u];
      if (vb) s += vb[v];
      out[i] = s + global;
    }
  });
}

}  // namespace clientele

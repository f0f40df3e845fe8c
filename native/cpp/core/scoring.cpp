#include "scoring.h"

#include <algorithm>
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
class HalfCandidates {
 public:
  HalfCandidates(size_t k, float margin, const std::vector<int32_t>* excluded) : k_(k), margin_(margin), excl_(excluded) {
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
  /**
   * s[0..m) for rows j0.. in order. Stretches of 8 with none at the threshold (the common case once
   * the heap is full) are skipped with one vectorisable test; the threshold only rises, so testing
   * against its value at the start of a stretch keeps every row offer() would.
   */
  void offer_block(const float* s, size_t m, int32_t j0) {
    size_t r = 0;
    for (; r + 8 <= m; r += 8) {
      const float t = floor_ - margin_;
      bool any = false;
      for (size_t i = 0; i < 8; ++i) any |= !(s[r + i] < t);
      if (!any) continue;
      for (size_t i = 0; i < 8; ++i) offer(s[r + i], j0 + static_cast<int32_t>(r + i));
    }
    for (; r < m; ++r) offer(s[r], j0 + static_cast<int32_t>(r));
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

void top_k_batch_half(const Kernels& K, const float* M, const uint16_t* H, size_t rows, size_t d, const TopKQuery* queries,
                      size_t nq, size_t k, float max_norm, int32_t* idx, float* score, int32_t* counts,
                      const RunContext& ctx) {
  if (nq == 0) return;
  std::vector<float> margins(nq, 0.0f);
  std::vector<std::vector<int32_t>> excluded(nq);
  for (size_t q = 0; q < nq; ++q) {
    if (!queries[q].query) continue;
    margins[q] = half_margin(queries[q].query, d, max_norm);
    excluded[q].assign(queries[q].exclude, queries[q].exclude + queries[q].n_exclude);
    std::sort(excluded[q].begin(), excluded[q].end());
  }
  // Blocks of 256 half rows (32 KiB at d = 64) stay in L1/L2 while every query of the batch is
  // scored against them: the half matrix is read from memory once per batch.
  // Whole panels per block and per thread (H is in panels of kHalfPanel rows).
  const size_t block =
      std::min<size_t>(1024, std::max<size_t>(32, (32 * 1024) / std::max<size_t>(1, d * sizeof(uint16_t)))) / kHalfPanel * kHalfPanel;
  size_t t = static_cast<size_t>(std::max(1, ctx.threads));
  t = std::max<size_t>(1, std::min(t, rows / 8192));
  const size_t panels = (rows + kHalfPanel - 1) / kHalfPanel;
  // parts[thread][query]: that thread's candidate rows.
  std::vector<std::vector<std::vector<int32_t>>> parts(t);
  if (k > 0 && rows > 0) {
    parallel_for(static_cast<int>(t), panels, [&](int tid, size_t pb, size_t pe) {
      const size_t b = pb * kHalfPanel, e = std::min(rows, pe * kHalfPanel);
      std::vector<HalfCandidates> cand;
      cand.reserve(nq);
      for (size_t q = 0; q < nq; ++q) cand.emplace_back(queries[q].query ? k : 0, margins[q], &excluded[q]);
      // The queries with a vector, scored together against each block.
      std::vector<const float*> active;
      std::vector<size_t> which;
      for (size_t q = 0; q < nq; ++q)
        if (queries[q].query) {
          active.push_back(queries[q].query);
          which.push_back(q);
        }
      std::vector<float> buf(block * active.size());
      for (size_t j0 = b; j0 < e && !active.empty(); j0 += block) {
        ctx.check_cancel();
        size_t m = std::min(block, e - j0);
        K.dot_rows_half(active.data(), active.size(), H + j0 * d, m, d, buf.data(), block);  // j0 starts a panel
        for (size_t a = 0; a < active.size(); ++a) cand[which[a]].offer_block(buf.data() + a * block, m, static_cast<int32_t>(j0));
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

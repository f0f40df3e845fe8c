#include <string>

#include "sparse.h"

namespace clientele {

namespace {

/** Reads an index once (the array belongs to JS and could change during the call) and checks it. */
inline size_t load_index(const int32_t* a, size_t i, size_t limit, const char* what) {
  int32_t v = __atomic_load_n(a + i, __ATOMIC_RELAXED);
  if (v < 0 || static_cast<size_t>(v) >= limit)
    throw_range(std::string(what) + " index " + std::to_string(v) + " at position " + std::to_string(i) +
                " is outside [0, " + std::to_string(limit) + ")");
  return static_cast<size_t>(v);
}

}  // namespace

Csr build_csr(const int32_t* row, const int32_t* col, const float* value, size_t nnz, size_t rows, size_t cols,
              Duplicates dup) {
  if (rows > static_cast<size_t>(INT32_MAX) || cols > static_cast<size_t>(INT32_MAX))
    throw_range("rows and columns must be < 2^31");
  if (nnz > UINT32_MAX) throw_range("too many entries (at most 2^32 - 1)");
  // Two stable counting sorts: by column, then by row. Result: row-major, columns ascending,
  // duplicates adjacent in input order. Every pass re-checks the indices it reads.
  std::vector<int64_t> ccount(cols + 1, 0);
  for (size_t i = 0; i < nnz; ++i) ++ccount[load_index(col, i, cols, "column") + 1];
  for (size_t c = 0; c < cols; ++c) ccount[c + 1] += ccount[c];
  std::vector<uint32_t> by_col(nnz);
  std::vector<int32_t> col_of(nnz);  // the column each entry was sorted under
  for (size_t i = 0; i < nnz; ++i) {
    size_t c = load_index(col, i, cols, "column");
    int64_t slot = ccount[c]++;
    if (slot < 0 || slot >= static_cast<int64_t>(nnz)) throw_error("input changed during the call");
    by_col[static_cast<size_t>(slot)] = static_cast<uint32_t>(i);
    col_of[i] = static_cast<int32_t>(c);
  }

  Csr out;
  out.rows = rows;
  out.cols = cols;
  std::vector<int64_t> rstart(rows + 1, 0);
  std::vector<int32_t> row_of(nnz);
  for (size_t i = 0; i < nnz; ++i) {
    size_t r = load_index(row, i, rows, "row");
    row_of[i] = static_cast<int32_t>(r);
    ++rstart[r + 1];
  }
  for (size_t r = 0; r < rows; ++r) rstart[r + 1] += rstart[r];
  std::vector<uint32_t> order(nnz);
  {
    std::vector<int64_t> next(rstart.begin(), rstart.end() - 1);
    for (size_t j = 0; j < nnz; ++j) {
      uint32_t i = by_col[j];
      order[static_cast<size_t>(next[static_cast<size_t>(row_of[i])]++)] = i;
    }
  }
  by_col.clear();
  by_col.shrink_to_fit();
  out.indptr.assign(rows + 1, 0);
  out.indices.reserve(nnz);
  out.data.reserve(nnz);
  for (size_t r = 0; r < rows; ++r) {
    for (int64_t j = rstart[r]; j < rstart[r + 1]; ++j) {
      uint32_t i = order[static_cast<size_t>(j)];
      float v = value ? value[i] : 1.0f;
      int32_t c = col_of[i];
      if (j > rstart[r] && out.indices.back() == c) {
        if (dup == Duplicates::Reject)
          throw_range("duplicate entry (" + std::to_string(r) + ", " + std::to_string(c) + ") at position " +
                      std::to_string(i));
        out.data.back() += v;
      } else {
        out.indices.push_back(c);
        out.data.push_back(v);
      }
    }
    out.indptr[r + 1] = static_cast<int64_t>(out.indices.size());
  }
  return out;
}

Csr transpose(const Csr& a) {
  Csr t;
  t.rows = a.cols;
  t.cols = a.rows;
  t.indptr.assign(a.cols + 1, 0);
  size_t nnz = a.nnz();
  for (size_t j = 0; j < nnz; ++j) ++t.indptr[static_cast<size_t>(a.indices[j]) + 1];
  for (size_t c = 0; c < a.cols; ++c) t.indptr[c + 1] += t.indptr[c];
  t.indices.resize(nnz);
  t.data.resize(nnz);
  std::vector<int64_t> next(t.indptr.begin(), t.indptr.end() - 1);
  for (size_t r = 0; r < a.rows; ++r)
    for (int64_t j = a.indptr[r]; j < a.indptr[r + 1]; ++j) {
      size_t c = static_cast<size_t>(a.indices[static_cast<size_t>(j)]);
      size_t dst = static_cast<size_t>(next[c]++);
      t.indices[dst] = static_cast<int32_t>(r);
      t.data[dst] = a.data[static_cast<size_t>(j)];
    }
  return t;
}

}  // namespace clientele

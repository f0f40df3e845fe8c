// Compressed sparse rows built from COO triplets.
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

#include "common.h"

namespace clientele {

enum class Duplicates { Sum, Reject };

struct Csr {
  size_t rows = 0, cols = 0;
  std::vector<int64_t> indptr;   // rows + 1
  std::vector<int32_t> indices;  // column of each entry, ascending within a row
  std::vector<float> data;       // value of each entry
  size_t nnz() const { return indices.size(); }
};

/**
 * Builds CSR from COO (row[i], col[i], value[i]); `value` may be null (all ones). Indices must be
 * in range (checked: RangeError). Duplicates are summed (in input order) or rejected (RangeError).
 */
Csr build_csr(const int32_t* row, const int32_t* col, const float* value, size_t nnz, size_t rows, size_t cols,
              Duplicates dup);

/** The transpose (cols × rows), columns ascending within each row. */
Csr transpose(const Csr& a);

}  // namespace clientele

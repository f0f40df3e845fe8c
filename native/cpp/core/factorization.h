// Matrix factorization: explicit biased MF by ALS, and implicit ALS (Hu, Koren, Volinsky 2008)
// with conjugate-gradient (or exact Cholesky) row solves.
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

#include "common.h"
#include "kernels.h"
#include "sparse.h"

namespace clientele {

struct ExplicitParams {
  size_t factors = 32;
  int iterations = 15;
  double reg = 0.1;         // factor regularisation, multiplied by each row's rating count
  double bias_reg = 10.0;   // bias regularisation (a constant: shrinks biases of rows with few ratings)
  double init_std = 0.1;
  uint64_t seed = 0;
};

struct ExplicitOutput {
  float* user_factors;  // users × f
  float* item_factors;  // items × f
  float* user_bias;     // users
  float* item_bias;     // items
  float global_mean = 0;
  std::vector<double> loss;  // regularised objective / nnz, per iteration
  std::vector<double> rmse;  // training RMSE, per iteration
};

/** R: users × items ratings (CSR), Rt its transpose. */
void train_explicit(const Kernels& K, const Csr& R, const Csr& Rt, const ExplicitParams& p, ExplicitOutput& out,
                    const RunContext& ctx);

struct ImplicitParams {
  size_t factors = 64;
  int iterations = 15;
  double reg = 0.01;
  // Frequency-scaled regularisation (Rendle et al. 2021, "Revisiting the Performance of iALS on
  // Item Recommendation Benchmarks"): a row with n interactions gets λ·(n + reg_offset)^reg_exponent
  // instead of λ. Rows with many interactions have a larger data term, so a constant λ
  // over-regularises rare rows relative to frequent ones; ν = 1 keeps the balance the same for
  // every row. reg_exponent = 0 is the plain constant λ (bit-identical to the unscaled solver).
  double reg_exponent = 0.0;
  double reg_offset = 0.0;
  double alpha = 1.0;  // confidence = 1 + alpha·value
  int cg_steps = 3;
  bool cholesky = false;
  bool compute_loss = false;
  double init_scale = 0.01;
  uint64_t seed = 0;
  bool use_gpu = false;
  bool warm_start = false;  // user/item factors already hold initial values
};

struct ImplicitOutput {
  float* user_factors;
  float* item_factors;
  std::vector<double> loss;  // per iteration when compute_loss (else empty)
  std::vector<double> seconds;
};

/** C: users × items interaction strengths (CSR, values ≥ 0), Ct its transpose. */
void train_implicit(const Kernels& K, const Csr& C, const Csr& Ct, const ImplicitParams& p, ImplicitOutput& out,
                    const RunContext& ctx);

/** In-place Cholesky solve of the SPD system A x = b (A n×n, row-major, overwritten). False if not SPD. */
bool cholesky_solve(double* A, double* b, size_t n);

}  // namespace clientele

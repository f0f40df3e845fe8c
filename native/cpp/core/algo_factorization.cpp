#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstring>
#include <limits>

#include "factorization.h"
#include "gpu.h"

namespace clientele {

bool cholesky_solve(double* A, double* b, size_t n) {
  for (size_t j = 0; j < n; ++j) {
    double s = A[j * n + j];
    for (size_t k = 0; k < j; ++k) s -= A[j * n + k] * A[j * n + k];
    if (!(s > 0)) return false;
    double l = std::sqrt(s);
    A[j * n + j] = l;
    for (size_t i = j + 1; i < n; ++i) {
      double t = A[i * n + j];
      for (size_t k = 0; k < j; ++k) t -= A[i * n + k] * A[j * n + k];
      A[i * n + j] = t / l;
    }
  }
  for (size_t i = 0; i < n; ++i) {  // L y = b
    double t = b[i];
    for (size_t k = 0; k < i; ++k) t -= A[i * n + k] * b[k];
    b[i] = t / A[i * n + i];
  }
  for (size_t ii = n; ii-- > 0;) {  // Lᵀ x = y
    double t = b[ii];
    for (size_t k = ii + 1; k < n; ++k) t -= A[k * n + ii] * b[k];
    b[ii] = t / A[ii * n + ii];
  }
  return true;
}

namespace {

using Clock = std::chrono::steady_clock;

/** Solves with Cholesky; falls back to a ridge-stabilised retry, then zeros, if A is not SPD. */
void solve_spd(std::vector<double>& A, std::vector<double>& b, size_t n) {
  std::vector<double> A0 = A, b0 = b;
  if (cholesky_solve(A.data(), b.data(), n)) return;
  double ridge = 1e-6;
  for (size_t j = 0; j < n; ++j) ridge = std::max(ridge, std::fabs(A0[j * n + j]) * 1e-6);
  for (int attempt = 0; attempt < 6; ++attempt, ridge *= 100) {
    A = A0;
    b = b0;
    for (size_t j = 0; j < n; ++j) A[j * n + j] += ridge;
    if (cholesky_solve(A.data(), b.data(), n)) return;
  }
  std::fill(b.begin(), b.end(), 0.0);
}

/** G = Σ rows yᵀy (f×f), summed in a fixed order for a given thread count. */
void gram(const Kernels& K, const float* Y, size_t rows, size_t f, float* G, int threads) {
  size_t t = static_cast<size_t>(std::max(1, threads));
  std::vector<double> part(t * f * f, 0.0);
  parallel_for(threads, rows, [&](int tid, size_t b, size_t e) {
    std::vector<float> blk(f * f);
    double* acc = part.data() + static_cast<size_t>(tid) * f * f;
    for (size_t i0 = b; i0 < e; i0 += 1024) {
      std::fill(blk.begin(), blk.end(), 0.0f);
      size_t i1 = std::min(e, i0 + 1024);
      for (size_t i = i0; i < i1; ++i) {
        const float* y = Y + i * f;
        for (size_t j = 0; j < f; ++j)
          if (y[j] != 0.0f) K.axpy(y[j], y, blk.data() + j * f, f);
      }
      for (size_t q = 0; q < f * f; ++q) acc[q] += blk[q];
    }
  });
  for (size_t q = 0; q < f * f; ++q) {
    double s = 0;
    for (size_t th = 0; th < t; ++th) s += part[th * f * f + q];
    G[q] = static_cast<float>(s);
  }
}

void init_normal(float* v, size_t n, double scale, uint64_t seed) {
  Rng r(seed);
  for (size_t i = 0; i < n; ++i) v[i] = static_cast<float>(r.normal() * scale);
}

// ---- explicit biased MF ---------------------------------------------------------------------

/**
 * One half-step: for every row, solve for [factors, bias] given the other side's factors and
 * biases: target r − μ − other_bias, regularisation reg·n on factors and bias_reg on the bias.
 */
void explicit_half(const Csr& M, const float* other, const float* other_bias, float mu, size_t f, double reg,
                   double bias_reg, float* factors, float* bias, int threads, const RunContext& ctx) {
  const size_t m = f + 1;
  parallel_dynamic(threads, M.rows, 16, [&](int, size_t b, size_t e) {
    std::vector<double> A(m * m), rhs(m), z(m);
    for (size_t u = b; u < e; ++u) {
      int64_t s0 = M.indptr[u], s1 = M.indptr[u + 1];
      float* x = factors + u * f;
      if (s0 == s1) {
        std::fill(x, x + f, 0.0f);
        bias[u] = 0.0f;
        continue;
      }
      std::fill(A.begin(), A.end(), 0.0);
      std::fill(rhs.begin(), rhs.end(), 0.0);
      for (int64_t k = s0; k < s1; ++k) {
        size_t i = static_cast<size_t>(M.indices[static_cast<size_t>(k)]);
        const float* y = other + i * f;
        for (size_t j = 0; j < f; ++j) z[j] = y[j];
        z[f] = 1.0;
        double t = static_cast<double>(M.data[static_cast<size_t>(k)]) - mu - other_bias[i];
        for (size_t r = 0; r < m; ++r) {
          double zr = z[r];
          rhs[r] += t * zr;
          double* Ar = A.data() + r * m;
          for (size_t c = r; c < m; ++c) Ar[c] += zr * z[c];  // upper triangle
        }
      }
      double n = static_cast<double>(s1 - s0);
      for (size_t r = 0; r < m; ++r)
        for (size_t c = 0; c < r; ++c) A[r * m + c] = A[c * m + r];
      for (size_t j = 0; j < f; ++j) A[j * m + j] += reg * n;
      A[f * m + f] += bias_reg;
      solve_spd(A, rhs, m);
      for (size_t j = 0; j < f; ++j) x[j] = static_cast<float>(rhs[j]);
      bias[u] = static_cast<float>(rhs[f]);
    }
  });
  ctx.check_cancel();
}

}  // namespace

void train_explicit(const Kernels& K, const Csr& R, const Csr& Rt, const ExplicitParams& p, ExplicitOutput& out,
                    const RunContext& ctx) {
  const size_t f = p.factors, nu = R.rows, ni = R.cols;
  if (f == 0) throw_range("factors must be ≥ 1");
  if (R.nnz() == 0) throw_range("there are no ratings");
  double sum = 0;
  for (float v : R.data) sum += v;
  const float mu = static_cast<float>(sum / static_cast<double>(R.nnz()));
  out.global_mean = mu;
  init_normal(out.user_factors, nu * f, p.init_std, derive_seed(p.seed, 1));
  init_normal(out.item_factors, ni * f, p.init_std, derive_seed(p.seed, 2));
  std::fill(out.user_bias, out.user_bias + nu, 0.0f);
  std::fill(out.item_bias, out.item_bias + ni, 0.0f);
  const int threads = ctx.threads;
  const size_t t = static_cast<size_t>(std::max(1, threads));
  for (int it = 0; it < p.iterations; ++it) {
    ctx.check_cancel();
    explicit_half(R, out.item_factors, out.item_bias, mu, f, p.reg, p.bias_reg, out.user_factors, out.user_bias,
                  threads, ctx);
    explicit_half(Rt, out.user_factors, out.user_bias, mu, f, p.reg, p.bias_reg, out.item_factors, out.item_bias,
                  threads, ctx);
    // Loss: Σ (r − r̂)² + reg·Σ n_u‖x_u‖² + reg·Σ n_i‖y_i‖² + bias_reg·(Σ b_u² + Σ b_i²), over nnz.
    std::vector<double> se(t, 0.0), pen(t, 0.0);
    parallel_for(threads, nu, [&](int tid, size_t b, size_t e) {
      double s = 0, q = 0;
      for (size_t u = b; u < e; ++u) {
        const float* x = out.user_factors + u * f;
        int64_t s0 = R.indptr[u], s1 = R.indptr[u + 1];
        for (int64_t k = s0; k < s1; ++k) {
          size_t i = static_cast<size_t>(R.indices[static_cast<size_t>(k)]);
          double pred = mu + out.user_bias[u] + out.item_bias[i] + K.dot(x, out.item_factors + i * f, f);
          double err = R.data[static_cast<size_t>(k)] - pred;
          s += err * err;
        }
        q += p.reg * static_cast<double>(s1 - s0) * K.dot(x, x, f) + p.bias_reg * out.user_bias[u] * out.user_bias[u];
      }
      se[static_cast<size_t>(tid)] = s;
      pen[static_cast<size_t>(tid)] = q;
    });
    double total_se = 0, total_pen = 0;
    for (size_t th = 0; th < t; ++th) {
      total_se += se[th];
      total_pen += pen[th];
    }
    for (size_t i = 0; i < ni; ++i) {
      const float* y = out.item_factors + i * f;
      double n = static_cast<double>(Rt.indptr[i + 1] - Rt.indptr[i]);
      total_pen += p.reg * n * K.dot(y, y, f) + p.bias_reg * out.item_bias[i] * out.item_bias[i];
    }
    double nnz = static_cast<double>(R.nnz());
    double rmse = std::sqrt(total_se / nnz);
    out.loss.push_back((total_se + total_pen) / nnz);
    out.rmse.push_back(rmse);
    ctx.report("mf", it + 1, p.iterations, rmse);
  }
}

// ---- implicit ALS -------------------------------------------------------------------------

namespace {

/** Whether λ depends on the row's interaction count (see ImplicitParams::reg_exponent). */
bool reg_scaled(const ImplicitParams& p) { return p.reg_exponent != 0.0; }

/** λ of a row with n interactions: λ·(n + offset)^ν (λ itself when ν = 0). */
double row_reg(const ImplicitParams& p, size_t n) {
  return p.reg * std::pow(static_cast<double>(n) + p.reg_offset, p.reg_exponent);
}

/**
 * Solves every row of X given Y: (YᵀY + reg·I + Σ (c−1) y yᵀ) x = Σ c y, c = 1 + alpha·value,
 * by `cg_steps` of conjugate gradient warm-started from X (or exactly by Cholesky).
 */
void implicit_half(const Kernels& K, const Csr& M, const float* Y, size_t ny, size_t f, const ImplicitParams& p,
                   float* X, int threads, const RunContext& ctx) {
  std::vector<float> G(f * f);
  gram(K, Y, ny, f, G.data(), threads);
  // A constant λ goes into the shared G once; a frequency-scaled one differs per row, so G stays
  // YᵀY and each row adds its own λ·x (the ν = 0 path is unchanged, bit for bit).
  const bool scaled = reg_scaled(p);
  if (!scaled)
    for (size_t j = 0; j < f; ++j) G[j * f + j] += static_cast<float>(p.reg);
  const float alpha = static_cast<float>(p.alpha);

  // The CUDA solver takes one shared G (constant λ), so scaled λ always runs on the CPU.
  if (p.use_gpu && !p.cholesky && !scaled) {
    if (const GpuApi* gpu = gpu_api()) {
      std::vector<float> conf(M.nnz());
      for (size_t k = 0; k < conf.size(); ++k) conf[k] = 1.0f + alpha * M.data[k];
      if (gpu->implicit_cg(M.indptr.data(), M.indices.data(), conf.data(), M.rows, Y, ny, G.data(), f, p.cg_steps,
                           X) == 0)
        return;
    }
  }

  parallel_dynamic(threads, M.rows, 64, [&](int, size_t b, size_t e) {
    std::vector<float> r(f), pv(f), Ap(f), w;
    std::vector<double> A, rhs;
    for (size_t u = b; u < e; ++u) {
      if (((u - b) & 1023) == 0) ctx.check_cancel();
      int64_t s0 = M.indptr[u], s1 = M.indptr[u + 1];
      float* x = X + u * f;
      size_t nnz = static_cast<size_t>(s1 - s0);
      if (nnz == 0) {
        std::fill(x, x + f, 0.0f);
        continue;
      }
      const int32_t* idx = M.indices.data() + s0;
      const float* val = M.data.data() + s0;
      const double extra = scaled ? row_reg(p, nnz) : 0.0;  // this row's λ when not already in G
      if (p.cholesky) {
        A.assign(f * f, 0.0);
        rhs.assign(f, 0.0);
        for (size_t q = 0; q < f * f; ++q) A[q] = G[q];
        for (size_t j = 0; j < f; ++j) A[j * f + j] += extra;
        for (size_t k = 0; k < nnz; ++k) {
          const float* y = Y + static_cast<size_t>(idx[k]) * f;
          double cm1 = static_cast<double>(alpha) * val[k];
          for (size_t i = 0; i < f; ++i) {
            rhs[i] += (1.0 + cm1) * y[i];
            double ci = cm1 * y[i];
            for (size_t j = 0; j < f; ++j) A[i * f + j] += ci * y[j];
          }
        }
        solve_spd(A, rhs, f);
        for (size_t i = 0; i < f; ++i) x[i] = static_cast<float>(rhs[i]);
        continue;
      }
      w.resize(nnz);
      for (size_t k = 0; k < nnz; ++k) w[k] = alpha * val[k];
      // r = b − A x = −G x − extra·x + Σ (c − (c−1)(y·x)) y
      const float ex = static_cast<float>(extra);
      std::fill(r.begin(), r.end(), 0.0f);
      for (size_t j = 0; j < f; ++j) K.axpy(-x[j], G.data() + j * f, r.data(), f);
      if (scaled) K.axpy(-ex, x, r.data(), f);
      for (size_t k = 0; k < nnz; ++k) {
        const float* y = Y + static_cast<size_t>(idx[k]) * f;
        float c = 1.0f + w[k];
        K.axpy(c - w[k] * K.dot(y, x, f), y, r.data(), f);
      }
      pv = r;
      float rsold = K.dot(r.data(), r.data(), f);
      for (int it = 0; it < p.cg_steps; ++it) {
        if (!(rsold > 1e-20f)) break;
        K.implicit_matvec(G.data(), Y, idx, w.data(), nnz, f, pv.data(), Ap.data());
        if (scaled) K.axpy(ex, pv.data(), Ap.data(), f);
        float pap = K.dot(pv.data(), Ap.data(), f);
        if (!(pap > 0)) break;
        float a = rsold / pap;
        K.axpy(a, pv.data(), x, f);
        K.axpy(-a, Ap.data(), r.data(), f);
        float rsnew = K.dot(r.data(), r.data(), f);
        float beta = rsnew / rsold;
        for (size_t j = 0; j < f; ++j) pv[j] = r[j] + beta * pv[j];
        rsold = rsnew;
      }
    }
  });
  ctx.check_cancel();
}

double implicit_loss(const Kernels& K, const Csr& C, const float* X, const float* Y, size_t f, const ImplicitParams& p,
                     int threads) {
  const size_t nu = C.rows, ni = C.cols;
  std::vector<float> G(f * f);
  gram(K, Y, ni, f, G.data(), threads);
  const size_t t = static_cast<size_t>(std::max(1, threads));
  std::vector<double> part(t, 0.0), conf_total(t, 0.0);
  parallel_for(threads, nu, [&](int tid, size_t b, size_t e) {
    std::vector<float> gx(f);
    double s = 0, ct = 0;
    for (size_t u = b; u < e; ++u) {
      const float* x = X + u * f;
      std::fill(gx.begin(), gx.end(), 0.0f);
      for (size_t j = 0; j < f; ++j) K.axpy(x[j], G.data() + j * f, gx.data(), f);
      s += K.dot(gx.data(), x, f);  // Σ over all items of (x·y)² with weight 1 and preference 0
      for (int64_t k = C.indptr[u]; k < C.indptr[u + 1]; ++k) {
        const float* y = Y + static_cast<size_t>(C.indices[static_cast<size_t>(k)]) * f;
        double c = 1.0 + p.alpha * C.data[static_cast<size_t>(k)];
        double sc = K.dot(x, y, f);
        s += c * (1.0 - sc) * (1.0 - sc) - sc * sc;
        ct += c;
      }
      s += row_reg(p, static_cast<size_t>(C.indptr[u + 1] - C.indptr[u])) * K.dot(x, x, f);
    }
    part[static_cast<size_t>(tid)] = s;
    conf_total[static_cast<size_t>(tid)] = ct;
  });
  double loss = 0, ctot = 0;
  for (size_t th = 0; th < t; ++th) {
    loss += part[th];
    ctot += conf_total[th];
  }
  std::vector<size_t> item_count(ni, 0);
  if (reg_scaled(p))
    for (int32_t i : C.indices) ++item_count[static_cast<size_t>(i)];
  for (size_t i = 0; i < ni; ++i) loss += row_reg(p, item_count[i]) * K.dot(Y + i * f, Y + i * f, f);
  double norm = static_cast<double>(nu) * static_cast<double>(ni) - static_cast<double>(C.nnz()) + ctot;
  return norm > 0 ? loss / norm : loss;
}

}  // namespace

void train_implicit(const Kernels& K, const Csr& C, const Csr& Ct, const ImplicitParams& p, ImplicitOutput& out,
                    const RunContext& ctx) {
  const size_t f = p.factors, nu = C.rows, ni = C.cols;
  if (f == 0) throw_range("factors must be ≥ 1");
  if (p.cg_steps < 1 && !p.cholesky) throw_range("cgSteps must be ≥ 1");
  if (!(p.reg_exponent >= 0.0 && p.reg_exponent <= 2.0)) throw_range("regularizationExponent must be in [0, 2]");
  if (!(p.reg_offset >= 0.0 && std::isfinite(p.reg_offset))) throw_range("regularizationOffset must be finite and ≥ 0");
  if (!p.warm_start) {
    init_normal(out.user_factors, nu * f, p.init_scale, derive_seed(p.seed, 1));
    init_normal(out.item_factors, ni * f, p.init_scale, derive_seed(p.seed, 2));
  }
  for (int it = 0; it < p.iterations; ++it) {
    ctx.check_cancel();
    auto t0 = Clock::now();
    implicit_half(K, C, out.item_factors, ni, f, p, out.user_factors, ctx.threads, ctx);
    implicit_half(K, Ct, out.user_factors, nu, f, p, out.item_factors, ctx.threads, ctx);
    out.seconds.push_back(std::chrono::duration<double>(Clock::now() - t0).count());
    double value = std::numeric_limits<double>::quiet_NaN();
    if (p.compute_loss) {
      value = implicit_loss(K, C, out.user_factors, out.item_factors, f, p, ctx.threads);
      out.loss.push_back(value);
    }
    ctx.report("als", it + 1, p.iterations, value);
  }
}

}  // namespace clientele

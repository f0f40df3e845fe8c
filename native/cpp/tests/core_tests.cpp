// Core tests (no Node): kernels and solvers against straightforward references. Run under
// AddressSanitizer + UndefinedBehaviorSanitizer by `npm run test:sanitize` in native/.
#include <algorithm>
#include <cstring>
#include <limits>

#include "../core/common.h"
#include "../core/cpu.h"
#include "../core/kernels.h"
#include "../core/checksum.h"
#include "../core/factorization.h"
#include "../core/kmeans.h"
#include "../core/scoring.h"
#include "../core/sparse.h"
#include "test_main.h"

using namespace clientele;

static std::vector<const Kernels*> all_kernels() {
  std::vector<const Kernels*> ks{&portable_kernels()};
  CpuInfo c = detect_cpu();
  if (c.avx2 && c.fma) ks.push_back(&select_kernels(KernelChoice::Avx2));
  return ks;
}

static std::vector<float> random_vec(size_t n, uint64_t seed) {
  Rng r(seed);
  std::vector<float> v(n);
  for (auto& x : v) x = static_cast<float>(r.uniform() * 2 - 1);
  return v;
}

TEST(dot_batch_matches_reference) {
  for (const Kernels* K : all_kernels()) {
    for (size_t d : {1, 3, 8, 17, 64}) {
      size_t nq = 3, rows = 101;
      auto q = random_vec(nq * d, 1), m = random_vec(rows * d, 2);
      std::vector<float> out(nq * rows);
      RunContext ctx;
      ctx.threads = 2;
      dot_batch(*K, q.data(), nq, m.data(), rows, d, out.data(), ctx);
      for (size_t a = 0; a < nq; ++a)
        for (size_t j = 0; j < rows; ++j) {
          double s = 0;
          for (size_t p = 0; p < d; ++p) s += double(q[a * d + p]) * m[j * d + p];
          CHECK_NEAR(out[a * rows + j], s, 1e-5 * (1 + d));
        }
    }
  }
}

TEST(kernel_choice_parsing) {
  CHECK(parse_kernel_choice("auto", "k") == KernelChoice::Auto);
  CHECK_THROWS(parse_kernel_choice("sse", "k"));
}

// ---- kernels: every implementation against a plain reference ---------------------------------

static void pack_centroids(const std::vector<float>& C, size_t k, size_t d, std::vector<float>& packed,
                           std::vector<float>& cnorm, size_t& npanels) {
  npanels = (k + kPanel - 1) / kPanel;
  packed.assign(npanels * d * kPanel, 0.0f);
  cnorm.assign(npanels * kPanel, std::numeric_limits<float>::infinity());
  for (size_t j = 0; j < k; ++j) {
    double s = 0;
    for (size_t p = 0; p < d; ++p) {
      packed[((j / kPanel) * d + p) * kPanel + j % kPanel] = C[j * d + p];
      s += double(C[j * d + p]) * C[j * d + p];
    }
    cnorm[j] = float(s);
  }
}

TEST(assign_rows_matches_reference) {
  for (const Kernels* K : all_kernels())
    for (size_t d : {1, 7, 32, 300})
      for (size_t k : {1, 5, 16, 33}) {
        size_t n = 29;
        auto X = random_vec(n * d, 3), C = random_vec(k * d, 4);
        std::vector<float> packed, cnorm;
        size_t np;
        pack_centroids(C, k, d, packed, cnorm, np);
        // aligned copy for the AVX2 aligned loads
        AlignedFloats pk(packed.size());
        std::memcpy(pk.data, packed.data(), packed.size() * sizeof(float));
        std::vector<int32_t> labels(n);
        std::vector<float> best(n);
        size_t nb = (n + kAssignRows - 1) / kAssignRows;
        AlignedFloats Xp(nb * kAssignRows * d);
        pack_row_blocks(X.data(), n, d, 0, nb, Xp.data, kAssignRows);
        std::vector<float> sums(k * d, 0.0f);
        std::vector<int64_t> counts(k, 0);
        K->assign_rows(Xp.data, n, d, pk.data, cnorm.data(), np, labels.data(), best.data(), X.data(), sums.data(), counts.data());
        int64_t total = 0;
        for (int64_t c : counts) total += c;
        CHECK(total == int64_t(n));
        std::vector<double> ref(k * d, 0.0);
        for (size_t i = 0; i < n; ++i)
          for (size_t p = 0; p < d; ++p) ref[size_t(labels[i]) * d + p] += X[i * d + p];
        for (size_t q = 0; q < k * d; ++q) CHECK_NEAR(sums[q], ref[q], 1e-4 * (1 + std::fabs(ref[q])));
        for (size_t i = 0; i < n; ++i) {
          CHECK(labels[i] >= 0 && size_t(labels[i]) < k);
          double bd = 1e300;
          for (size_t j = 0; j < k; ++j) {
            double s = 0;
            for (size_t p = 0; p < d; ++p) s += double(cnorm[j]) * 0 + (double(X[i * d + p]) - C[j * d + p]) * (double(X[i * d + p]) - C[j * d + p]);
            bd = std::min(bd, s);
          }
          double mine = 0;
          for (size_t p = 0; p < d; ++p) {
            double t = double(X[i * d + p]) - C[size_t(labels[i]) * d + p];
            mine += t * t;
          }
          CHECK(mine <= bd + 1e-3 * (1 + bd));
        }
      }
}

TEST(dots_panel8_and_matvec_match_reference) {
  for (const Kernels* K : all_kernels())
    for (size_t d : {1, 9, 64}) {
      size_t n = 27;
      auto X = random_vec(n * d, 5), P = random_vec(d * kPanel8, 6);
      AlignedFloats panel(P.size());
      std::memcpy(panel.data, P.data(), P.size() * sizeof(float));
      size_t nb = (n + kPackRows - 1) / kPackRows;
      AlignedFloats Xp(nb * kPackRows * d);
      pack_row_blocks(X.data(), n, d, 0, nb, Xp.data);
      std::vector<float> out(n * kPanel8);
      K->dots_panel8(Xp.data, n, d, panel.data, out.data());
      for (size_t i = 0; i < n; ++i)
        for (size_t c = 0; c < kPanel8; ++c) {
          double s = 0;
          for (size_t p = 0; p < d; ++p) s += double(X[i * d + p]) * P[p * kPanel8 + c];
          CHECK_NEAR(out[i * kPanel8 + c], s, 1e-4 * (1 + d));
        }
      // implicit_matvec: out = A p + Σ w (y·p) y
      size_t f = d;
      auto A = random_vec(f * f, 7);
      for (size_t i = 0; i < f; ++i)
        for (size_t j = 0; j < i; ++j) A[i * f + j] = A[j * f + i];
      auto Y = random_vec(10 * f, 8), p = random_vec(f, 9);
      std::vector<int32_t> idx{3, 0, 9, 3};
      std::vector<float> w{0.5f, 2.0f, 1.0f, 0.25f}, mv(f);
      K->implicit_matvec(A.data(), Y.data(), idx.data(), w.data(), idx.size(), f, p.data(), mv.data());
      for (size_t i = 0; i < f; ++i) {
        double s = 0;
        for (size_t j = 0; j < f; ++j) s += double(A[i * f + j]) * p[j];
        for (size_t k = 0; k < idx.size(); ++k) {
          double yp = 0;
          for (size_t j = 0; j < f; ++j) yp += double(Y[idx[k] * f + j]) * p[j];
          s += w[k] * yp * Y[idx[k] * f + i];
        }
        CHECK_NEAR(mv[i], s, 1e-4 * (1 + f));
      }
    }
}

// ---- sparse -----------------------------------------------------------------------------------

TEST(csr_build_transpose_duplicates) {
  std::vector<int32_t> r{2, 0, 2, 1, 0, 2}, c{1, 3, 0, 2, 3, 1};
  std::vector<float> v{1, 2, 3, 4, 5, 6};
  Csr m = build_csr(r.data(), c.data(), v.data(), r.size(), 4, 4, Duplicates::Sum);
  CHECK(m.indptr == (std::vector<int64_t>{0, 1, 2, 4, 4}));
  CHECK(m.indices == (std::vector<int32_t>{3, 2, 0, 1}));
  CHECK(m.data == (std::vector<float>{7, 4, 3, 7}));
  Csr t = transpose(m);
  CHECK(t.indptr == (std::vector<int64_t>{0, 1, 2, 3, 4}));
  CHECK(t.indices == (std::vector<int32_t>{2, 2, 1, 0}));
  CHECK_THROWS(build_csr(r.data(), c.data(), v.data(), r.size(), 4, 4, Duplicates::Reject));
  std::vector<int32_t> bad{7};
  CHECK_THROWS(build_csr(bad.data(), c.data(), nullptr, 1, 4, 4, Duplicates::Sum));
  Csr empty = build_csr(nullptr, nullptr, nullptr, 0, 3, 0, Duplicates::Sum);
  CHECK(empty.indptr.size() == 4 && empty.nnz() == 0);
}

// ---- k-means ----------------------------------------------------------------------------------

static std::vector<float> blobs(size_t n, size_t d, size_t k, uint64_t seed, std::vector<int32_t>& truth) {
  Rng r(seed);
  std::vector<float> C(k * d), X(n * d);
  for (auto& c : C) c = float((r.uniform() * 2 - 1) * 10);
  truth.resize(n);
  for (size_t i = 0; i < n; ++i) {
    truth[i] = int32_t(i % k);
    for (size_t p = 0; p < d; ++p) X[i * d + p] = C[(i % k) * d + p] + float(r.normal() * 0.2);
  }
  return X;
}

TEST(kmeans_recovers_blobs_all_kernels_and_threads) {
  std::vector<int32_t> truth;
  size_t n = 3000, d = 6, k = 7;
  auto X = blobs(n, d, k, 11, truth);
  for (const Kernels* K : all_kernels())
    for (int threads : {1, 3}) {
      RunContext ctx;
      ctx.threads = threads;
      KmeansParams p;
      p.k = k;
      p.n_init = 3;
      p.seed = 5;
      std::vector<int32_t> labels(n);
      std::vector<float> C(k * d);
      KmeansResult r = kmeans(*K, X.data(), n, d, p, labels.data(), C.data(), ctx);
      // Every planted cluster maps to exactly one label.
      std::vector<int32_t> map(k, -1);
      bool consistent = true;
      for (size_t i = 0; i < n; ++i) {
        int32_t& m = map[size_t(truth[i])];
        if (m == -1) m = labels[i];
        consistent = consistent && m == labels[i];
      }
      CHECK(consistent);
      for (size_t h = 1; h < r.history.size(); ++h) CHECK(r.history[h] <= r.history[h - 1] * (1 + 1e-6));
      CHECK(r.inertia < double(n) * d * 0.05);
    }
}

TEST(kmeans_edge_cases) {
  const Kernels& K = portable_kernels();
  RunContext ctx;
  std::vector<float> X{1, 1, 1, 1, 1, 1};  // 6 identical 1-D points
  std::vector<int32_t> labels(6);
  std::vector<float> C(6);
  KmeansParams p;
  p.k = 6;
  KmeansResult r = kmeans(K, X.data(), 6, 1, p, labels.data(), C.data(), ctx);
  CHECK(r.inertia == 0);
  for (int32_t l : labels) CHECK(l >= 0 && l < 6);
  p.k = 7;
  CHECK_THROWS(kmeans(K, X.data(), 6, 1, p, labels.data(), C.data(), ctx));
  p.k = 0;
  CHECK_THROWS(kmeans(K, X.data(), 6, 1, p, labels.data(), C.data(), ctx));
  // Cancellation between iterations.
  int32_t flag = 1;
  ctx.cancel_flag = &flag;
  p.k = 2;
  bool cancelled = false;
  try {
    kmeans(K, X.data(), 6, 1, p, labels.data(), C.data(), ctx);
  } catch (const Cancelled&) {
    cancelled = true;
  }
  CHECK(cancelled);
}

TEST(kmeans_plusplus_picks_distinct_points_and_is_deterministic) {
  std::vector<int32_t> truth;
  size_t n = 500, d = 3, k = 5;
  auto X = blobs(n, d, k, 2, truth);
  for (const Kernels* K : all_kernels()) {
    RunContext ctx;
    ctx.threads = 2;
    std::vector<float> A(k * d), B(k * d);
    kmeans_plusplus(*K, X.data(), n, d, k, 0, 9, A.data(), ctx);
    kmeans_plusplus(*K, X.data(), n, d, k, 0, 9, B.data(), ctx);
    CHECK(A == B);
    // With well separated blobs the greedy seeding lands one centre per blob.
    std::vector<int32_t> lab(k);
    std::vector<float> dist(k);
    std::vector<int> hit(k, 0);
    for (size_t j = 0; j < k; ++j) {
      size_t nearest = 0;
      double bd = 1e300;
      for (size_t i = 0; i < n; ++i) {
        double s = 0;
        for (size_t p = 0; p < d; ++p) s += (double(X[i * d + p]) - A[j * d + p]) * (double(X[i * d + p]) - A[j * d + p]);
        if (s < bd) {
          bd = s;
          nearest = i;
        }
      }
      hit[size_t(truth[nearest])]++;
    }
    for (int h : hit) CHECK(h == 1);
  }
}

TEST(silhouette_reference) {
  std::vector<float> X{0, 0, 0, 1, 10, 10, 10, 11};
  std::vector<int32_t> L{0, 0, 1, 1};
  RunContext ctx;
  double s = silhouette(portable_kernels(), X.data(), 4, 2, L.data(), 2, 0, 1, ctx);
  // Reference by hand: a = 1 for every point; b = mean distance to the other pair.
  double b0 = (std::sqrt(200.0) + std::sqrt(221.0)) / 2, b1 = (std::sqrt(181.0) + std::sqrt(200.0)) / 2;
  double expect = ((b0 - 1) / b0 + (b1 - 1) / b1 + (b1 - 1) / b1 + (b0 - 1) / b0) / 4;
  CHECK_NEAR(s, expect, 1e-5);
  std::vector<int32_t> bad{0, 5, 0, 0};
  CHECK_THROWS(silhouette(portable_kernels(), X.data(), 4, 2, bad.data(), 2, 0, 1, ctx));
}

// ---- factorization --------------------------------------------------------------------------

TEST(explicit_mf_fits_planted_model) {
  size_t nu = 60, ni = 50, rank = 2;
  Rng r(3);
  std::vector<double> U(nu * rank), V(ni * rank);
  for (auto& x : U) x = r.normal();
  for (auto& x : V) x = r.normal();
  std::vector<int32_t> us, is;
  std::vector<float> vs;
  for (size_t u = 0; u < nu; ++u)
    for (size_t i = 0; i < ni; ++i)
      if (r.uniform() < 0.5) {
        double s = 3;
        for (size_t p = 0; p < rank; ++p) s += U[u * rank + p] * V[i * rank + p];
        us.push_back(int32_t(u));
        is.push_back(int32_t(i));
        vs.push_back(float(s + r.normal() * 0.05));
      }
  Csr R = build_csr(us.data(), is.data(), vs.data(), us.size(), nu + 1, ni, Duplicates::Reject);  // one empty user
  Csr Rt = transpose(R);
  for (const Kernels* K : all_kernels()) {
    std::vector<float> uf((nu + 1) * rank), itf(ni * rank), ub(nu + 1), ib(ni);
    ExplicitOutput out{};
    out.user_factors = uf.data();
    out.item_factors = itf.data();
    out.user_bias = ub.data();
    out.item_bias = ib.data();
    ExplicitParams p;
    p.factors = rank;
    p.iterations = 25;
    p.reg = 0.001;
    p.bias_reg = 0.01;
    RunContext ctx;
    ctx.threads = 2;
    train_explicit(*K, R, Rt, p, out, ctx);
    CHECK(out.rmse.back() < 0.08);
    CHECK(ub[nu] == 0.0f);
  }
}

TEST(implicit_als_cg_and_cholesky) {
  size_t nu = 80, ni = 40;
  Rng r(4);
  std::vector<int32_t> us, is;
  std::vector<float> vs;
  for (size_t u = 0; u < nu; ++u)
    for (int t = 0; t < 8; ++t) {
      size_t g = u % 4;
      us.push_back(int32_t(u));
      is.push_back(int32_t(g * 10 + r.below(10)));
      vs.push_back(float(1 + r.below(3)));
    }
  Csr C = build_csr(us.data(), is.data(), vs.data(), us.size(), nu, ni, Duplicates::Sum);
  Csr Ct = transpose(C);
  double losses[2];
  for (int solver = 0; solver < 2; ++solver)
    for (const Kernels* K : all_kernels()) {
      std::vector<float> X(nu * 6), Y(ni * 6);
      ImplicitOutput out{};
      out.user_factors = X.data();
      out.item_factors = Y.data();
      ImplicitParams p;
      p.factors = 6;
      p.iterations = 6;
      p.reg = 0.1;
      p.alpha = 5;
      p.cg_steps = 6;
      p.cholesky = solver == 1;
      p.compute_loss = true;
      RunContext ctx;
      ctx.threads = 2;
      train_implicit(*K, C, Ct, p, out, ctx);
      CHECK(out.loss.size() == 6);
      CHECK(out.loss.back() <= out.loss.front());
      losses[solver] = out.loss.back();
      // A user's in-group items outscore out-of-group items on average.
      double in = 0, outg = 0;
      for (size_t u = 0; u < nu; ++u)
        for (size_t i = 0; i < ni; ++i) {
          double s = 0;
          for (size_t q = 0; q < 6; ++q) s += double(X[u * 6 + q]) * Y[i * 6 + q];
          (i / 10 == u % 4 ? in : outg) += s;
        }
      CHECK(in / (nu * 10) > outg / (nu * 30) + 0.2);
    }
  CHECK(std::fabs(losses[0] - losses[1]) / losses[1] < 0.05);
}

TEST(implicit_als_frequency_scaled_regularisation) {
  // Users of different activity (1..12 items), so rows get different λ·(n + offset)^ν.
  size_t nu = 30, ni = 20, f = 4;
  Rng r(7);
  std::vector<int32_t> us, is;
  for (size_t u = 0; u < nu; ++u)
    for (size_t t = 0; t < 1 + u % 12; ++t) {
      us.push_back(int32_t(u));
      is.push_back(int32_t((u + t * 3) % ni));
    }
  Csr C = build_csr(us.data(), is.data(), nullptr, us.size(), nu, ni, Duplicates::Sum);
  Csr Ct = transpose(C);
  auto train = [&](double exponent, double offset, bool cholesky, std::vector<float>& X, std::vector<float>& Y) {
    X.assign(nu * f, 0.0f);
    Y.assign(ni * f, 0.0f);
    ImplicitOutput out{};
    out.user_factors = X.data();
    out.item_factors = Y.data();
    ImplicitParams p;
    p.factors = f;
    p.iterations = 4;
    p.reg = 0.2;
    p.reg_exponent = exponent;
    p.reg_offset = offset;
    p.alpha = 3;
    p.cg_steps = 4;
    p.cholesky = cholesky;
    RunContext ctx;
    ctx.threads = 1;
    train_implicit(*all_kernels()[0], C, Ct, p, out, ctx);
  };
  for (int chol = 0; chol < 2; ++chol) {
    std::vector<float> X0, Y0, X1, Y1;
    train(0.0, 0.0, chol == 1, X0, Y0);
    train(0.0, 25.0, chol == 1, X1, Y1);
    CHECK(X0 == X1 && Y0 == Y1);  // ν = 0: the plain solver, whatever the offset
    train(1.0, 2.0, chol == 1, X1, Y1);
    CHECK(X0 != X1);
  }
  // Exact solve: the items (solved last) meet their normal equations with λ_i = 0.2·(n_i + 2).
  std::vector<float> X, Y;
  train(1.0, 2.0, true, X, Y);
  double worst = 0;
  for (size_t i = 0; i < ni; ++i) {
    std::vector<double> A(f * f, 0.0), b(f, 0.0);
    for (size_t u = 0; u < nu; ++u)
      for (size_t a = 0; a < f; ++a)
        for (size_t c = 0; c < f; ++c) A[a * f + c] += double(X[u * f + a]) * X[u * f + c];
    size_t n = size_t(Ct.indptr[i + 1] - Ct.indptr[i]);
    if (n == 0) continue;
    for (int64_t k = Ct.indptr[i]; k < Ct.indptr[i + 1]; ++k) {
      size_t u = size_t(Ct.indices[size_t(k)]);
      double c = 1.0 + 3.0 * Ct.data[size_t(k)];
      for (size_t a = 0; a < f; ++a) {
        b[a] += c * X[u * f + a];
        for (size_t q = 0; q < f; ++q) A[a * f + q] += (c - 1) * X[u * f + a] * X[u * f + q];
      }
    }
    for (size_t a = 0; a < f; ++a) A[a * f + a] += 0.2 * (double(n) + 2.0);
    for (size_t a = 0; a < f; ++a) {
      double lhs = 0;
      for (size_t q = 0; q < f; ++q) lhs += A[a * f + q] * Y[i * f + q];
      worst = std::max(worst, std::fabs(lhs - b[a]) / (1.0 + std::fabs(b[a])));
    }
  }
  CHECK(worst < 1e-4);
}

TEST(cholesky_solves_and_rejects_non_spd) {
  double A[9] = {4, 2, 0, 2, 5, 1, 0, 1, 3}, b[3] = {2, 3, 4};
  CHECK(cholesky_solve(A, b, 3));
  // Check A x = b with the original matrix.
  double A0[9] = {4, 2, 0, 2, 5, 1, 0, 1, 3}, b0[3] = {2, 3, 4};
  for (int i = 0; i < 3; ++i) CHECK_NEAR(A0[i * 3] * b[0] + A0[i * 3 + 1] * b[1] + A0[i * 3 + 2] * b[2], b0[i], 1e-9);
  double N[4] = {1, 2, 2, 1}, c[2] = {1, 1};
  CHECK(!cholesky_solve(N, c, 2));
}

// ---- scoring and checksum -----------------------------------------------------------------------

TEST(top_k_matches_sort_and_parallel_agrees) {
  size_t rows = 20000, d = 12;
  auto M = random_vec(rows * d, 21), q = random_vec(d, 22);
  std::vector<int32_t> ex{3, 17, 19999};
  for (const Kernels* K : all_kernels()) {
    std::vector<std::pair<float, int32_t>> all;
    for (size_t j = 0; j < rows; ++j) {
      if (std::find(ex.begin(), ex.end(), int32_t(j)) != ex.end()) continue;
      all.push_back({K->dot(q.data(), M.data() + j * d, d), int32_t(j)});
    }
    std::sort(all.begin(), all.end(), [](auto& a, auto& b) { return a.first > b.first || (a.first == b.first && a.second < b.second); });
    std::vector<int32_t> i1(10), i2(10);
    std::vector<float> s1(10), s2(10);
    TopKQuery tq{q.data(), ex.data(), ex.size()};
    size_t n1 = top_k(*K, M.data(), rows, d, tq, nullptr, 0, nullptr, 10, i1.data(), s1.data());
    size_t n2 = top_k_parallel(*K, M.data(), rows, d, tq, 10, i2.data(), s2.data(), 3);
    CHECK(n1 == 10 && n2 == 10);
    for (size_t t = 0; t < 10; ++t) {
      CHECK(i1[t] == all[t].second);
      CHECK(i2[t] == i1[t]);
    }
    std::vector<int32_t> cand{5, 5, 100, 7};
    size_t n3 = top_k(*K, M.data(), rows, d, tq, cand.data(), cand.size(), nullptr, 10, i1.data(), s1.data());
    CHECK(n3 == 4);
  }
}

TEST(half_conversion_round_trips_and_half_top_k_is_exact) {
  for (uint32_t h = 0; h < 0x10000; ++h) {
    uint16_t v = uint16_t(h);
    if ((v & 0x7C00u) == 0x7C00u) continue;  // inf / NaN
    CHECK(float_to_half(half_to_float(v)) == v);
  }
  CHECK(half_to_float(float_to_half(1.0f)) == 1.0f);
  CHECK(float_to_half(1e6f) == 0x7C00u);
  CHECK_NEAR(half_to_float(float_to_half(0.1f)), 0.1, 1e-4);
  CHECK_NEAR(half_to_float(float_to_half(3e-6f)), 3e-6, 3e-8);
  size_t rows = 30005, d = 16;  // a partial last panel
  auto M = random_vec(rows * d, 31), q = random_vec(d, 32);
  for (size_t i = 0; i < 200; ++i) M[i * d] *= 1e-6f;  // some subnormal halves
  std::vector<uint16_t> H(half_panel_length(rows, d), 0xFFFF);
  CHECK(H.size() == 30008 * d);
  double mn = to_half(M.data(), rows, d, H.data());
  CHECK(mn > 0);
  // The panel layout: row j, dimension p at (j / 8)·d·8 + p·8 + j % 8; padding rows are zero.
  CHECK(H[(1234 / 8) * d * 8 + 5 * 8 + 1234 % 8] == float_to_half(M[1234 * d + 5]));
  CHECK(H[(30004 / 8) * d * 8 + 15 * 8 + 30004 % 8] == float_to_half(M[30004 * d + 15]));
  CHECK(H[(30007 / 8) * d * 8 + 3 * 8 + 30007 % 8] == 0);
  std::vector<int32_t> ex{1, 2};
  for (const Kernels* K : all_kernels())
    for (int threads : {1, 2}) {
      std::vector<int32_t> a(25), b(25);
      std::vector<float> sa(25), sb(25);
      TopKQuery tq{q.data(), ex.data(), ex.size()};
      size_t na = top_k(*K, M.data(), rows, d, tq, nullptr, 0, nullptr, 25, a.data(), sa.data());
      size_t nb = top_k_half(*K, M.data(), H.data(), rows, d, tq, float(mn), 25, b.data(), sb.data(), threads);
      CHECK(na == nb);
      for (size_t t = 0; t < na; ++t) CHECK_NEAR(sa[t], sb[t], 1e-5);
      for (size_t t = 0; t < na; ++t) CHECK(a[t] == b[t] || std::fabs(sa[t] - sa[t == 0 ? 0 : t - 1]) < 1e-5f);
    }
  std::vector<float> big{1e6f, 0.0f};
  std::vector<uint16_t> hb(2);
  CHECK(to_half(big.data(), 1, 2, hb.data()) < 0);
}

TEST(half_batch_scores_every_query_group_exactly) {
  // Batches of 1..9 queries (the AVX2 kernel takes them four at a time, then 3, 2 or 1), odd row
  // counts and dimensions, a null query and exclusions: the same results as the float32 batch.
  for (size_t rows : {size_t(1), size_t(7), size_t(9), size_t(17), size_t(9003)})
    for (size_t d : {size_t(1), size_t(3), size_t(64)}) {
      auto M = random_vec(rows * d, 40 + rows + d);
      std::vector<uint16_t> H(half_panel_length(rows, d));
      float mn = static_cast<float>(to_half(M.data(), rows, d, H.data()));
      for (size_t nq = 1; nq <= 9; ++nq) {
        auto Q = random_vec(nq * d, 50 + nq);
        std::vector<int32_t> ex{0, static_cast<int32_t>(rows / 2)};
        std::vector<TopKQuery> tq(nq);
        for (size_t i = 0; i < nq; ++i) tq[i] = TopKQuery{Q.data() + i * d, i % 2 ? ex.data() : nullptr, i % 2 ? ex.size() : 0};
        if (nq == 6) tq[2].query = nullptr;
        size_t k = 5;
        std::vector<int32_t> ia(nq * k), ib(nq * k), ca(nq), cb(nq);
        std::vector<float> sa(nq * k), sb(nq * k);
        for (const Kernels* K : all_kernels())
          for (int threads : {1, 2}) {
            RunContext ctx;
            ctx.threads = threads;
            top_k_batch(*K, M.data(), rows, d, tq.data(), nq, k, ia.data(), sa.data(), ca.data(), ctx);
            top_k_batch_half(*K, M.data(), H.data(), rows, d, tq.data(), nq, k, mn, ib.data(), sb.data(), cb.data(), ctx);
            for (size_t i = 0; i < nq; ++i) {
              CHECK(ca[i] == cb[i]);
              for (size_t t = 0; t < static_cast<size_t>(ca[i]); ++t) {
                CHECK_NEAR(sa[i * k + t], sb[i * k + t], 1e-5);
                // Near-ties may swap: the two paths sum in different orders.
                CHECK(ia[i * k + t] == ib[i * k + t] || std::fabs(sa[i * k + t] - sa[i * k + (t ? t - 1 : 1)]) < 1e-5f);
              }
            }
          }
      }
    }
}

/** The 8-bit scan kernels this machine can run: portable always, VNNI where present. */
static std::vector<DotRowsI8> all_i8_kernels() {
  std::vector<DotRowsI8> out{dot_rows_i8_portable};
  if (i8_scan_is_fast()) out.push_back(select_i8_kernel(KernelChoice::Auto));
  return out;
}

TEST(int8_copy_top_k_is_exact_for_every_kernel) {
  // Odd row counts (partial last panel) and dimensions (partial last group of 4), batches that
  // take every query group of the VNNI kernel, a null query, a zero query, a zero row, rows
  // with one large value (coarse scale), exclusions and ties: the same results as float32.
  for (size_t rows : {size_t(1), size_t(15), size_t(17), size_t(33), size_t(9011)})
    for (size_t d : {size_t(1), size_t(3), size_t(5), size_t(64)}) {
      auto M = random_vec(rows * d, 70 + rows + d);
      if (rows > 20) {
        for (size_t p = 0; p < d; ++p) M[7 * d + p] = 0;  // a zero row
        M[11 * d] = 40.0f;                                // a row on a coarse scale
        for (size_t p = 0; p < d; ++p) M[13 * d + p] = M[14 * d + p];  // a tie
      }
      if (rows > 1000) {
        // 600 rows a hair apart: their order is below the quantisation step, so only the
        // candidate margin and the float32 rescoring get it right (a zero margin fails here).
        auto noise = random_vec(600 * d, 7);
        for (size_t j = 0; j < 600; ++j)
          for (size_t p = 0; p < d; ++p) M[(300 + j) * d + p] = 3.0f * M[300 * d + p] + 1e-4f * noise[j * d + p];
      }
      std::vector<uint8_t> C(int8_copy_bytes(rows, d));
      float mn = static_cast<float>(make_int8_copy(M.data(), rows, d, C.data()));
      CHECK(mn > 0);
      Int8Copy view;
      std::string why;
      CHECK(read_int8_copy(C.data(), C.size(), rows, d, view, why));
      for (size_t nq = 1; nq <= 9; ++nq) {
        auto Q = random_vec(nq * d, 90 + nq);
        if (nq == 7)
          for (size_t p = 0; p < d; ++p) Q[3 * d + p] = 0;  // a zero query
        std::vector<int32_t> ex{0, static_cast<int32_t>(rows / 2)};
        std::vector<TopKQuery> tq(nq);
        for (size_t i = 0; i < nq; ++i) tq[i] = TopKQuery{Q.data() + i * d, i % 2 ? ex.data() : nullptr, i % 2 ? ex.size() : 0};
        if (nq == 6) tq[2].query = nullptr;
        const size_t k = 5;
        std::vector<int32_t> ia(nq * k), ib(nq * k), ca(nq), cb(nq);
        std::vector<float> sa(nq * k), sb(nq * k);
        for (const Kernels* K : all_kernels())
          for (DotRowsI8 scan : all_i8_kernels())
            for (int threads : {1, 2}) {
              RunContext ctx;
              ctx.threads = threads;
              top_k_batch(*K, M.data(), rows, d, tq.data(), nq, k, ia.data(), sa.data(), ca.data(), ctx);
              top_k_batch_i8(*K, scan, M.data(), view, rows, d, tq.data(), nq, k, mn, ib.data(), sb.data(), cb.data(), ctx);
              for (size_t i = 0; i < nq; ++i) {
                CHECK(ca[i] == cb[i]);
                for (size_t t = 0; t < static_cast<size_t>(ca[i]); ++t) {
                  CHECK_NEAR(sa[i * k + t], sb[i * k + t], 1e-5);
                  // Another item only where it scores the same within rounding (the two paths sum in different orders).
                  CHECK(ia[i * k + t] == ib[i * k + t] ||
                        std::fabs(K->dot(Q.data() + i * d, M.data() + static_cast<size_t>(ib[i * k + t]) * d, d) - sa[i * k + t]) < 1e-5f);
                }
              }
            }
      }
    }
}

TEST(int8_kernels_agree_bit_for_bit_and_copies_are_checked) {
  size_t rows = 1000, d = 37;
  auto M = random_vec(rows * d, 5);
  std::vector<uint8_t> C(int8_copy_bytes(rows, d));
  CHECK(make_int8_copy(M.data(), rows, d, C.data()) > 0);
  Int8Copy v;
  std::string why;
  CHECK(read_int8_copy(C.data(), C.size(), rows, d, v, why));
  // Another shape, length or a damaged header is refused, with what was expected.
  CHECK(!read_int8_copy(C.data(), C.size(), rows - 1, d, v, why));
  CHECK(!read_int8_copy(C.data(), C.size() - 1, rows, d, v, why));
  CHECK(why.find("length") != std::string::npos);
  std::vector<uint8_t> bad = C;
  bad[0] ^= 1;
  CHECK(!read_int8_copy(bad.data(), bad.size(), rows, d, v, why));
  std::vector<float> inf = M;
  inf[5] = std::numeric_limits<float>::infinity();
  CHECK(make_int8_copy(inf.data(), rows, d, C.data()) < 0);
  CHECK(make_int8_copy(M.data(), rows, kI8MaxDim + 1, C.data()) < 0);
  CHECK(make_int8_copy(M.data(), rows, d, C.data()) > 0);
  CHECK(read_int8_copy(C.data(), C.size(), rows, d, v, why));
  std::vector<uint8_t> q(i8_groups(d) * 4 * 3);
  for (size_t i = 0; i < q.size(); ++i) q[i] = static_cast<uint8_t>((i * 37) % 256);
  const uint8_t* qs[3] = {q.data(), q.data() + i8_groups(d) * 4, q.data() + 2 * i8_groups(d) * 4};
  float qscale[3] = {0.01f, 0.02f, 0.5f};
  std::vector<float> a(3 * 1008, -1), b(3 * 1008, -1);
  std::vector<uint16_t> ma(3 * 63, 0xAAAA), mb(3 * 63, 0x5555);
  const float floors[3] = {0.0f, -std::numeric_limits<float>::infinity(), 1e30f};
  for (DotRowsI8 scan : all_i8_kernels()) {
    const bool portable = scan == dot_rows_i8_portable;
    scan(qs, qscale, floors, 3, v.codes, v.sums, v.scales, rows, d, (portable ? a : b).data(), (portable ? ma : mb).data(), 1008);
  }
  // The masks say which rows reached each query's floor, and no row past `rows`.
  for (size_t q = 0; q < 3; ++q)
    for (size_t j = 0; j < 1008; ++j) {
      const bool bit = (ma[q * 63 + j / 16] >> (j % 16)) & 1u;
      CHECK(bit == (j < rows && !(a[q * 1008 + j] < floors[q])));
    }
  if (all_i8_kernels().size() > 1) {
    for (size_t i = 0; i < a.size(); ++i) CHECK(a[i] == b[i]);  // and nothing past `rows` written
    for (size_t i = 0; i < ma.size(); ++i) CHECK(ma[i] == mb[i]);
    CHECK(a[1000] == -1 && b[1007] == -1);
  }
}

TEST(score_pairs_and_crc32) {
  std::vector<float> U{1, 2, 3, 4}, V{1, 0, 0, 1}, ub{0.5f, 1}, vb{0, 2};
  std::vector<int32_t> u{0, 1}, i{1, 0};
  std::vector<float> out(2);
  RunContext ctx;
  score_pairs(portable_kernels(), U.data(), 2, V.data(), 2, 2, u.data(), i.data(), 2, ub.data(), vb.data(), 3, out.data(), ctx);
  CHECK_NEAR(out[0], 2 + 0.5 + 2 + 3, 1e-6);
  CHECK_NEAR(out[1], 3 + 1 + 0 + 3, 1e-6);
  const char* s = "123456789";
  CHECK(crc32(reinterpret_cast<const uint8_t*>(s), 9) == 0xCBF43926u);
  CHECK(crc32(nullptr, 0) == 0);
  // Incremental equals one-shot.
  uint32_t part = crc32(reinterpret_cast<const uint8_t*>(s), 4);
  CHECK(crc32(reinterpret_cast<const uint8_t*>(s) + 4, 5, part) == 0xCBF43926u);
}

int main(int argc, char** argv) {
  const char* filter = argc > 1 ? argv[1] : nullptr;
  int passed = 0, failed = 0;
  for (auto& c : t::cases()) {
    if (filter && std::strstr(c.name, filter) == nullptr) continue;
    try {
      c.fn();
      ++passed;
      std::printf("ok   %s\n", c.name);
    } catch (const t::Failure& f) {
      ++failed;
      std::printf("FAIL %s\n     %s\n", c.name, f.message.c_str());
    } catch (const std::exception& e) {
      ++failed;
      std::printf("FAIL %s\n     unexpected exception: %s\n", c.name, e.what());
    }
  }
  std::printf("%d passed, %d failed\n", passed, failed);
  return failed == 0 ? 0 : 1;
}

// Issue-3 exports: sparse matrices, explicit MF, implicit ALS, k-means, silhouette, scoring, CRC-32.
// Every long call is a Task run by a Job (AsyncWorker + Promise). Its typed-array inputs are copied
// when it starts (index arrays always; float and byte data unless pinned, then shared: see
// TaskInputs in glue.h); outputs whose size is known are allocated up front on the JS thread and
// filled by the worker.
#include <chrono>
#include <cstring>
#include <memory>

#include "../core/checksum.h"
#include "../core/factorization.h"
#include "../core/kmeans.h"
#include "../core/scoring.h"
#include "../core/sparse.h"
#include "exports.h"
#include "glue.h"

namespace clientele::glue {
namespace {

constexpr int64_t kMaxIndex = 2147483647;  // indices are int32

Duplicates parse_dup(const Args& a, const char* def) {
  std::string s = a.string("duplicates", def);
  if (s == "sum") return Duplicates::Sum;
  if (s == "reject") return Duplicates::Reject;
  a.range_error("duplicates", "'sum' or 'reject'", "'" + s + "'");
}

/** COO triplets from options rows/cols/values (names vary per call). */
struct Coo {
  View<int32_t> r, c;
  View<float> v;
  size_t nr = 0, nc = 0;
};

Coo read_coo(const Args& a, const char* rk, const char* ck, const char* vk, const char* nrk,
             const char* nck, bool values_required, bool nonneg) {
  Coo coo;
  coo.r = a.typed<int32_t>(rk);
  coo.c = a.typed<int32_t>(ck);
  coo.v = a.typed<float>(vk, values_required);
  coo.nr = static_cast<size_t>(a.integer(nrk, 0, kMaxIndex));
  coo.nc = static_cast<size_t>(a.integer(nck, 0, kMaxIndex));
  if (coo.c.length != coo.r.length)
    a.range_error(ck, "the same length as " + std::string(rk) + " (" + std::to_string(coo.r.length) + ")",
                  "length " + std::to_string(coo.c.length));
  if (coo.v.data != nullptr && coo.v.length != coo.r.length)
    a.range_error(vk, "the same length as " + std::string(rk) + " (" + std::to_string(coo.r.length) + ")",
                  "length " + std::to_string(coo.v.length));
  check_index(a, rk, coo.r.data, coo.r.length, coo.nr, nrk);
  check_index(a, ck, coo.c.data, coo.c.length, coo.nc, nck);
  if (coo.v.data != nullptr) {
    check_finite(a, vk, coo.v.data, coo.v.length);
    if (nonneg)
      for (size_t i = 0; i < coo.v.length; ++i)
        if (coo.v.data[i] < 0) a.range_error(vk, "values ≥ 0", std::to_string(coo.v.data[i]) + " at index " + std::to_string(i));
  }
  return coo;
}

/** A row-major matrix option with a given column count; returns rows. */
size_t read_matrix(const Args& a, const char* key, size_t dim, View<float>& out, bool finite = true) {
  out = a.typed<float>(key);
  if (out.length % dim != 0)
    a.range_error(key, "a length divisible by dim=" + std::to_string(dim), "length " + std::to_string(out.length));
  if (finite) check_finite(a, key, out.data, out.length);
  return out.length / dim;
}

/**
 * The optional half-float copy of `items` made by halfCopy ("itemsHalf", with its "maxNorm"):
 * the scans read it and rescore their best rows from items. False when not given.
 */
bool read_half_copy(const Args& a, size_t rows, size_t d, View<uint16_t>& half, float& max_norm) {
  if (!a.has("itemsHalf")) return false;
  half = a.typed<uint16_t>("itemsHalf");
  const size_t want = half_panel_length(rows, d);
  if (half.length != want)
    a.range_error("itemsHalf", "length " + std::to_string(want) + " (as made by halfCopy for these items)", "length " + std::to_string(half.length));
  max_norm = static_cast<float>(a.number("maxNorm", 0, 1e30));
  return true;
}

/**
 * The optional 8-bit copy of `items` made by int8Copy ("itemsInt8", with "maxNorm"): the scans
 * read it and rescore their best rows from items. False when not given; a copy of other items,
 * another length or a damaged header is refused with RangeError.
 */
bool read_int8(const Args& a, size_t rows, size_t d, View<uint8_t>& data, Int8Copy& copy, float& max_norm) {
  if (!a.has("itemsInt8")) return false;
  // The copy's header holds floats; a copy moved off a 4-byte boundary was not made by int8Copy.
  data = a.typed<uint8_t>("itemsInt8", true, alignof(float));
  std::string why;
  if (!read_int8_copy(data.data, data.length, rows, d, copy, why)) a.range_error("itemsInt8", why, "length " + std::to_string(data.length) + " or another header");
  max_norm = static_cast<float>(a.number("maxNorm", 0, 1e30));
  return true;
}

template <typename T>
Napi::TypedArrayOf<T> copy_out(Napi::Env env, const std::vector<T>& v) {
  auto arr = Napi::TypedArrayOf<T>::New(env, v.size());
  if (!v.empty()) std::memcpy(arr.Data(), v.data(), v.size() * sizeof(T));
  return arr;
}

Napi::Object csr_object(Napi::Env env, const Csr& m) {
  Napi::Object o = Napi::Object::New(env);
  o.Set("rows", static_cast<double>(m.rows));
  o.Set("cols", static_cast<double>(m.cols));
  auto indptr = Napi::Int32Array::New(env, m.indptr.size());
  for (size_t i = 0; i < m.indptr.size(); ++i) indptr[i] = static_cast<int32_t>(m.indptr[i]);
  o.Set("indptr", indptr);
  o.Set("indices", copy_out(env, m.indices));
  o.Set("data", copy_out(env, m.data));
  return o;
}

// ---- buildCsr ----------------------------------------------------------------------------------

class BuildCsrJob : public Task {
 public:
  explicit BuildCsrJob(const Args& a) : Task(a, "clientele.buildCsr") {
    coo_ = read_coo(a, "rows", "cols", "values", "nRows", "nCols", false, false);
    dup_ = parse_dup(a, "sum");
    transpose_ = a.boolean("transpose", false);
  }

 protected:
  void Run(const RunContext&) override {
    m_ = build_csr(coo_.r.data, coo_.c.data, coo_.v.data, coo_.r.length, coo_.nr, coo_.nc, dup_);
    if (transpose_) t_ = transpose(m_);
  }
  Napi::Value Result(Napi::Env env) override {
    Napi::Object o = Napi::Object::New(env);
    o.Set("matrix", csr_object(env, m_));
    if (transpose_) o.Set("transpose", csr_object(env, t_));
    return o;
  }

 private:
  Coo coo_;
  Duplicates dup_ = Duplicates::Sum;
  bool transpose_ = false;
  Csr m_, t_;
};

// ---- trainExplicit -----------------------------------------------------------------------------

class ExplicitJob : public Task {
 public:
  explicit ExplicitJob(const Args& a) : Task(a, "clientele.trainExplicit") {
    coo_ = read_coo(a, "users", "items", "ratings", "nUsers", "nItems", true, false);
    if (coo_.r.length == 0) a.range_error("ratings", "at least one rating", "none");
    dup_ = parse_dup(a, "reject");
    p_.factors = static_cast<size_t>(a.integer("factors", 1, 1024, int64_t{32}));
    p_.iterations = static_cast<int>(a.integer("iterations", 1, 100000, int64_t{15}));
    p_.reg = a.number("regularization", 0, 1e6, 0.1);
    p_.bias_reg = a.number("biasRegularization", 0, 1e9, 10.0);
    p_.init_std = a.number("initStd", 0, 10, 0.1);
    p_.seed = static_cast<uint64_t>(a.integer("seed", 0, kMaxSafe, int64_t{0}));
    size_t f = p_.factors;
    out_.user_factors = NewFloat32(checked_mul(coo_.nr, f, "nUsers × factors"), &uf_);
    out_.item_factors = NewFloat32(checked_mul(coo_.nc, f, "nItems × factors"), &if_);
    out_.user_bias = NewFloat32(coo_.nr, &ub_);
    out_.item_bias = NewFloat32(coo_.nc, &ib_);
  }
  static constexpr int64_t kMaxSafe = 9007199254740991LL;

 protected:
  void Run(const RunContext& ctx) override {
    Csr R = build_csr(coo_.r.data, coo_.c.data, coo_.v.data, coo_.r.length, coo_.nr, coo_.nc, dup_);
    Csr Rt = transpose(R);
    train_explicit(*K_, R, Rt, p_, out_, ctx);
  }
  Napi::Value Result(Napi::Env env) override {
    Napi::Object o = Napi::Object::New(env);
    o.Set("userFactors", Kept(uf_));
    o.Set("itemFactors", Kept(if_));
    o.Set("userBias", Kept(ub_));
    o.Set("itemBias", Kept(ib_));
    o.Set("globalMean", out_.global_mean);
    o.Set("loss", copy_out(env, out_.loss));
    o.Set("rmse", copy_out(env, out_.rmse));
    return o;
  }

 private:
  Coo coo_;
  Duplicates dup_ = Duplicates::Reject;
  ExplicitParams p_;
  ExplicitOutput out_{};
  size_t uf_ = 0, if_ = 0, ub_ = 0, ib_ = 0;
};

// ---- trainImplicit -----------------------------------------------------------------------------

class ImplicitJob : public Task {
 public:
  explicit ImplicitJob(const Args& a) : Task(a, "clientele.trainImplicit") {
    coo_ = read_coo(a, "users", "items", "values", "nUsers", "nItems", false, true);
    dup_ = parse_dup(a, "sum");
    p_.factors = static_cast<size_t>(a.integer("factors", 1, 1024, int64_t{64}));
    p_.iterations = static_cast<int>(a.integer("iterations", 1, 100000, int64_t{15}));
    p_.reg = a.number("regularization", 0, 1e9, 0.01);
    // Frequency-scaled λ: λ·(n + offset)^exponent per row (exponent 0 = constant λ).
    p_.reg_exponent = a.number("regularizationExponent", 0, 2, 0.0);
    p_.reg_offset = a.number("regularizationOffset", 0, 1e9, 0.0);
    p_.alpha = a.number("alpha", 0, 1e9, 1.0);
    p_.cg_steps = static_cast<int>(a.integer("cgSteps", 1, 1000, int64_t{3}));
    std::string solver = a.string("solver", "cg");
    if (solver != "cg" && solver != "cholesky") a.range_error("solver", "'cg' or 'cholesky'", "'" + solver + "'");
    p_.cholesky = solver == "cholesky";
    p_.compute_loss = a.boolean("computeLoss", false);
    p_.init_scale = a.number("initScale", 0, 10, 0.01);
    p_.seed = static_cast<uint64_t>(a.integer("seed", 0, 9007199254740991LL, int64_t{0}));
    std::string device = a.string("device", "auto");
    if (device != "auto" && device != "cpu") a.range_error("device", "'auto' or 'cpu'", "'" + device + "'");
    p_.use_gpu = device == "auto";
    size_t f = p_.factors;
    out_.user_factors = NewFloat32(checked_mul(coo_.nr, f, "nUsers × factors"), &uf_);
    out_.item_factors = NewFloat32(checked_mul(coo_.nc, f, "nItems × factors"), &if_);
    bool has_u = a.has("initialUserFactors"), has_i = a.has("initialItemFactors");
    if (has_u != has_i) a.range_error("initialUserFactors", "both initial factor matrices or neither", "only one");
    if (has_u) {
      View<float> iu = a.typed<float>("initialUserFactors"), ii = a.typed<float>("initialItemFactors");
      if (iu.length != coo_.nr * f)
        a.range_error("initialUserFactors", "length nUsers × factors = " + std::to_string(coo_.nr * f), std::to_string(iu.length));
      if (ii.length != coo_.nc * f)
        a.range_error("initialItemFactors", "length nItems × factors = " + std::to_string(coo_.nc * f), std::to_string(ii.length));
      check_finite(a, "initialUserFactors", iu.data, iu.length);
      check_finite(a, "initialItemFactors", ii.data, ii.length);
      if (iu.length) std::memcpy(out_.user_factors, iu.data, iu.length * sizeof(float));
      if (ii.length) std::memcpy(out_.item_factors, ii.data, ii.length * sizeof(float));
      p_.warm_start = true;
    }
  }

 protected:
  void Run(const RunContext& ctx) override {
    Csr C = build_csr(coo_.r.data, coo_.c.data, coo_.v.data, coo_.r.length, coo_.nr, coo_.nc, dup_);
    Csr Ct = transpose(C);
    train_implicit(*K_, C, Ct, p_, out_, ctx);
  }
  Napi::Value Result(Napi::Env env) override {
    Napi::Object o = Napi::Object::New(env);
    o.Set("userFactors", Kept(uf_));
    o.Set("itemFactors", Kept(if_));
    o.Set("loss", copy_out(env, out_.loss));
    o.Set("secondsPerIteration", copy_out(env, out_.seconds));
    return o;
  }

 private:
  Coo coo_;
  Duplicates dup_ = Duplicates::Sum;
  ImplicitParams p_;
  ImplicitOutput out_{};
  size_t uf_ = 0, if_ = 0;
};

// ---- kmeans ------------------------------------------------------------------------------------

class KmeansJob : public Task {
 public:
  explicit KmeansJob(const Args& a) : Task(a, "clientele.kmeans") {
    d_ = static_cast<size_t>(a.integer("dim", 1, 1 << 20));
    n_ = read_matrix(a, "data", d_, x_);
    if (n_ == 0) a.range_error("data", "at least one point", "none");
    p_.k = static_cast<size_t>(a.integer("k", 1, static_cast<int64_t>(n_)));
    p_.max_iter = static_cast<int>(a.integer("maxIterations", 1, 1000000, int64_t{100}));
    p_.tol = a.number("tolerance", 0, 1, 1e-4);
    p_.n_init = static_cast<int>(a.integer("restarts", 1, 1000, int64_t{1}));
    p_.seed = static_cast<uint64_t>(a.integer("seed", 0, 9007199254740991LL, int64_t{0}));
    p_.candidates = static_cast<int>(a.integer("candidates", 0, static_cast<int64_t>(kPanel8), int64_t{0}));
    std::string init = a.string("init", "kmeans++");
    if (a.has("centroids")) {
      View<float> c = a.typed<float>("centroids");
      if (c.length != p_.k * d_)
        a.range_error("centroids", "length k × dim = " + std::to_string(p_.k * d_), std::to_string(c.length));
      check_finite(a, "centroids", c.data, c.length);
      p_.init = KmeansInit::Given;
      p_.init_centroids = c.data;
    } else if (init == "kmeans++") {
      p_.init = KmeansInit::PlusPlus;
    } else if (init == "random") {
      p_.init = KmeansInit::Random;
    } else {
      a.range_error("init", "'kmeans++' or 'random'", "'" + init + "'");
    }
    std::string device = a.string("device", "auto");
    if (device != "auto" && device != "cpu") a.range_error("device", "'auto' or 'cpu'", "'" + device + "'");
    p_.use_gpu = device == "auto";
    labels_ = NewInt32(n_, &labels_slot_);
    centroids_ = NewFloat32(checked_mul(p_.k, d_, "k × dim"), &centroids_slot_);
  }

 protected:
  void Run(const RunContext& ctx) override {
    auto t0 = std::chrono::steady_clock::now();
    if (p_.init == KmeansInit::PlusPlus && p_.n_init == 1) {
      // Time the seeding on its own (then hand its centroids to Lloyd).
      init_.resize(p_.k * d_);
      kmeans_plusplus(*K_, x_.data, n_, d_, p_.k, p_.candidates, derive_seed(p_.seed, 0), init_.data(), ctx);
      init_seconds_ = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
      KmeansParams q = p_;
      q.init = KmeansInit::Given;
      q.init_centroids = init_.data();
      res_ = kmeans(*K_, x_.data, n_, d_, q, labels_, centroids_, ctx);
    } else {
      res_ = kmeans(*K_, x_.data, n_, d_, p_, labels_, centroids_, ctx);
      init_seconds_ = -1;
    }
    seconds_ = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  }
  Napi::Value Result(Napi::Env env) override {
    Napi::Object o = Napi::Object::New(env);
    o.Set("labels", Kept(labels_slot_));
    o.Set("centroids", Kept(centroids_slot_));
    o.Set("inertia", res_.inertia);
    o.Set("iterations", res_.iterations);
    o.Set("bestRestart", res_.best_run);
    o.Set("history", copy_out(env, res_.history));
    o.Set("seconds", seconds_);
    if (init_seconds_ >= 0) o.Set("initSeconds", init_seconds_);
    return o;
  }

 private:
  View<float> x_;
  size_t n_ = 0, d_ = 1;
  KmeansParams p_;
  KmeansResult res_;
  std::vector<float> init_;
  int32_t* labels_ = nullptr;
  float* centroids_ = nullptr;
  size_t labels_slot_ = 0, centroids_slot_ = 0;
  double seconds_ = 0, init_seconds_ = -1;
};

class SilhouetteJob : public Task {
 public:
  explicit SilhouetteJob(const Args& a) : Task(a, "clientele.silhouette") {
    d_ = static_cast<size_t>(a.integer("dim", 1, 1 << 20));
    n_ = read_matrix(a, "data", d_, x_);
    if (n_ == 0) a.range_error("data", "at least one point", "none");
    labels_ = a.typed<int32_t>("labels");
    if (labels_.length != n_)
      a.range_error("labels", "one label per point (" + std::to_string(n_) + ")", "length " + std::to_string(labels_.length));
    int32_t maxl = 0;
    for (size_t i = 0; i < n_; ++i) {
      if (labels_.data[i] < 0) a.range_error("labels", "labels ≥ 0", std::to_string(labels_.data[i]) + " at index " + std::to_string(i));
      maxl = std::max(maxl, labels_.data[i]);
    }
    k_ = static_cast<size_t>(maxl) + 1;
    sample_ = static_cast<size_t>(a.integer("sampleSize", 0, kMaxIndex, int64_t{2000}));
    seed_ = static_cast<uint64_t>(a.integer("seed", 0, 9007199254740991LL, int64_t{0}));
  }

 protected:
  void Run(const RunContext& ctx) override {
    score_ = silhouette(*K_, x_.data, n_, d_, labels_.data, k_, sample_, seed_, ctx);
  }
  Napi::Value Result(Napi::Env env) override { return Napi::Number::New(env, score_); }

 private:
  View<float> x_;
  View<int32_t> labels_;
  size_t n_ = 0, d_ = 1, k_ = 1, sample_ = 0;
  uint64_t seed_ = 0;
  double score_ = 0;
};

// ---- scoring -----------------------------------------------------------------------------------

Napi::Value TopK(const Napi::CallbackInfo& info) {
  try {
    Args a(info, "topK");
    size_t d = static_cast<size_t>(a.integer("dim", 1, 1 << 20));
    View<float> items;
    size_t rows = read_matrix(a, "items", d, items, false);
    View<float> q = a.typed<float>("query");
    if (q.length != d) a.range_error("query", "length dim=" + std::to_string(d), "length " + std::to_string(q.length));
    check_finite(a, "query", q.data, q.length);
    size_t k = static_cast<size_t>(a.integer("k", 0, kMaxIndex));
    View<int32_t> ex = a.typed<int32_t>("exclude", false);
    View<int32_t> cand = a.typed<int32_t>("candidates", false);
    if (cand.data) check_index(a, "candidates", cand.data, cand.length, rows, "item count");
    const Kernels& K = a.kernels();
    size_t cap = std::min(k, cand.data ? cand.length : rows);
    std::vector<int32_t> idx(cap);
    std::vector<float> sc(cap);
    TopKQuery tq{q.data, ex.data, ex.length};
    int threads = a.threads();
    View<uint16_t> h;
    View<uint8_t> i8data;
    Int8Copy i8;
    float max_norm = 0;
    const bool has_i8 = cand.data == nullptr && read_int8(a, rows, d, i8data, i8, max_norm);
    const bool has_half = !has_i8 && cand.data == nullptr && read_half_copy(a, rows, d, h, max_norm);
    const DotRowsI8 scan = has_i8 ? a.i8_kernel() : dot_rows_i8_portable;
    a.verify_unchanged();
    if (has_i8 || has_half) {
      size_t got = 0;
      if (has_i8) {
        RunContext ctx;
        ctx.threads = threads;
        int32_t count = 0;
        if (cap > 0) top_k_batch_i8(K, scan, items.data, i8, rows, d, &tq, 1, cap, max_norm, idx.data(), sc.data(), &count, ctx);
        got = static_cast<size_t>(count);
      } else {
        got = top_k_half(K, items.data, h.data, rows, d, tq, max_norm, cap, idx.data(), sc.data(), threads);
      }
      idx.resize(got);
      sc.resize(got);
      Napi::Object o = Napi::Object::New(info.Env());
      o.Set("indices", copy_out(info.Env(), idx));
      o.Set("scores", copy_out(info.Env(), sc));
      return o;
    }
    size_t got = cand.data ? top_k(K, items.data, rows, d, tq, cand.data, cand.length, nullptr, cap, idx.data(), sc.data())
                           : top_k_parallel(K, items.data, rows, d, tq, cap, idx.data(), sc.data(), threads);
    idx.resize(got);
    sc.resize(got);
    Napi::Object o = Napi::Object::New(info.Env());
    o.Set("indices", copy_out(info.Env(), idx));
    o.Set("scores", copy_out(info.Env(), sc));
    return o;
  } catch (const Napi::Error&) {
    throw;
  } catch (...) {
    rethrow_as_js(info.Env());
  }
}

/** Batch top-k: for each query row (queries, or rows of `queries` selected by `rows`). */
class TopKBatchJob : public Task {
 public:
  TopKBatchJob(const Args& a, bool cosine) : Task(a, cosine ? "clientele.similarItems" : "clientele.topKBatch"), cosine_(cosine) {
    d_ = static_cast<size_t>(a.integer("dim", 1, 1 << 20));
    // The item matrix (the whole catalogue: 100k × 64 is 6.4M values) is not re-checked for
    // NaN/Infinity on every call, as in topK: a non-finite score is dropped by the selector,
    // so bad factors can only lose items, never break the ordering. The typed wrapper checks
    // the matrix once, when its ItemScorer is built. (Checking here cost ~3 ms per serving
    // batch, first on the event loop, then on the worker.)
    rows_ = read_matrix(a, "items", d_, items_, /*finite=*/false);
    if (cosine_) {
      // Queries are item indices into `items`; each item is excluded from its own list.
      sel_ = a.typed<int32_t>("queries");
      check_index(a, "queries", sel_.data, sel_.length, rows_, "item count");
      nq_ = sel_.length;
    } else {
      size_t qn = read_matrix(a, "queries", d_, queries_);
      if (a.has("rows")) {
        sel_ = a.typed<int32_t>("rows");
        check_index(a, "rows", sel_.data, sel_.length, qn, "query count");
        nq_ = sel_.length;
      } else {
        nq_ = qn;
      }
      if (a.has("excludeIndptr") || a.has("excludeIndices")) {
        exp_ = a.typed<int32_t>("excludeIndptr");
        exi_ = a.typed<int32_t>("excludeIndices");
        if (exp_.length != nq_ + 1)
          a.range_error("excludeIndptr", "length (number of queries + 1) = " + std::to_string(nq_ + 1), "length " + std::to_string(exp_.length));
        if (exp_.data[0] != 0) a.range_error("excludeIndptr", "excludeIndptr[0] = 0", std::to_string(exp_.data[0]));
        for (size_t i = 0; i < nq_; ++i)
          if (exp_.data[i + 1] < exp_.data[i])
            a.range_error("excludeIndptr", "non-decreasing offsets", "a decrease at index " + std::to_string(i + 1));
        if (static_cast<size_t>(exp_.data[nq_]) != exi_.length)
          a.range_error("excludeIndices", "length excludeIndptr[last] = " + std::to_string(exp_.data[nq_]), "length " + std::to_string(exi_.length));
      }
    }
    k_ = static_cast<size_t>(a.integer("k", 0, kMaxIndex));
    cand_ = a.typed<int32_t>("candidates", false);
    if (cand_.data) {
      check_index(a, "candidates", cand_.data, cand_.length, rows_, "item count");
    }
    if (!cosine_) read_half_copy(a, rows_, d_, half_, max_norm_);
    if (!cosine_ && read_int8(a, rows_, d_, i8data_, i8_, max_norm_)) {
      has_i8_ = true;
      i8_scan_ = a.i8_kernel();
    }
    size_t avail = cand_.data ? cand_.length : rows_;
    k_ = std::min(k_, avail);
    idx_ = NewInt32(checked_mul(nq_, k_, "queries × k"), &idx_slot_);
    sc_ = NewFloat32(nq_ * k_, &sc_slot_);
    cnt_ = NewInt32(nq_, &cnt_slot_);
  }

 protected:
  void Run(const RunContext& ctx) override {
    if (!cosine_ && !cand_.data && (nq_ > 1 || half_.data || has_i8_)) {
      RunBlocked(ctx);
      return;
    }
    std::vector<float> norms;
    if (cosine_) {
      norms.resize(rows_);
      row_norms(*K_, items_.data, rows_, d_, norms.data(), ctx);
    }
    parallel_dynamic(ctx.threads, nq_, 8, [&](int, size_t b, size_t e) {
      std::vector<float> qbuf(d_);
      for (size_t i = b; i < e; ++i) {
        if ((i & 255) == 0) ctx.check_cancel();
        TopKQuery q;
        int32_t self = -1;
        auto empty = [&]() {
          for (size_t j = 0; j < k_; ++j) {
            idx_[i * k_ + j] = -1;
            sc_[i * k_ + j] = -std::numeric_limits<float>::infinity();
          }
          cnt_[i] = 0;
        };
        // Indices are re-read and re-checked here: the arrays belong to JS and could have been
        // changed since the call was validated.
        if (cosine_) {
          self = __atomic_load_n(sel_.data + i, __ATOMIC_RELAXED);
          if (self < 0 || static_cast<size_t>(self) >= rows_) {
            empty();
            continue;
          }
          const float* src = items_.data + static_cast<size_t>(self) * d_;
          float nn = norms[static_cast<size_t>(self)];
          for (size_t p = 0; p < d_; ++p) qbuf[p] = nn > 0 ? src[p] / nn : 0.0f;
          q.query = qbuf.data();
          q.exclude = &self;
          q.n_exclude = 1;
        } else {
          int64_t row = sel_.data ? __atomic_load_n(sel_.data + i, __ATOMIC_RELAXED) : static_cast<int64_t>(i);
          if (row < 0 || static_cast<size_t>(row) >= queries_.length / d_) {
            empty();
            continue;
          }
          q.query = queries_.data + static_cast<size_t>(row) * d_;
          if (exp_.data) {
            int32_t s0 = __atomic_load_n(exp_.data + i, __ATOMIC_RELAXED), s1 = __atomic_load_n(exp_.data + i + 1, __ATOMIC_RELAXED);
            if (s0 >= 0 && s1 >= s0 && static_cast<size_t>(s1) <= exi_.length) {
              q.exclude = exi_.data + s0;
              q.n_exclude = static_cast<size_t>(s1 - s0);
            }
          }
        }
        size_t got = top_k(*K_, items_.data, rows_, d_, q, cand_.data, cand_.length, cosine_ ? norms.data() : nullptr, k_,
                           idx_ + i * k_, sc_ + i * k_);
        for (size_t j = got; j < k_; ++j) {
          idx_[i * k_ + j] = -1;
          sc_[i * k_ + j] = -std::numeric_limits<float>::infinity();
        }
        cnt_[i] = static_cast<int32_t>(got);
      }
    });
  }
  /** Dot-product queries over all items: one blocked pass over the item factors for the batch. */
  void RunBlocked(const RunContext& ctx) {
    std::vector<TopKQuery> qs(nq_);
    const size_t qrows = queries_.length / d_;
    for (size_t i = 0; i < nq_; ++i) {
      // Indices are re-read and re-checked here: the arrays belong to JS.
      int64_t row = sel_.data ? __atomic_load_n(sel_.data + i, __ATOMIC_RELAXED) : static_cast<int64_t>(i);
      if (row < 0 || static_cast<size_t>(row) >= qrows) continue;  // null query: no results
      qs[i].query = queries_.data + static_cast<size_t>(row) * d_;
      if (exp_.data) {
        int32_t s0 = __atomic_load_n(exp_.data + i, __ATOMIC_RELAXED), s1 = __atomic_load_n(exp_.data + i + 1, __ATOMIC_RELAXED);
        if (s0 >= 0 && s1 >= s0 && static_cast<size_t>(s1) <= exi_.length) {
          qs[i].exclude = exi_.data + s0;
          qs[i].n_exclude = static_cast<size_t>(s1 - s0);
        }
      }
    }
    if (has_i8_ && !cand_.data)
      top_k_batch_i8(*K_, i8_scan_, items_.data, i8_, rows_, d_, qs.data(), nq_, k_, max_norm_, idx_, sc_, cnt_, ctx);
    else if (half_.data)
      top_k_batch_half(*K_, items_.data, half_.data, rows_, d_, qs.data(), nq_, k_, max_norm_, idx_, sc_, cnt_, ctx);
    else
      top_k_batch(*K_, items_.data, rows_, d_, qs.data(), nq_, k_, idx_, sc_, cnt_, ctx);
  }

  Napi::Value Result(Napi::Env env) override {
    Napi::Object o = Napi::Object::New(env);
    o.Set("indices", Kept(idx_slot_));
    o.Set("scores", Kept(sc_slot_));
    o.Set("counts", Kept(cnt_slot_));
    o.Set("k", static_cast<double>(k_));
    return o;
  }

 private:
  bool cosine_;
  View<float> items_, queries_;
  View<int32_t> sel_, exp_, exi_, cand_;
  View<uint16_t> half_;
  View<uint8_t> i8data_;
  Int8Copy i8_;
  bool has_i8_ = false;
  DotRowsI8 i8_scan_ = dot_rows_i8_portable;
  float max_norm_ = 0;
  size_t d_ = 1, rows_ = 0, nq_ = 0, k_ = 0;
  int32_t* idx_ = nullptr;
  float* sc_ = nullptr;
  int32_t* cnt_ = nullptr;
  size_t idx_slot_ = 0, sc_slot_ = 0, cnt_slot_ = 0;
};

class ScorePairsJob : public Task {
 public:
  explicit ScorePairsJob(const Args& a) : Task(a, "clientele.scorePairs") {
    d_ = static_cast<size_t>(a.integer("dim", 1, 1 << 20));
    size_t nu = read_matrix(a, "userFactors", d_, U_);
    size_t ni = read_matrix(a, "itemFactors", d_, V_);
    users_ = a.typed<int32_t>("users");
    items_ = a.typed<int32_t>("items");
    if (items_.length != users_.length)
      a.range_error("items", "the same length as users (" + std::to_string(users_.length) + ")", "length " + std::to_string(items_.length));
    check_index(a, "users", users_.data, users_.length, nu, "user count");
    check_index(a, "items", items_.data, items_.length, ni, "item count");
    if (a.has("userBias")) {
      ub_ = a.typed<float>("userBias");
      if (ub_.length != nu) a.range_error("userBias", "length " + std::to_string(nu), "length " + std::to_string(ub_.length));
    }
    if (a.has("itemBias")) {
      vb_ = a.typed<float>("itemBias");
      if (vb_.length != ni) a.range_error("itemBias", "length " + std::to_string(ni), "length " + std::to_string(vb_.length));
    }
    global_ = static_cast<float>(a.number("globalMean", -1e30, 1e30, 0.0));
    out_ = NewFloat32(users_.length, &out_slot_);
  }

 protected:
  void Run(const RunContext& ctx) override {
    score_pairs(*K_, U_.data, U_.length / d_, V_.data, V_.length / d_, d_, users_.data, items_.data, users_.length, ub_.data,
                vb_.data, global_, out_, ctx);
  }
  Napi::Value Result(Napi::Env) override { return Kept(out_slot_); }

 private:
  View<float> U_, V_, ub_, vb_;
  View<int32_t> users_, items_;
  size_t d_ = 1;
  float global_ = 0;
  float* out_ = nullptr;
  size_t out_slot_ = 0;
};

/**
 * halfCopy (Int8 = false) and int8Copy: the compact copies of an item matrix that the scans of
 * topK and topKBatch read. Null when the copy cannot hold the values (a half beyond ±65000; an
 * 8-bit copy of no rows, of more than kI8MaxDim dimensions or of non-finite values).
 */
template <bool Int8>
Napi::Value CompactCopy(const Napi::CallbackInfo& info) {
  try {
    Args a(info, Int8 ? "int8Copy" : "halfCopy");
    size_t d = static_cast<size_t>(a.integer("dim", 1, 1 << 20));
    View<float> items;
    size_t rows = read_matrix(a, "items", d, items, true);
    Napi::Value copy;
    double max_norm = 0;
    if constexpr (Int8) {
      if (rows == 0 || d > kI8MaxDim) return info.Env().Null();
      // Pinned: the scans of topKBatch read it on a worker (see PinnedBlock).
      const size_t n = int8_copy_bytes(rows, d);
      Napi::Uint8Array bytes = Napi::Uint8Array::New(info.Env(), n, pinned_buffer(info.Env(), n), 0);
      max_norm = make_int8_copy(items.data, rows, d, bytes.Data());
      copy = bytes;
    } else {
      const size_t n = half_panel_length(rows, d);
      Napi::Uint16Array half = Napi::Uint16Array::New(info.Env(), n, pinned_buffer(info.Env(), n * sizeof(uint16_t)), 0);
      max_norm = to_half(items.data, rows, d, rows ? half.Data() : nullptr);
      copy = half;
    }
    if (max_norm < 0) return info.Env().Null();
    Napi::Object o = Napi::Object::New(info.Env());
    o.Set(Int8 ? "copy" : "half", copy);
    o.Set("maxNorm", max_norm);
    return o;
  } catch (const Napi::Error&) {
    throw;
  } catch (...) {
    rethrow_as_js(info.Env());
  }
}

/**
 * pin(array): a copy of a Float32Array, Uint8Array or Uint16Array in memory the addon owns (see
 * PinnedBlock), for data that asynchronous calls share instead of copying it per call: an
 * ItemScorer's item matrix. (Index arrays are copied per call whatever their memory.)
 */
Napi::Value Pin(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const char* expected = "pin: array: expected a Float32Array, Uint8Array or Uint16Array, received ";
  if (info.Length() < 1 || !info[0].IsTypedArray())
    throw Napi::TypeError::New(env, expected + (info.Length() < 1 ? std::string("nothing") : describe(info[0])));
  Napi::TypedArray a = info[0].As<Napi::TypedArray>();
  const napi_typedarray_type type = a.TypedArrayType();
  if (type != napi_float32_array && type != napi_uint8_array && type != napi_uint16_array)
    throw Napi::TypeError::New(env, expected + describe(info[0]));
  const size_t n = a.ElementLength(), bytes = a.ByteLength();
  Napi::ArrayBuffer src = a.ArrayBuffer();
  if (n > 0 && src.Data() == nullptr) throw Napi::RangeError::New(env, "pin: array: expected live (not detached) memory, received a detached buffer");
  Napi::ArrayBuffer buf = pinned_buffer(env, bytes);
  if (bytes > 0) std::memcpy(buf.Data(), static_cast<const uint8_t*>(src.Data()) + a.ByteOffset(), bytes);
  if (type == napi_float32_array) return Napi::Float32Array::New(env, n, buf, 0);
  if (type == napi_uint8_array) return Napi::Uint8Array::New(env, n, buf, 0);
  return Napi::Uint16Array::New(env, n, buf, 0);
}

/** cancelFlag(): an Int32Array(1) in pinned memory, for the `cancel` option of asynchronous calls. */
Napi::Value CancelFlag(const Napi::CallbackInfo& info) {
  return Napi::Int32Array::New(info.Env(), 1, pinned_buffer(info.Env(), sizeof(int32_t)), 0);
}

Napi::Value Crc32(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (info.Length() < 1 || !info[0].IsTypedArray() || info[0].As<Napi::TypedArray>().TypedArrayType() != napi_uint8_array)
    throw Napi::TypeError::New(env, "crc32: data: expected a Uint8Array, received " +
                                        (info.Length() < 1 ? std::string("nothing") : describe(info[0])));
  Napi::Uint8Array a = info[0].As<Napi::Uint8Array>();
  uint32_t seed = 0;
  if (info.Length() > 1 && info[1].IsNumber()) seed = info[1].As<Napi::Number>().Uint32Value();
  const uint8_t* p = a.ElementLength() ? a.Data() : nullptr;
  return Napi::Number::New(env, crc32(p, a.ElementLength(), seed));
}

template <typename J, typename... Extra>
Napi::Value Start(const Napi::CallbackInfo& info, const char* fn, Extra... extra) {
  try {
    Args a(info, fn);
    return start_task<J>(a, extra...);
  } catch (const Napi::Error&) {
    throw;
  } catch (...) {
    rethrow_as_js(info.Env());
  }
}

}  // namespace

void register_more(Napi::Env env, Napi::Object exports) {
  exports.Set("buildCsr", Napi::Function::New(env, [](const Napi::CallbackInfo& i) { return Start<BuildCsrJob>(i, "buildCsr"); }));
  exports.Set("trainExplicit", Napi::Function::New(env, [](const Napi::CallbackInfo& i) { return Start<ExplicitJob>(i, "trainExplicit"); }));
  exports.Set("trainImplicit", Napi::Function::New(env, [](const Napi::CallbackInfo& i) { return Start<ImplicitJob>(i, "trainImplicit"); }));
  exports.Set("kmeans", Napi::Function::New(env, [](const Napi::CallbackInfo& i) { return Start<KmeansJob>(i, "kmeans"); }));
  exports.Set("silhouette", Napi::Function::New(env, [](const Napi::CallbackInfo& i) { return Start<SilhouetteJob>(i, "silhouette"); }));
  exports.Set("topK", Napi::Function::New(env, TopK, "topK"));
  exports.Set("topKBatch", Napi::Function::New(env, [](const Napi::CallbackInfo& i) { return Start<TopKBatchJob>(i, "topKBatch", false); }));
  exports.Set("similarItems", Napi::Function::New(env, [](const Napi::CallbackInfo& i) { return Start<TopKBatchJob>(i, "similarItems", true); }));
  exports.Set("scorePairs", Napi::Function::New(env, [](const Napi::CallbackInfo& i) { return Start<ScorePairsJob>(i, "scorePairs"); }));
  exports.Set("halfCopy", Napi::Function::New(env, CompactCopy<false>, "halfCopy"));
  exports.Set("int8Copy", Napi::Function::New(env, CompactCopy<true>, "int8Copy"));
  exports.Set("crc32", Napi::Function::New(env, Crc32, "crc32"));
  exports.Set("pin", Napi::Function::New(env, Pin, "pin"));
  exports.Set("cancelFlag", Napi::Function::New(env, CancelFlag, "cancelFlag"));
}

}  // namespace clientele::glue

// Shared plumbing for the pure C++ core: errors, cancellation and progress, threads, RNG.
// Nothing in core/ includes Node headers, so the sanitizer test executable links it alone.
#pragma once

#include <atomic>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <exception>
#include <functional>
#include <limits>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

namespace clientele {

enum class ErrorKind { Type, Range, Generic };

/** An error the caller caused (bad argument) or a failure; the glue maps `kind` to a JS error class. */
class Error : public std::runtime_error {
 public:
  Error(ErrorKind kind, const std::string& message) : std::runtime_error(message), kind_(kind) {}
  ErrorKind kind() const { return kind_; }

 private:
  ErrorKind kind_;
};

/** Thrown between iterations when the caller's cancel flag is set. */
class Cancelled : public std::exception {
 public:
  const char* what() const noexcept override { return "the operation was aborted"; }
};

[[noreturn]] inline void throw_range(const std::string& m) { throw Error(ErrorKind::Range, m); }
[[noreturn]] inline void throw_type(const std::string& m) { throw Error(ErrorKind::Type, m); }
[[noreturn]] inline void throw_error(const std::string& m) { throw Error(ErrorKind::Generic, m); }

/** One progress report: `stage` names the phase, `done`/`total` count steps, `value` is the loss or inertia. */
struct Progress {
  const char* stage;
  int64_t done;
  int64_t total;
  double value;
};

/** What every long computation receives: thread count, a cancel flag and a progress sink. */
struct RunContext {
  int threads = 1;
  /** Set to non-zero by the caller (from another thread) to cancel; read atomically. */
  const int32_t* cancel_flag = nullptr;
  std::function<void(const Progress&)> progress;

  bool cancelled() const {
    return cancel_flag != nullptr && __atomic_load_n(cancel_flag, __ATOMIC_RELAXED) != 0;
  }
  void check_cancel() const {
    if (cancelled()) throw Cancelled();
  }
  void report(const char* stage, int64_t done, int64_t total, double value) const {
    if (progress) progress(Progress{stage, done, total, value});
  }
};

int hardware_threads();

/** Clamps a requested thread count (0 = all cores) to [1, 256]. */
inline int resolve_threads(int requested) {
  if (requested <= 0) return hardware_threads();
  return requested > 256 ? 256 : requested;
}

/**
 * Runs fn(tid, begin, end) over [0, n) split into `threads` contiguous static chunks.
 * Static partitioning keeps reductions deterministic for a given thread count.
 * The first exception thrown by any chunk is rethrown on the calling thread.
 */
template <class F>
void parallel_for(int threads, size_t n, F&& fn) {
  if (n == 0) return;
  size_t t = static_cast<size_t>(threads < 1 ? 1 : threads);
  if (t > n) t = n;
  if (t == 1) {
    fn(0, size_t{0}, n);
    return;
  }
  std::vector<std::thread> pool;
  std::vector<std::exception_ptr> errors(t);
  pool.reserve(t - 1);
  auto run = [&](size_t tid) {
    size_t begin = n * tid / t, end = n * (tid + 1) / t;
    try {
      fn(static_cast<int>(tid), begin, end);
    } catch (...) {
      errors[tid] = std::current_exception();
    }
  };
  for (size_t tid = 1; tid < t; ++tid) pool.emplace_back(run, tid);
  run(0);
  for (auto& th : pool) th.join();
  for (auto& e : errors)
    if (e) std::rethrow_exception(e);
}

/**
 * Dynamic scheduling over [0, n) in chunks of `grain`: fn(tid, begin, end). Use only where each index's
 * result does not depend on which thread ran it (then results stay deterministic).
 */
template <class F>
void parallel_dynamic(int threads, size_t n, size_t grain, F&& fn) {
  if (n == 0) return;
  if (grain == 0) grain = 1;
  size_t chunks = (n + grain - 1) / grain;
  size_t t = static_cast<size_t>(threads < 1 ? 1 : threads);
  if (t > chunks) t = chunks;
  std::atomic<size_t> next{0};
  std::atomic<bool> failed{false};
  std::vector<std::exception_ptr> errors(t);
  auto run = [&](size_t tid) {
    try {
      for (;;) {
        if (failed.load(std::memory_order_relaxed)) return;
        size_t c = next.fetch_add(1, std::memory_order_relaxed);
        if (c >= chunks) return;
        size_t begin = c * grain, end = begin + grain < n ? begin + grain : n;
        fn(static_cast<int>(tid), begin, end);
      }
    } catch (...) {
      errors[tid] = std::current_exception();
      failed.store(true);
    }
  };
  if (t == 1) {
    run(0);
  } else {
    std::vector<std::thread> pool;
    pool.reserve(t - 1);
    for (size_t tid = 1; tid < t; ++tid) pool.emplace_back(run, tid);
    run(0);
    for (auto& th : pool) th.join();
  }
  for (auto& e : errors)
    if (e) std::rethrow_exception(e);
}

/** xoshiro256** seeded through splitmix64: small, fast and identical on every platform. */
class Rng {
 public:
  explicit Rng(uint64_t seed) {
    uint64_t x = seed;
    for (auto& s : s_) s = splitmix(x);
  }
  uint64_t next() {
    const uint64_t result = rotl(s_[1] * 5, 7) * 9;
    const uint64_t t = s_[1] << 17;
    s_[2] ^= s_[0];
    s_[3] ^= s_[1];
    s_[1] ^= s_[2];
    s_[0] ^= s_[3];
    s_[2] ^= t;
    s_[3] = rotl(s_[3], 45);
    return result;
  }
  /** Uniform in [0, 1). */
  double uniform() { return static_cast<double>(next() >> 11) * 0x1.0p-53; }
  /** Uniform integer in [0, n). n must be > 0. */
  uint64_t below(uint64_t n) { return static_cast<uint64_t>(uniform() * static_cast<double>(n)) % n; }
  /** Standard normal (Box-Muller). */
  double normal() {
    double u1 = uniform(), u2 = uniform();
    if (u1 < 1e-300) u1 = 1e-300;
    return std::sqrt(-2.0 * std::log(u1)) * std::cos(6.283185307179586 * u2);
  }

 private:
  static uint64_t rotl(uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }
  static uint64_t splitmix(uint64_t& x) {
    uint64_t z = (x += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
  }
  uint64_t s_[4];
};

/** Derives an independent stream seed (for a restart or a thread) from a base seed. */
inline uint64_t derive_seed(uint64_t seed, uint64_t stream) {
  uint64_t z = seed + 0x9e3779b97f4a7c15ULL * (stream + 1);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
  return z ^ (z >> 31);
}

/** size_t product with overflow check; throws RangeError naming `what`. */
inline size_t checked_mul(size_t a, size_t b, const char* what) {
  if (a != 0 && b > std::numeric_limits<size_t>::max() / a) throw_range(std::string(what) + " is too large");
  return a * b;
}

/** 64-byte aligned float buffer (for packed panels). */
struct AlignedFloats {
  float* data = nullptr;
  size_t size = 0;
  AlignedFloats() = default;
  explicit AlignedFloats(size_t n);
  ~AlignedFloats();
  AlignedFloats(const AlignedFloats&) = delete;
  AlignedFloats& operator=(const AlignedFloats&) = delete;
  AlignedFloats(AlignedFloats&& o) noexcept : data(o.data), size(o.size) { o.data = nullptr; o.size = 0; }
  AlignedFloats& operator=(AlignedFloats&& o) noexcept;
  float* begin() { return data; }
  float& operator[](size_t i) { return data[i]; }
  const float& operator[](size_t i) const { return data[i]; }
};

}  // namespace clientele

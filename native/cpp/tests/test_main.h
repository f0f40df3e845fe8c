// A tiny test harness for the core tests (no third-party framework needed).
#pragma once

#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <functional>
#include <string>
#include <vector>

namespace t {

struct Case {
  const char* name;
  std::function<void()> fn;
};

inline std::vector<Case>& cases() {
  static std::vector<Case> c;
  return c;
}

struct Register {
  Register(const char* name, std::function<void()> fn) { cases().push_back({name, std::move(fn)}); }
};

struct Failure {
  std::string message;
};

inline void fail(const char* file, int line, const std::string& what) {
  throw Failure{std::string(file) + ":" + std::to_string(line) + ": " + what};
}

}  // namespace t

#define TEST(name)                                   \
  static void test_##name();                         \
  static t::Register reg_##name(#name, test_##name); \
  static void test_##name()

#define CHECK(cond)                                      \
  do {                                                   \
    if (!(cond)) t::fail(__FILE__, __LINE__, #cond);     \
  } while (0)

#define CHECK_NEAR(a, b, tol)                                                                              \
  do {                                                                                                     \
    double _a = (a), _b = (b);                                                                             \
    if (!(std::fabs(_a - _b) <= (tol)))                                                                    \
      t::fail(__FILE__, __LINE__, std::string(#a " ≈ " #b ": ") + std::to_string(_a) + " vs " + std::to_string(_b)); \
  } while (0)

#define CHECK_THROWS(expr)                                        \
  do {                                                            \
    bool _threw = false;                                          \
    try {                                                         \
      expr;                                                       \
    } catch (const std::exception&) {                             \
      _threw = true;                                              \
    }                                                             \
    if (!_threw) t::fail(__FILE__, __LINE__, "expected a throw: " #expr); \
  } while (0)

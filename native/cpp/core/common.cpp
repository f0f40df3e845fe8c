#include "common.h"

#include <cstdlib>
#include <new>

namespace clientele {

AlignedFloats::AlignedFloats(size_t n) : size(n) {
  size_t bytes = checked_mul(n == 0 ? 1 : n, sizeof(float), "buffer");
  bytes = (bytes + 63) / 64 * 64;
  data = static_cast<float*>(std::aligned_alloc(64, bytes));
  if (data == nullptr) throw std::bad_alloc();
}

AlignedFloats::~AlignedFloats() { std::free(data); }

AlignedFloats& AlignedFloats::operator=(AlignedFloats&& o) noexcept {
  if (this != &o) {
    std::free(data);
    data = o.data;
    size = o.size;
    o.data = nullptr;
    o.size = 0;
  }
  return *this;
}

}  // namespace clientele

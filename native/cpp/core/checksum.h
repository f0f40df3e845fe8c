#pragma once
#include <cstddef>
#include <cstdint>

namespace clientele {
/** CRC-32 (IEEE 802.3, as in zlib), continuing from `crc` (0 to start). */
uint32_t crc32(const uint8_t* data, size_t n, uint32_t crc = 0);
}  // namespace clientele

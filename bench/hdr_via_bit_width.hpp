// The shipped HDR log-linear index (wsm/shm/histogram_scheme.hpp, S = 8) by its textbook
// definition, bench-local: bit_width (a count of leading zeros) and two shifts instead of the
// shipped int->double conversion. The record-path benchmark times the two side by side, so the
// report shows what the conversion buys (or costs) on this machine.
//
// For x >= 2S = 16, e = floor(log2 x) = bit_width(x) - 1 and the raw index is
// 8 (e - 2) + (the 3 bits after the leading one) = 8 (e - 3) + (x >> (e - 3)), since x >> (e - 3)
// is 8 + those 3 bits. Below 16 the raw index is x itself. Exact for every 64-bit x.
#pragma once

#include <algorithm>
#include <bit>
#include <cstdint>

#include "wsm/shm/histogram_scheme.hpp"

namespace wsm::bench {

struct HdrViaBitWidth {
  std::uint32_t top = shm::HistogramScheme{shm::kMaxOctaveNanoseconds}.top_index();

  [[nodiscard]] static constexpr std::uint32_t raw_index(std::uint64_t x) noexcept {
    if (x < 2 * shm::kSubBuckets) return static_cast<std::uint32_t>(x);
    const auto shift = static_cast<unsigned>(std::bit_width(x)) - 1 - shm::kSubBits;  // e - 3
    return (shift << shm::kSubBits) + static_cast<std::uint32_t>(x >> shift);
  }
  // Same (lower, upper] shift and clamp as HistogramScheme::index_of.
  [[nodiscard]] constexpr std::uint32_t index_of(std::uint64_t v) const noexcept {
    return std::min(raw_index(v - (v != 0)), top);
  }
};

static_assert(HdrViaBitWidth::raw_index(15) == 15 && HdrViaBitWidth::raw_index(16) == 16);
static_assert(HdrViaBitWidth::raw_index(17) == 16 && HdrViaBitWidth::raw_index(18) == 17);

}  // namespace wsm::bench

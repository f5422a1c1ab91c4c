// The shipped HDR log-linear index (wsm/shm/histogram_scheme.hpp, S = 8) computed through the
// hardware int->double conversion, bench-local, to see whether it beats bit_width + shifts.
//
// For x >= 8 the raw index is 8 (e - 2) + (the 3 bits after the leading one), e = floor(log2 x).
// A double holds exactly that in its top bits: bits >> 49 = 8 (e + 1023) + those 3 bits, so the
// raw index is (bits >> 49) - 8 * 1025. Below 8 the raw index is x itself. The conversion is exact
// for x < 2^53; larger values land in the top bucket either way (max_octave <= 52).
#pragma once

#include <algorithm>
#include <bit>
#include <cstdint>

#include "wsm/shm/histogram_scheme.hpp"

namespace wsm::bench {

struct HdrViaDouble {
  std::uint32_t top = shm::HistogramScheme{shm::kMaxOctaveNanoseconds}.top_index();

  [[nodiscard]] static std::uint32_t raw_index(std::uint64_t x) noexcept {
    const auto bits = std::bit_cast<std::uint64_t>(static_cast<double>(static_cast<std::int64_t>(x)));
    const auto from_double = static_cast<std::uint32_t>(bits >> 49) - 8 * 1025;  // sign set: huge
    return x < 8 ? static_cast<std::uint32_t>(x) : from_double;
  }
  // Same (lower, upper] shift and clamp as HistogramScheme::index_of.
  [[nodiscard]] std::uint32_t index_of(std::uint64_t v) const noexcept {
    return std::min(raw_index(v - (v != 0)), top);
  }
};

}  // namespace wsm::bench

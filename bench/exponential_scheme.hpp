// The first plan's alternative histogram scheme (docs/design.md, "Histograms"), kept bench-local
// so it can be measured against the shipped HDR log-linear one (wsm/shm/histogram_scheme.hpp)
// without changing what ships.
//
// Buckets are exponential and aligned to Prometheus native-histogram schema 3 / OpenTelemetry
// scale 3: bucket k (k >= 1) holds (2^((k-2)/8), 2^((k-1)/8)], bucket 0 holds the value 0. Each
// bucket is 2^(1/8) - 1 = 9.05% wide, so quantile error is bounded by 9.05% (HDR S=8: 12.5%), and
// an exporter could emit native/OTel exponential histograms losslessly from the same cells.
//
// Record path: e = floor(log2 v) as in HDR; the mantissa m = v << (63 - e) lies in [2^63, 2^64).
// The 8 boundaries of an octave are 2^63 * 2^(j/8). Their fractional parts are at least 0.09
// apart, so a 16-cell table on the 4 bits after the leading one holds at most one boundary per
// cell: the sub-bucket is the cell's base count plus one compare against that boundary.
#pragma once

#include <algorithm>
#include <array>
#include <bit>
#include <cmath>
#include <cstdint>

namespace wsm::bench {

struct ExponentialCell {
  std::uint64_t threshold;  // mantissa of the boundary in this cell (UINT64_MAX: none)
  std::uint32_t base;       // boundaries below the cell's start
};

[[nodiscard]] inline std::array<ExponentialCell, 16> make_exponential_table() {
  std::array<std::uint64_t, 8> bound{};  // floor(2^63 * 2^(j/8)); never equal to a mantissa
  for (unsigned j = 0; j < 8; ++j) {
    bound[j] = static_cast<std::uint64_t>(std::ldexp(std::exp2(static_cast<long double>(j) / 8), 63));
  }
  std::array<ExponentialCell, 16> table{};
  for (std::uint64_t c = 0; c < 16; ++c) {
    const std::uint64_t start = (std::uint64_t{1} << 63) | (c << 59);
    const std::uint64_t end = start + (std::uint64_t{1} << 59) - 1;
    ExponentialCell cell{UINT64_MAX, 0};
    for (const std::uint64_t b : bound) {
      // "m > b" counts boundary b: below the cell it always does, inside it the compare decides.
      if (b < start) ++cell.base;
      if (b >= start && b <= end) cell.threshold = b;
    }
    table[c] = cell;
  }
  return table;
}

inline const std::array<ExponentialCell, 16> kExponentialTable = make_exponential_table();

// The same boundaries for the 52-bit fraction of a double: floor((2^(j/8) - 1) * 2^52); the
// 16 cells are the fraction's top 4 bits.
[[nodiscard]] inline std::array<ExponentialCell, 16> make_exponential_fraction_table() {
  std::array<ExponentialCell, 16> table{};
  for (std::size_t c = 0; c < 16; ++c) {
    const ExponentialCell& m = kExponentialTable[c];
    // The mantissa table shifted from 63 to 52 fraction bits (the leading one dropped); "none"
    // stays above every fraction.
    table[c] = {m.threshold == UINT64_MAX ? UINT64_MAX : (m.threshold - (std::uint64_t{1} << 63)) >> 11,
                m.base};
  }
  return table;
}

inline const std::array<ExponentialCell, 16> kExponentialFractionTable = make_exponential_fraction_table();

struct ExponentialScheme {
  std::uint8_t max_octave = 45;

  // Index of the +Inf bucket: everything above 2^max_octave.
  [[nodiscard]] constexpr std::uint32_t top_index() const noexcept { return 2 + 8u * max_octave; }
  [[nodiscard]] constexpr std::uint32_t bucket_count() const noexcept { return top_index() + 1; }

  [[nodiscard]] std::uint32_t index_of(std::uint64_t v) const noexcept {
    const std::uint64_t x = v | (v == 0);
    const unsigned e = static_cast<unsigned>(std::bit_width(x)) - 1;
    const std::uint64_t m = x << (63 - e);
    const ExponentialCell& cell = kExponentialTable[(m >> 59) & 15];
    const std::uint32_t k = 1 + 8 * e + cell.base + (m > cell.threshold);
    return v == 0 ? 0 : std::min(k, top_index());
  }

  // The same index through the hardware int->double conversion instead of bit_width and a variable
  // shift: the exponent field is e, the fraction's top 4 bits pick the cell. Exact for v < 2^53
  // (larger values land in the top bucket either way since max_octave <= 52).
  [[nodiscard]] std::uint32_t index_of_via_double(std::uint64_t v) const noexcept {
    const auto bits = std::bit_cast<std::uint64_t>(static_cast<double>(static_cast<std::int64_t>(v)));
    const auto e = static_cast<std::uint32_t>(bits >> 52) - 1023;  // sign set (v >= 2^63): huge
    const std::uint64_t fraction = bits & ((std::uint64_t{1} << 52) - 1);
    const ExponentialCell& cell = kExponentialFractionTable[fraction >> 48];
    const std::uint32_t k = 1 + 8 * e + cell.base + (fraction > cell.threshold);
    return v == 0 ? 0 : std::min(k, top_index());
  }

  // Inclusive upper edge of bucket i (not an integer: 2^((i-1)/8)); the top bucket has none.
  [[nodiscard]] static double upper_edge(std::uint32_t i) noexcept {
    return i == 0 ? 0.0 : std::exp2((static_cast<double>(i) - 1) / 8);
  }
};

}  // namespace wsm::bench

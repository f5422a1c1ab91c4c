// HDR log-linear histogram buckets in integer units (ns, bytes, percent).
//
// Each power-of-two octave is split into S = 2^kSubBits linear sub-buckets, so a bucket is at most
// 1/S = 12.5% as wide as the values it holds: every quantile read from the buckets is within 12.5%
// of the exact one. Values 0..2S-1 get one bucket each (exact).
//
// Buckets are (lower, upper] like Prometheus `le` buckets: a value v lands where the raw HDR index
// of v-1 points, so the upper edge of every bucket is an exact integer boundary that can be exposed
// as `le` without interpolation. Everything above 2^max_octave falls into the top bucket (+Inf).
#pragma once

#include <algorithm>
#include <bit>
#include <cstdint>

namespace wsm::shm {

inline constexpr unsigned kSubBits = 3;
inline constexpr std::uint64_t kSubBuckets = std::uint64_t{1} << kSubBits;  // S = 8

// Raw HDR index of x: octave e = floor(log2(x | S)), then the kSubBits bits below the top bit.
// OR-ing in S makes 0..S-1 fall into octave kSubBits with shift 0, so small values map to
// themselves and the whole thing is branchless: one OR, one lzcnt, two shifts, one add.
[[nodiscard]] constexpr std::uint32_t raw_bucket_index(std::uint64_t x) noexcept {
  const unsigned e = static_cast<unsigned>(std::bit_width(x | kSubBuckets)) - 1;
  const unsigned shift = e - kSubBits;
  return static_cast<std::uint32_t>((std::uint64_t{shift} << kSubBits) + (x >> shift));
}

// Smallest x whose raw index is i (the inverse of raw_bucket_index at bucket starts).
[[nodiscard]] constexpr std::uint64_t raw_bucket_lower(std::uint32_t i) noexcept {
  if (i < 2 * kSubBuckets) return i;
  const std::uint32_t group = i >> kSubBits;  // >= 2
  const std::uint64_t sub = i & (kSubBuckets - 1);
  return (kSubBuckets + sub) << (group - 1);
}

// Describes one family's buckets: values above 2^max_octave go to the top bucket.
struct HistogramScheme {
  std::uint8_t max_octave = 40;

  // Index of the top (+Inf) bucket; raw indices at or above it are clamped to it.
  [[nodiscard]] constexpr std::uint32_t top_index() const noexcept {
    return raw_bucket_index((std::uint64_t{1} << max_octave) - 1) + 1;
  }
  [[nodiscard]] constexpr std::uint32_t bucket_count() const noexcept { return top_index() + 1; }

  // The record path: v - (v != 0) shifts to (lower, upper] buckets without a branch.
  [[nodiscard]] constexpr std::uint32_t index_of(std::uint64_t v) const noexcept {
    return std::min(raw_bucket_index(v - (v != 0)), top_index());
  }

  // Inclusive upper edge of bucket i in integer units; the top bucket has none (+Inf).
  [[nodiscard]] constexpr std::uint64_t upper_edge(std::uint32_t i) const noexcept {
    return raw_bucket_lower(i + 1);
  }
  [[nodiscard]] constexpr bool is_top(std::uint32_t i) const noexcept { return i >= top_index(); }
};

// Octave ranges per unit: durations in ns up to 2^45 ns (9.8 h), sizes up to 1 TiB, percent up to
// 2^16. Chosen so a histogram cell stays below 3 KiB per writer.
inline constexpr std::uint8_t kMaxOctaveNanoseconds = 45;
inline constexpr std::uint8_t kMaxOctaveBytes = 40;
inline constexpr std::uint8_t kMaxOctavePercent = 16;
inline constexpr std::uint8_t kMaxOctaveOther = 40;

static_assert(raw_bucket_index(0) == 0 && raw_bucket_index(15) == 15 && raw_bucket_index(16) == 16);
static_assert(raw_bucket_index(17) == 16 && raw_bucket_index(18) == 17);
static_assert(raw_bucket_lower(raw_bucket_index(1000)) <= 1000);
static_assert(HistogramScheme{45}.bucket_count() == 345);

}  // namespace wsm::shm

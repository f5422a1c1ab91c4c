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

// Octaves above this are not supported: the index below is exact for values under 2^53.
inline constexpr std::uint8_t kMaxOctaveLimit = 52;

// Raw HDR index of x: 8 (e - 2) + the kSubBits bits after the leading one, e = floor(log2 x), and
// x itself below 2S. A double holds exactly those bits for x < 2^53: its top bits, bits >> 49, are
// 8 (e + 1023) + the same 3 bits, so the hardware int->double conversion computes the index (about
// half the cost of bit_width and two shifts) plus kIndexBias, 8 * 1025. The record path keeps that
// bias and folds it into its address arithmetic (HistogramScheme::word_of), so it is subtracted
// only here. Larger values only occur above max_octave and are clamped to the top bucket; from 2^63
// on the signed conversion is negative and the index huge, also clamped.
inline constexpr std::uint64_t kIndexBias = kSubBuckets * 1025;
[[nodiscard]] constexpr std::uint64_t biased_bucket_index(std::uint64_t x) noexcept {
  // Unlikely: recorded values below 16 (ns, bytes) are rare, so the conversion is the straight path.
  if (x < 2 * kSubBuckets) [[unlikely]] return x + kIndexBias;
  return std::bit_cast<std::uint64_t>(static_cast<double>(static_cast<std::int64_t>(x))) >> (52 - kSubBits);
}
[[nodiscard]] constexpr std::uint32_t raw_bucket_index(std::uint64_t x) noexcept {
  return static_cast<std::uint32_t>(biased_bucket_index(x) - kIndexBias);
}

// Smallest x whose raw index is i (the inverse of raw_bucket_index at bucket starts).
[[nodiscard]] constexpr std::uint64_t raw_bucket_lower(std::uint32_t i) noexcept {
  if (i < 2 * kSubBuckets) return i;
  const std::uint32_t group = i >> kSubBits;  // >= 2
  const std::uint64_t sub = i & (kSubBuckets - 1);
  return (kSubBuckets + sub) << (group - 1);
}

// Describes one family's buckets: values above 2^max_octave (at most kMaxOctaveLimit) go to the
// top bucket. The top is derived from max_octave once, so the record path does not recompute it,
// and kept with the index's bias, which the record path does not take off.
struct HistogramScheme {
  std::uint8_t max_octave = 40;
  std::uint32_t biased_top =
      static_cast<std::uint32_t>(biased_bucket_index((std::uint64_t{1} << max_octave) - 1) + 1);

  // Index of the top (+Inf) bucket; raw indices at or above it are clamped to it.
  [[nodiscard]] constexpr std::uint32_t top_index() const noexcept {
    return static_cast<std::uint32_t>(biased_top - kIndexBias);
  }
  [[nodiscard]] constexpr std::uint32_t bucket_count() const noexcept { return top_index() + 1; }

  // The bucket v counts in: v - (v != 0) shifts to (lower, upper] buckets without a branch.
  [[nodiscard]] constexpr std::uint32_t index_of(std::uint64_t v) const noexcept {
    return static_cast<std::uint32_t>(word_of(v) - 1);
  }
  // The record path: the word of a histogram cell (word 0 is _sum) that v counts in, 1 + index_of(v).
  // 64-bit and with the bias subtracted last, so `cell[word_of(v)]` compiles to one address
  // computation with the bias in its displacement.
  [[nodiscard]] constexpr std::uint64_t word_of(std::uint64_t v) const noexcept {
    return std::min(biased_bucket_index(v - (v != 0)), std::uint64_t{biased_top}) - (kIndexBias - 1);
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
static_assert(raw_bucket_index((std::uint64_t{1} << 52) + (std::uint64_t{1} << 49)) == (52 - 2) * 8 + 1);

}  // namespace wsm::shm

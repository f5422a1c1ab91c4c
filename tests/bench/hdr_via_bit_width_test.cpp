// The bench-local bit_width HDR index must equal the shipped (int->double) one on every value,
// or the benchmark comparing their cost would compare different bucketings.
#include <cstdint>
#include <gtest/gtest.h>
#include <random>

#include "hdr_via_bit_width.hpp"

namespace {

TEST(HdrViaBitWidth, EqualsTheShippedIndex) {
  const wsm::shm::HistogramScheme shipped{wsm::shm::kMaxOctaveNanoseconds};
  const wsm::bench::HdrViaBitWidth bit_width;
  for (std::uint64_t v = 0; v < 100'000; ++v) ASSERT_EQ(bit_width.index_of(v), shipped.index_of(v)) << v;
  std::mt19937_64 rng(3);
  for (int i = 0; i < 1'000'000; ++i) {
    const std::uint64_t v = rng() >> (rng() % 64);
    ASSERT_EQ(bit_width.index_of(v), shipped.index_of(v)) << v;
  }
  for (unsigned e = 0; e < 64; ++e) {
    const std::uint64_t p = std::uint64_t{1} << e;
    for (const std::uint64_t v : {p - 1, p, p + 1}) ASSERT_EQ(bit_width.index_of(v), shipped.index_of(v)) << v;
  }
  ASSERT_EQ(bit_width.index_of(~std::uint64_t{0}), shipped.index_of(~std::uint64_t{0}));
}

// Below the clamp the raw indices agree too (the clamp could hide a wrong raw index above 2^45).
TEST(HdrViaBitWidth, RawIndexEqualsTheShippedBelow2To52) {
  std::mt19937_64 rng(5);
  for (int i = 0; i < 1'000'000; ++i) {
    const std::uint64_t v = (rng() >> 12) >> (rng() % 52);
    ASSERT_EQ(wsm::bench::HdrViaBitWidth::raw_index(v), wsm::shm::raw_bucket_index(v)) << v;
  }
}

}  // namespace

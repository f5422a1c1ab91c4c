// The bench-local HDR-through-double index must equal the shipped one, or its timing is about
// something else.
#include <cstdint>
#include <gtest/gtest.h>
#include <random>

#include "hdr_via_double.hpp"

namespace {

TEST(HdrViaDouble, EqualsTheShippedIndex) {
  const wsm::shm::HistogramScheme shipped{wsm::shm::kMaxOctaveNanoseconds};
  const wsm::bench::HdrViaDouble via_double;
  for (std::uint64_t v = 0; v < 100'000; ++v) ASSERT_EQ(via_double.index_of(v), shipped.index_of(v)) << v;
  std::mt19937_64 rng(3);
  for (int i = 0; i < 1'000'000; ++i) {
    const std::uint64_t v = rng() >> (rng() % 64);
    ASSERT_EQ(via_double.index_of(v), shipped.index_of(v)) << v;
  }
  for (unsigned e = 0; e < 64; ++e) {
    const std::uint64_t p = std::uint64_t{1} << e;
    for (const std::uint64_t v : {p - 1, p, p + 1}) ASSERT_EQ(via_double.index_of(v), shipped.index_of(v)) << v;
  }
}

}  // namespace

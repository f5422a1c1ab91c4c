// The bench-local exponential scheme must bucket exactly as its definition says, or the accuracy
// and cost it reports for the lead's decision would be about a different scheme.
#include <cmath>
#include <cstdint>
#include <gtest/gtest.h>
#include <random>

#include "exponential_scheme.hpp"

namespace {

using wsm::bench::ExponentialScheme;

// Definition: bucket k >= 1 holds (2^((k-2)/8), 2^((k-1)/8)], so k = 1 + ceil(8 log2 v).
std::uint32_t reference_index(std::uint64_t v, const ExponentialScheme& s) {
  if (v == 0) return 0;
  const auto k = static_cast<std::uint32_t>(1 + std::ceil(8 * std::log2(static_cast<long double>(v))));
  return std::min(k, s.top_index());
}

TEST(ExponentialScheme, MatchesTheDefinitionOnSmallAndRandomValues) {
  const ExponentialScheme s{45};
  for (std::uint64_t v = 0; v < 100'000; ++v) {
    ASSERT_EQ(s.index_of(v), reference_index(v, s)) << v;
    ASSERT_EQ(s.index_of_via_double(v), reference_index(v, s)) << v;
  }
  std::mt19937_64 rng(1);
  for (int i = 0; i < 1'000'000; ++i) {
    const std::uint64_t v = rng() >> (rng() % 64);
    ASSERT_EQ(s.index_of(v), reference_index(v, s)) << v;
    ASSERT_EQ(s.index_of_via_double(v), reference_index(v, s)) << v;
  }
}

TEST(ExponentialScheme, PowersOfTwoCloseTheirBucketAndTheNextValueOpensOne) {
  const ExponentialScheme s{45};
  for (unsigned e = 0; e < 45; ++e) {
    const std::uint64_t p = std::uint64_t{1} << e;
    EXPECT_EQ(s.index_of(p), 1 + 8 * e) << e;
    EXPECT_DOUBLE_EQ(ExponentialScheme::upper_edge(s.index_of(p)), static_cast<double>(p));
    if (e >= 4) {
      EXPECT_EQ(s.index_of(p + 1), 2 + 8 * e) << e;  // 2^(1/8) is 9% above p
    }
  }
}

TEST(ExponentialScheme, EveryValueIsAtOrBelowItsUpperEdgeAndAboveTheLowerOne) {
  const ExponentialScheme s{45};
  std::mt19937_64 rng(2);
  for (int i = 0; i < 200'000; ++i) {
    const std::uint64_t v = 1 + (rng() >> (20 + rng() % 44));
    const std::uint32_t k = s.index_of(v);
    ASSERT_LT(k, s.top_index());
    const auto x = static_cast<long double>(v);
    ASSERT_LE(x, std::exp2((static_cast<long double>(k) - 1) / 8) * (1 + 1e-15L)) << v;
    ASSERT_GT(x, std::exp2((static_cast<long double>(k) - 2) / 8)) << v;
  }
}

TEST(ExponentialScheme, ValuesAboveTheTopOctaveGoToTheTopBucket) {
  const ExponentialScheme s{45};
  EXPECT_EQ(s.index_of((std::uint64_t{1} << 45) + 1), s.top_index());
  EXPECT_EQ(s.index_of(UINT64_MAX), s.top_index());
  EXPECT_EQ(s.index_of_via_double(UINT64_MAX), s.top_index());
  EXPECT_EQ(s.index_of_via_double((std::uint64_t{1} << 53) + 1), s.top_index());
  EXPECT_EQ(s.bucket_count(), s.top_index() + 1);
}

}  // namespace

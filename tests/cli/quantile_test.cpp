// shm::quantile: the value is in the bucket of the exact nearest-rank quantile, and within the
// stated relative error of it; edge cases (empty, exact small values, the saturated top bucket).
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <random>

#include "wsm/shm/quantile.hpp"

namespace wsm::shm {
namespace {

const HistogramScheme kScheme{kMaxOctaveNanoseconds};

std::vector<std::uint64_t> histogram_of(const std::vector<std::uint64_t>& values) {
  std::vector<std::uint64_t> counts(kScheme.bucket_count(), 0);
  for (std::uint64_t v : values) ++counts[kScheme.index_of(v)];
  return counts;
}

std::uint64_t exact(std::vector<std::uint64_t> values, double q) {
  std::sort(values.begin(), values.end());
  const auto rank = std::max<std::size_t>(1, static_cast<std::size_t>(std::ceil(q * static_cast<double>(values.size()))));
  return values[rank - 1];
}

TEST(Quantile, EmptyHasNone) {
  EXPECT_FALSE(quantile(kScheme, std::vector<std::uint64_t>(kScheme.bucket_count(), 0), 0.5));
  EXPECT_FALSE(quantile(kScheme, {}, 0.5));
}

TEST(Quantile, BucketRangesHoldTheirValues) {
  for (std::uint64_t v = 0; v < (1u << 20); v += 1 + v / 64) {
    const BucketRange r = bucket_range(kScheme, kScheme.index_of(v));
    ASSERT_LE(r.lower, v);
    ASSERT_GE(r.upper, v);
    ASSERT_LE(static_cast<double>(r.upper - r.lower), kQuantileRelativeError * static_cast<double>(std::max<std::uint64_t>(r.lower, 1)) + 1);
  }
}

TEST(Quantile, SingleValueIsBoundedAndSmallValuesAreExact) {
  for (std::uint64_t v : {0ull, 1ull, 2ull, 7ull, 15ull, 16ull, 17ull, 1000ull, 123456789ull}) {
    const auto e = quantile(kScheme, histogram_of({v}), 0.5);
    ASSERT_TRUE(e);
    EXPECT_LE(e->lower, v);
    EXPECT_GE(e->upper, v);
    EXPECT_LE(std::abs(static_cast<double>(e->value) - static_cast<double>(v)),
              kQuantileRelativeError * static_cast<double>(v) + (v <= 1 ? 1 : 0));
    if (v >= 2 && v <= 16) {
      EXPECT_EQ(e->value, v);
    }
  }
}

TEST(Quantile, WithinTheErrorBoundOfTheExactQuantile) {
  std::mt19937_64 rng(7);
  std::lognormal_distribution<double> latency(12.0, 1.5);  // ~160 us median, long tail
  std::vector<std::uint64_t> values(20000);
  for (auto& v : values) v = static_cast<std::uint64_t>(latency(rng));
  const auto counts = histogram_of(values);
  for (double q : {0.0, 0.01, 0.5, 0.9, 0.95, 0.99, 0.999, 1.0}) {
    const std::uint64_t want = exact(values, q);
    const auto e = quantile(kScheme, counts, q);
    ASSERT_TRUE(e);
    EXPECT_FALSE(e->saturated);
    EXPECT_LE(e->lower, want) << q;
    EXPECT_GE(e->upper, want) << q;
    EXPECT_LE(std::abs(static_cast<double>(e->value) - static_cast<double>(want)),
              kQuantileRelativeError * static_cast<double>(want))
        << "q=" << q << " exact " << want << " estimate " << e->value;
  }
}

TEST(Quantile, TopBucketIsSaturated) {
  const std::uint64_t huge = (std::uint64_t{1} << kScheme.max_octave) + 5;
  const auto e = quantile(kScheme, histogram_of({1, huge, huge}), 0.9);
  ASSERT_TRUE(e);
  EXPECT_TRUE(e->saturated);
  EXPECT_EQ(e->lower, (std::uint64_t{1} << kScheme.max_octave) + 1);
  EXPECT_EQ(e->upper, UINT64_MAX);
  const auto low = quantile(kScheme, histogram_of({1, huge, huge}), 0.2);
  ASSERT_TRUE(low);
  EXPECT_FALSE(low->saturated);
  EXPECT_EQ(low->value, 1u);
}

}  // namespace
}  // namespace wsm::shm

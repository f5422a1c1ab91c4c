// The HDR log-linear bucket index math: exact (lower, upper] edges, monotonic, error within 1/S.
#include <gtest/gtest.h>

#include <limits>
#include <random>

#include "wsm/shm/histogram_scheme.hpp"
#include "wsm/shm/layout.hpp"

namespace {

using wsm::shm::HistogramScheme;
using wsm::shm::kSubBuckets;

constexpr std::uint64_t kDenseLimit = std::uint64_t{1} << 20;

class SchemeTest : public ::testing::TestWithParam<int> {
 protected:
  HistogramScheme scheme{static_cast<std::uint8_t>(GetParam())};
  std::uint64_t max_value() const { return std::uint64_t{1} << scheme.max_octave; }
};

TEST_P(SchemeTest, EveryUpperEdgeLandsInItsBucketAndTheNextValueInTheNext) {
  for (std::uint32_t i = 0; i < scheme.top_index(); ++i) {
    const std::uint64_t edge = scheme.upper_edge(i);
    EXPECT_EQ(scheme.index_of(edge), i) << "upper edge " << edge << " of bucket " << i;
    EXPECT_EQ(scheme.index_of(edge + 1), i + 1) << "value " << edge + 1 << " after bucket " << i;
    if (i > 0) {
      EXPECT_GT(edge, scheme.upper_edge(i - 1)) << "edges must grow, bucket " << i;
    }
    EXPECT_FALSE(scheme.is_top(i));
  }
  EXPECT_TRUE(scheme.is_top(scheme.top_index()));
  EXPECT_EQ(scheme.bucket_count(), scheme.top_index() + 1);
}

TEST_P(SchemeTest, TheLastFiniteEdgeIsTwoToTheMaxOctave) {
  EXPECT_EQ(scheme.upper_edge(scheme.top_index() - 1), max_value());
}

TEST_P(SchemeTest, IndexIsMonotonicAndStepsByOneOverADenseSweep) {
  const std::uint64_t limit = std::min(kDenseLimit, max_value() + 2);
  std::uint32_t previous = scheme.index_of(0);
  for (std::uint64_t v = 1; v <= limit; ++v) {
    const std::uint32_t i = scheme.index_of(v);
    ASSERT_GE(i, previous) << "value " << v;
    ASSERT_LE(i, previous + 1) << "value " << v << " skips a bucket";
    previous = i;
  }
}

TEST_P(SchemeTest, IndexIsMonotonicOverRandomValuesOfEveryOctave) {
  std::mt19937_64 rng(GetParam());
  std::vector<std::uint64_t> values;
  for (unsigned octave = 0; octave < 64; ++octave) {
    const std::uint64_t lo = std::uint64_t{1} << octave;
    for (int k = 0; k < 200; ++k) values.push_back(lo + (rng() & (lo - 1)));
  }
  values.push_back(std::numeric_limits<std::uint64_t>::max());
  std::sort(values.begin(), values.end());
  for (std::size_t k = 1; k < values.size(); ++k) {
    ASSERT_LE(scheme.index_of(values[k - 1]), scheme.index_of(values[k]))
        << values[k - 1] << " then " << values[k];
  }
}

// Bucket i holds (upper_edge(i-1), upper_edge(i)]: reporting the upper edge for any value in it is
// off by at most 1/S of the value. Checked on every value up to 2^20 and, above, on the first,
// middle and last value of every bucket and random values up to 2^max_octave.
TEST_P(SchemeTest, RelativeErrorIsAtMostOneOverS) {
  auto check = [&](std::uint64_t v) {
    const std::uint32_t i = scheme.index_of(v);
    ASSERT_FALSE(scheme.is_top(i)) << v;
    const std::uint64_t upper = scheme.upper_edge(i);
    const std::uint64_t lower = i == 0 ? 0 : scheme.upper_edge(i - 1);  // exclusive
    ASSERT_LE(v, upper) << "value " << v << " above its bucket " << i;
    ASSERT_TRUE(i == 0 || v > lower) << "value " << v << " below its bucket " << i;
    ASSERT_LE((upper - v) * kSubBuckets, v) << "value " << v << " reported as " << upper;
  };
  const std::uint64_t limit = std::min(kDenseLimit, max_value());
  for (std::uint64_t v = 1; v <= limit; ++v) check(v);
  std::mt19937_64 rng(GetParam());
  for (std::uint32_t i = 1; i < scheme.top_index(); ++i) {
    const std::uint64_t lower = scheme.upper_edge(i - 1);
    const std::uint64_t upper = scheme.upper_edge(i);
    check(lower + 1);
    check(lower + (upper - lower) / 2 + 1);
    check(upper);
    check(lower + 1 + rng() % (upper - lower));
    // Bucket width over its lower bound: 1/S at most once buckets are wider than one value.
    if (upper - lower > 1) {
      EXPECT_LE((upper - lower) * kSubBuckets, lower) << "bucket " << i;
    }
  }
}

TEST_P(SchemeTest, ZeroAndOneShareTheFirstBucket) {
  EXPECT_EQ(scheme.index_of(0), 0u);
  EXPECT_EQ(scheme.index_of(1), 0u);
  EXPECT_EQ(scheme.upper_edge(0), 1u);
  EXPECT_EQ(scheme.index_of(2), 1u);
}

TEST_P(SchemeTest, ValuesAboveTwoToTheMaxOctaveGoToTheTopBucket) {
  const std::uint32_t top = scheme.top_index();
  EXPECT_EQ(scheme.index_of(max_value()), top - 1);
  EXPECT_EQ(scheme.index_of(max_value() + 1), top);
  EXPECT_EQ(scheme.index_of(std::numeric_limits<std::uint64_t>::max()), top);
  EXPECT_EQ(scheme.index_of(std::numeric_limits<std::uint64_t>::max() - 1), top);
  for (unsigned octave = scheme.max_octave + 1u; octave < 64; ++octave) {
    EXPECT_EQ(scheme.index_of(std::uint64_t{1} << octave), top) << "2^" << octave;
    EXPECT_EQ(scheme.index_of((std::uint64_t{1} << octave) + 1), top) << "2^" << octave << "+1";
  }
}

// The raw index is exact below 2^53 (kMaxOctaveLimit + 1), the range every scheme indexes.
TEST_P(SchemeTest, RawIndexInvertsAtBucketStarts) {
  std::mt19937_64 rng(7);
  for (int k = 0; k < 100000; ++k) {
    const std::uint64_t x = (rng() >> 11) >> (rng() % 53);  // below 2^53
    const std::uint32_t i = wsm::shm::raw_bucket_index(x);
    ASSERT_LE(wsm::shm::raw_bucket_lower(i), x);
    ASSERT_GT(wsm::shm::raw_bucket_lower(i + 1), x);
  }
}

INSTANTIATE_TEST_SUITE_P(Octaves, SchemeTest,
                         ::testing::Values(int{wsm::shm::kSubBits}, int{wsm::shm::kMaxOctavePercent},
                                           int{wsm::shm::kMaxOctaveBytes},
                                           int{wsm::shm::kMaxOctaveNanoseconds},
                                           int{wsm::shm::kMaxOctaveLimit}));

// The layout promise in the header comment: a histogram cell of any unit stays below 3 KiB.
TEST(HistogramCell, StaysBelowThreeKiBForEveryUnit) {
  for (std::uint8_t octave : {wsm::shm::kMaxOctaveNanoseconds, wsm::shm::kMaxOctaveBytes,
                              wsm::shm::kMaxOctavePercent, wsm::shm::kMaxOctaveOther}) {
    const std::uint64_t bytes =
        sizeof(wsm::shm::CellHeader) + 8ull * wsm::shm::histogram_words(HistogramScheme{octave}.bucket_count());
    EXPECT_LT(bytes, 3072u) << "max_octave " << int{octave};
  }
}

}  // namespace

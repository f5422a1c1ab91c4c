// The README's first example, built by CMake as tools/examples/readme_example, run as-is against
// its fixed segment "demo" (the test holds the ctest resource lock "demo").
#include <gtest/gtest.h>

#include "dump_json.hpp"
#include "segment_totals.hpp"
#include "test_support.hpp"
#include "wsm/shm/histogram_scheme.hpp"

namespace {

using wsm::test::SegmentGuard;

// The one finite `le` bucket a single recorded value shows: its bound holds the value and is
// within 1/S of it; its cumulative count is 1.
void expect_single_value_bucket(const nlohmann::json& series, double value) {
  const auto& buckets = series["buckets"];
  ASSERT_EQ(buckets.size(), 2u) << series.dump();
  const double le = buckets[0][0].get<double>();
  EXPECT_GE(le, value);
  EXPECT_LE(le, value * (1.0 + 1.0 / wsm::shm::kSubBuckets));
  EXPECT_EQ(buckets[0][1].get<std::uint64_t>(), 1u);
  EXPECT_EQ(buckets[1][0], "+Inf");
  EXPECT_EQ(buckets[1][1].get<std::uint64_t>(), 1u);
}

TEST(ReadmeExample, RunsAndTheDumpShowsWhatItRecorded) {
  SegmentGuard demo("demo");
  const auto r = wsm::test::run({wsm::test::bin("readme_example")});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  auto dump = wsm::test::dump_json("demo");
  ASSERT_TRUE(dump) << dump.error().message();
  auto& series = dump->series;
  EXPECT_EQ(dump->document["segment"], "demo");

  const auto sent = wsm::test::series_key("websocket_messages_sent_total", {{"role", "doctor"}});
  ASSERT_EQ(series.count(sent), 1u) << dump->document.dump();
  EXPECT_EQ(series[sent]["type"], "counter");
  EXPECT_EQ(series[sent]["value"].get<std::uint64_t>(), 5u);

  // The example has exited: a dead process's gauges are dropped, never folded (docs/design.md,
  // "Recording"),
  // so the registered series shows no level.
  const auto active = wsm::test::series_key("websocket_connections_active", {{"role", "doctor"}});
  ASSERT_EQ(series.count(active), 1u);
  EXPECT_EQ(series[active]["type"], "gauge");
  EXPECT_EQ(series[active]["value"].get<double>(), 0.0);

  const auto latency = wsm::test::series_key("websocket_message_latency_seconds", {{"message_type", "ecg_data"}});
  ASSERT_EQ(series.count(latency), 1u);
  EXPECT_EQ(series[latency]["type"], "histogram");
  EXPECT_EQ(series[latency]["count"].get<std::uint64_t>(), 1u);
  EXPECT_DOUBLE_EQ(series[latency]["sum"].get<double>(), 250e-6);
  expect_single_value_bucket(series[latency], 250e-6);

  const auto size = wsm::test::series_key("websocket_message_size_bytes", {{"direction", "out"}});
  ASSERT_EQ(series.count(size), 1u);
  EXPECT_EQ(series[size]["count"].get<std::uint64_t>(), 1u);
  EXPECT_EQ(series[size]["sum"].get<double>(), 1024.0);
  expect_single_value_bucket(series[size], 1024);

  EXPECT_EQ(series.size(), 4u) << dump->document.dump();

  // Run again: counts add up in the same segment.
  ASSERT_EQ(wsm::test::run({wsm::test::bin("readme_example")}).exit_code, 0);
  auto twice = wsm::test::dump_json("demo");
  ASSERT_TRUE(twice);
  EXPECT_EQ(twice->series[sent]["value"].get<std::uint64_t>(), 10u);
  EXPECT_EQ(twice->series[size]["count"].get<std::uint64_t>(), 2u);
}

}  // namespace

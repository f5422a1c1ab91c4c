// A real Prometheus (Debian's, started here on a free loopback port with a temp config and data
// dir, stopped by pid) scrapes a real wsm-exporter: the query API must return exactly what the
// writers recorded, and histogram_quantile over the exported classic buckets must be what
// Prometheus's interpolation gives for those buckets, inside the bucket holding the true quantile.
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <algorithm>
#include <cmath>
#include <filesystem>

#include "exporter_test_support.hpp"
#include "prometheus_process.hpp"

namespace {

using namespace wsm::test;
using nlohmann::json;

struct Bucket {
  double le;
  double count;
};

// Prometheus 2.42's bucketQuantile (promql/quantile.go) for sorted, monotonic classic buckets.
double prometheus_quantile(double q, const std::vector<Bucket>& b) {
  const double rank = q * b.back().count;
  std::size_t i = 0;
  while (i < b.size() - 1 && b[i].count < rank) ++i;
  if (i == b.size() - 1) return b[b.size() - 2].le;
  if (i == 0 && b[0].le <= 0) return b[0].le;
  const double start = i == 0 ? 0 : b[i - 1].le;
  const double in_bucket = b[i].count - (i == 0 ? 0 : b[i - 1].count);
  const double r = rank - (i == 0 ? 0 : b[i - 1].count);
  return start + (b[i].le - start) * (r / in_bucket);
}

TEST(Prometheus, ScrapesExactlyWhatWritersRecordedAndQuantilesFromTheBuckets) {
  const std::string seg = unique_segment_name("prom");
  SegmentGuard guard(seg);
  // Latencies in ns with their counts, split over two writer processes.
  const std::vector<std::pair<std::uint64_t, int>> latencies = {{100'000, 50}, {300'000, 30}, {2'000'000, 15}, {40'000'000, 5}};
  std::vector<std::string> a_ops = {"counter", "websocket_messages_sent_total", "message_type=vitals,role=doctor", "1234",
                                    "counter", "websocket_messages_received_total", "message_type=ecg_data,role=patient_monitor", "77",
                                    "gauge", "websocket_connections_active", "role=nurse", "4",
                                    // connection-table records: websocket_health_score's source
                                    "connection", "doctor", "u1", "-", "40", "0", "0",
                                    "connection", "admin", "u2", "-", "90", "0", "0"};
  std::vector<std::string> b_ops = {"counter", "websocket_messages_sent_total", "message_type=vitals,role=doctor", "766",
                                    "gauge", "websocket_connections_active", "role=nurse", "5"};
  std::vector<std::uint64_t> all;
  for (const auto& [ns, n] : latencies) {
    for (auto* ops : {&a_ops, &b_ops}) {
      ops->insert(ops->end(), {"hist", "websocket_message_latency_seconds", "message_type=vitals", std::to_string(ns),
                               std::to_string(ops == &a_ops ? n / 2 : n - n / 2)});
    }
    all.insert(all.end(), static_cast<std::size_t>(n), ns);
  }
  Child a = start_writer(seg, a_ops, "a");
  Child b = start_writer(seg, b_ops, "b");
  Exporter exporter(seg);
  ASSERT_TRUE(wait_for_http(exporter.port(), "/healthz", 200));

  Prometheus prometheus(exporter.port(), std::filesystem::temp_directory_path() / unique_segment_name("prometheus"));
  ASSERT_TRUE(prometheus.ready());
  ASSERT_TRUE(wait_until([&] { return prometheus.value("up{job=\"wsm\"}") == 1 &&
                                      !prometheus.query("websocket_messages_sent_total").empty(); },
                         std::chrono::seconds(30)));

  EXPECT_EQ(prometheus.value("websocket_messages_sent_total{message_type=\"vitals\",role=\"doctor\"}"), 2000);
  EXPECT_EQ(prometheus.value("websocket_messages_received_total"), 77);
  EXPECT_EQ(prometheus.value("websocket_connections_active{role=\"nurse\"}"), 9);
  EXPECT_EQ(prometheus.value("websocket_message_latency_seconds_count"), static_cast<double>(all.size()));
  std::uint64_t sum_ns = 0;
  for (std::uint64_t v : all) sum_ns += v;
  EXPECT_DOUBLE_EQ(prometheus.value("websocket_message_latency_seconds_sum"), static_cast<double>(sum_ns) / 1e9);
  // The LowHealthScore alert's expression (dashboards/prometheus) finds the doctor's connection;
  // under the default --id-labels drop the exporter gives each role its lowest score.
  const json low = prometheus.query("min by (job, instance, role) (websocket_health_score) < 70");
  ASSERT_EQ(low.size(), 1u) << low.dump();
  EXPECT_EQ(low[0]["metric"]["role"], "doctor");
  EXPECT_EQ(low[0]["value"][1], "40");
  EXPECT_EQ(prometheus.value("websocket_health_score{role=\"admin\"}"), 90);
  // Prometheus negotiated OpenMetrics: the counter's _created came through as its own series.
  EXPECT_FALSE(prometheus.query("websocket_messages_sent_created").empty());

  // The classic buckets as exported, read from the exporter itself.
  const auto exposition = parse_exposition(exporter.metrics());
  std::vector<Bucket> buckets;
  for (const auto& [series, value] : exposition.samples) {
    if (!series.starts_with("websocket_message_latency_seconds_bucket{")) continue;
    const auto le_at = series.find("le=\"") + 4;
    const std::string le = series.substr(le_at, series.find('"', le_at) - le_at);
    buckets.push_back({le == "+Inf" ? INFINITY : std::stod(le), std::stod(value)});
  }
  std::sort(buckets.begin(), buckets.end(), [](const Bucket& x, const Bucket& y) { return x.le < y.le; });
  ASSERT_GT(buckets.size(), 2u);
  std::sort(all.begin(), all.end());
  for (double q : {0.5, 0.9, 0.99}) {
    const double got = prometheus.value("histogram_quantile(" + std::to_string(q) +
                                        ", sum by (le) (websocket_message_latency_seconds_bucket))");
    EXPECT_NEAR(got, prometheus_quantile(q, buckets), 1e-12) << q;
    const double exact = static_cast<double>(all[static_cast<std::size_t>(std::ceil(q * all.size())) - 1]) / 1e9;
    const auto holding = std::find_if(buckets.begin(), buckets.end(), [&](const Bucket& x) { return exact <= x.le; });
    ASSERT_NE(holding, buckets.end());
    const double lower = holding == buckets.begin() ? 0 : std::prev(holding)->le;
    EXPECT_GT(got, lower) << q << ": the true quantile " << exact << " is in (" << lower << ", " << holding->le << "]";
    EXPECT_LE(got, holding->le) << q;
    // The exporter's own percentile API reads the finer HDR buckets: 12.5% bounds around the truth.
    const auto api = json::parse(exporter.get("/api/v1/percentiles?metric=websocket_message_latency_seconds&q=" + std::to_string(q))->body);
    EXPECT_LT(api["quantiles"][0]["lower"].get<double>(), exact);
    EXPECT_LE(exact, api["quantiles"][0]["upper"].get<double>());
  }
}

}  // namespace

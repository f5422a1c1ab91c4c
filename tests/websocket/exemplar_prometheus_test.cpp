// Traces through the demo into a real Prometheus (issue 20): wsm-loadgen sends a W3C traceparent
// with each upgrade request and in each message's envelope, wsm-demo-server records message
// latency with it as exemplar, wsm-exporter exposes the exemplars in OpenMetrics (never in text
// 0.0.4), and a real Prometheus 2.42 started with --enable-feature=exemplar-storage, scraping
// OpenMetrics, returns from /api/v1/query_exemplars trace ids that the load generator sent.
#include <gtest/gtest.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <set>

#include "demo_processes.hpp"
#include "exporter_test_support.hpp"
#include "prometheus_process.hpp"

namespace wsm::test {
namespace {

using nlohmann::json;
using namespace std::chrono_literals;

std::set<std::string> lines_of(const std::string& path) {
  std::set<std::string> out;
  std::ifstream in(path);
  for (std::string line; std::getline(in, line);) {
    if (!line.empty()) out.insert(line);
  }
  return out;
}

long long unix_seconds() {
  return std::chrono::duration_cast<std::chrono::seconds>(std::chrono::system_clock::now().time_since_epoch()).count();
}

TEST(Exemplars, ReachARealPrometheusAndComeBackThroughItsApi) {
  SegmentGuard guard(unique_segment_name("exemplars"));
  TempDir dir("exemplars");
  DemoServer server(guard.name(), 1);
  Exporter exporter(guard.name());
  ASSERT_TRUE(wait_for_http(exporter.port(), "/healthz", 200));
  const std::string log = dir.file("trace_ids");
  const auto r = run_loadgen({"--url", server.url(), "--clients", "3", "--messages", "300", "--trace-log", log});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const std::set<std::string> sent = lines_of(log);
  ASSERT_GE(sent.size(), 300u) << "one trace id per message and per connection";

  // OpenMetrics carries them, on the latency histogram's buckets; the text format never does.
  const auto om = exporter.get("/metrics", {{"Accept", "application/openmetrics-text; version=1.0.0"}});
  ASSERT_TRUE(om && om->status == 200);
  EXPECT_NE(om->body.find("websocket_message_latency_seconds_bucket{"), std::string::npos);
  EXPECT_NE(om->body.find(" # {trace_id=\""), std::string::npos);
  EXPECT_EQ(exporter.metrics().find("trace_id"), std::string::npos);

  // The exporter's own list of the slowest: trace ids the load generator sent.
  const auto listed = exporter.get("/api/v1/exemplars?window=600&top=5");
  ASSERT_TRUE(listed && listed->status == 200);
  const json by_type = json::parse(listed->body)["by_message_type"];
  ASSERT_FALSE(by_type.empty()) << listed->body;
  for (const auto& [type, list] : by_type.items()) {
    ASSERT_FALSE(list.empty()) << type;
    EXPECT_LE(list.size(), 5u) << type;
    for (const json& e : list) EXPECT_TRUE(sent.contains(e["trace_id"].get<std::string>())) << e.dump();
  }

  Prometheus prometheus(exporter.port(), dir.file("prometheus"), {"--enable-feature=exemplar-storage"});
  ASSERT_TRUE(prometheus.ready());
  json found;
  const auto query = "/api/v1/query_exemplars?query=websocket_message_latency_seconds_bucket&start=" +
                     std::to_string(unix_seconds() - 600) + "&end=" + std::to_string(unix_seconds() + 600);
  ASSERT_TRUE(wait_until([&] {
    found = prometheus.api(query);
    return found.is_array() && !found.empty();
  }, 60s)) << "Prometheus stored no exemplar";
  std::size_t exemplars = 0;
  for (const json& series : found) {
    for (const json& e : series["exemplars"]) {
      ++exemplars;
      const std::string trace = e["labels"]["trace_id"].get<std::string>();
      EXPECT_TRUE(sent.contains(trace)) << trace << " was not sent by the load generator";
      EXPECT_EQ(e["labels"]["span_id"].get<std::string>().size(), 16u);
    }
  }
  EXPECT_GT(exemplars, 0u);
}

}  // namespace
}  // namespace wsm::test

// `wsm` and the exporter show the same figure the same way: a histogram's percentiles (wsm top
// and /api/v1/percentiles use one quantile function) and the fullest writer arena (wsm inspect
// and /api/v1/segment use one definition).
#include <gtest/gtest.h>

#include <algorithm>
#include <cstdlib>
#include <nlohmann/json.hpp>
#include <sstream>

#include "exporter_test_support.hpp"

namespace {

using namespace wsm::test;
using nlohmann::json;

// The words of the first line of `text` that starts with `prefix`; empty if none.
std::vector<std::string> row(const std::string& text, const std::string& prefix) {
  std::istringstream lines(text);
  for (std::string line; std::getline(lines, line);) {
    if (!line.starts_with(prefix)) continue;
    std::istringstream in(line);
    std::vector<std::string> words;
    for (std::string w; in >> w;) words.push_back(w);
    return words;
  }
  return {};
}

json get_json(const Exporter& exporter, const std::string& path) {
  const auto r = exporter.get(path);
  EXPECT_TRUE(r && r->status == 200) << path << ": " << (r ? r->body : "no answer");
  return r ? json::parse(r->body, nullptr, false) : json();
}

// A unitless histogram of one repeated value (500, in the bucket [481, 512]): where inside its
// bucket a percentile lands is what the two definitions (interpolated, upper edge) disagree on,
// and top prints plain numbers for it.
TEST(CliAgreement, TopAndTheApiPrintTheSamePercentiles) {
  const std::string seg = unique_segment_name("agree-q");
  SegmentGuard guard(seg);
  Child writer = start_writer(seg, {"--repeat-ms", "5", "hist", "t_wait", "-", "500", "10"});
  Exporter exporter(seg);
  ASSERT_TRUE(wait_for_http(exporter.port(), "/healthz", 200));

  const auto top = run({bin("wsm"), "top", "--once", "--interval", "0.3", seg});
  ASSERT_EQ(top.exit_code, 0) << top.err;
  const auto shown = row(top.out, "t_wait ");
  ASSERT_EQ(shown.size(), 5u) << top.out;  // name, rate, p50, p95, p99
  const json api = get_json(exporter, "/api/v1/percentiles?metric=t_wait&q=0.5,0.95,0.99");
  ASSERT_EQ(api["quantiles"].size(), 3u) << api;
  for (std::size_t i = 0; i < 3; ++i) {
    const double in_top = std::strtod(shown[2 + i].c_str(), nullptr);
    const double in_api = api["quantiles"][i]["value"].get<double>();
    // Top's window holds fewer values than the API's all-time counts: the rank's place in the
    // bucket may differ by a value's share of it (31 / the window's count) plus rounding.
    EXPECT_NEAR(in_top, in_api, 2) << "q=" << api["quantiles"][i]["q"] << "\n" << top.out;
    EXPECT_GE(in_api, 481);
    EXPECT_LE(in_api, 512);
  }
}

TEST(CliAgreement, InspectAndTheApiShowTheSameFullestWriterArena) {
  const std::string seg = unique_segment_name("agree-arena");
  SegmentGuard guard(seg);
  // Two slots with different fills: the thread's counters and the process's gauge cell.
  Child writer = start_writer(seg, {"counter", "t_a_total", "k=1", "1", "counter", "t_a_total", "k=2", "1",
                                    "counter", "t_b_total", "-", "1", "gauge", "t_level", "-", "3"});
  Exporter exporter(seg);
  ASSERT_TRUE(wait_for_http(exporter.port(), "/healthz", 200));

  const json writers = get_json(exporter, "/api/v1/writers");
  std::uint64_t fullest = 0;
  ASSERT_GE(writers["writers"].size(), 2u) << writers;
  for (const auto& w : writers["writers"]) fullest = std::max(fullest, w["cells_bytes"].get<std::uint64_t>());
  const json api = get_json(exporter, "/api/v1/segment")["usage"]["fullest_writer_arena_bytes"];
  const auto inspect = run({bin("wsm"), "inspect", "--json", seg});
  ASSERT_EQ(inspect.exit_code, 0) << inspect.err;
  const json cli = json::parse(inspect.out)["usage"]["fullest_writer_arena_bytes"];
  EXPECT_EQ(api["used"], fullest) << api;
  EXPECT_EQ(cli["used"], api["used"]) << cli << " " << api;
  EXPECT_EQ(cli["capacity"], api["capacity"]) << cli << " " << api;
}

}  // namespace

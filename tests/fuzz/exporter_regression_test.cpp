// Bugs the exporter's fuzz targets (fuzz_query, fuzz_exposition) found, each pinned as a test
// named after it.
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "wsm/exporter/monitor.hpp"
#include "wsm/exposition/format.hpp"
#include "wsm/exporter/routes.hpp"
#include "test_support.hpp"

namespace {

using namespace wsm;

exporter::Response get(exporter::Monitor& monitor, std::string_view path, std::string_view query) {
  thread_local exporter::ScrapeBuffers buffers;
  return exporter::handle(monitor, {"GET", path, query, "", ""}, buffers);
}

// fuzz_query found it: an error message that quotes a decoded parameter name holding invalid UTF-8
// (?%FF=1) made nlohmann::json::dump throw, and an exception out of the civetweb handler ends the
// exporter. Answers now replace invalid UTF-8 with U+FFFD.
TEST(FuzzRegression, InvalidUtf8InQueryThrewFromJsonDump) {
  exporter::Settings settings;
  settings.segment = test::unique_segment_name("no-such");
  exporter::Monitor monitor(settings, exposition::IdLabelPolicy());
  for (const auto& [path, query] : {std::pair{"/api/v1/snapshots", "%FF=1"}, {"/api/v1/snapshots", "n=%C3%28"},
                                    {"/api/v1/percentiles", "%FF=x&metric=m"}, {"/\xff", ""}}) {
    exporter::Response r;
    ASSERT_NO_THROW(r = get(monitor, path, query)) << path << "?" << query;
    EXPECT_GE(r.status, 400) << path << "?" << query;
    const auto body = nlohmann::json::parse(r.body, nullptr, false);
    ASSERT_FALSE(body.is_discarded()) << r.body;
    EXPECT_NE(body["error"].get<std::string>().find("\xef\xbf\xbd"), std::string::npos) << r.body;
  }
}

// The same request to the real daemon: it answers 400 and keeps serving.
TEST(FuzzRegression, InvalidUtf8InQueryKeepsTheExporterUp) {
  const int port = test::free_port();
  test::Child exporter = test::Child::spawn({test::bin("wsm-exporter"), "--segment", test::unique_segment_name("no-such"),
                                             "--listen", "127.0.0.1:" + std::to_string(port)});
  ASSERT_TRUE(test::wait_for_http(port, "/healthz", 503));
  const auto r = test::http_get(port, "/api/v1/snapshots?%FF=1");
  ASSERT_TRUE(r.has_value());
  EXPECT_EQ(r->status, 400);
  EXPECT_TRUE(test::wait_for_http(port, "/healthz", 503)) << "the exporter went away";
  exporter.signal(SIGTERM);
  EXPECT_EQ(exporter.wait(), 0);
}

// fuzz_exposition found it: OpenMetrics names a counter family without its _total, so a counter
// registered as "_total" (a valid name) got an empty family name ("# HELP  ..."), and Prometheus
// refuses the whole scrape. Such a family keeps its name now.
TEST(FuzzRegression, CounterNamedOnlyTotalHadAnEmptyOpenMetricsFamilyName) {
  exposition::ComputedFamily family{"_total", "help", shm::MetricType::counter, {{"", 3}}};
  std::string text;
  exposition::Writer().write(exposition::Format::openmetrics, nullptr, {&family, 1}, 0, text);
  EXPECT_NE(text.find("# HELP _total help\n# TYPE _total counter\n_total_total 3\n"), std::string::npos) << text;
  EXPECT_EQ(text.find("# HELP  "), std::string::npos) << text;
}

}  // namespace

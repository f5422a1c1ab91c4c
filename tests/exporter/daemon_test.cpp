// The daemon's plain functions: settings, content negotiation, derived metrics, quantiles and
// the JSON API's answers, run in-process against real segments.
#include <gtest/gtest.h>
#include <wsm/writer.hpp>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <map>
#include <unistd.h>

#include "wsm/exporter/api.hpp"
#include "wsm/exporter/capacity_watch.hpp"
#include "wsm/exporter/derive.hpp"
#include "exporter_test_support.hpp"
#include "wsm/exporter/monitor.hpp"
#include "wsm/exporter/negotiation.hpp"
#include "wsm/exporter/quantile.hpp"
#include "wsm/exporter/routes.hpp"
#include "wsm/exporter/settings.hpp"
#include "wsm/websocket_thresholds.hpp"
#include "wsm/shm/histogram_scheme.hpp"
#include "wsm/shm/limits.hpp"

namespace {

using namespace wsm;
using namespace wsm::exporter;
using exposition::Format;

ParseOutcome parse(std::vector<std::string> args, std::map<std::string, std::string> env = {}) {
  args.insert(args.begin(), "wsm-exporter");
  return parse_settings(args, [env](const char* name) -> const char* {
    const auto it = env.find(name);
    return it == env.end() ? nullptr : it->second.c_str();
  });
}

std::string write_file(const std::string& text) {
  const auto path = std::filesystem::temp_directory_path() / (test::unique_segment_name("config") + ".json");
  std::ofstream(path) << text;
  return path.string();
}

TEST(Settings, DefaultsAndPrecedenceFlagOverEnvironmentOverConfig) {
  const auto d = parse({});
  ASSERT_TRUE(d.settings) << d.message;
  EXPECT_EQ(d.settings->segment, "wsm");
  EXPECT_EQ(d.settings->listen, "127.0.0.1:9470");
  EXPECT_EQ(d.settings->interval_seconds, 5);
  EXPECT_TRUE(d.settings->resource_monitoring);
  EXPECT_EQ(d.settings->id_labels, exposition::IdLabelMode::drop);
  EXPECT_FALSE(d.settings->allow_foreign_segment);
  EXPECT_EQ(d.settings->web_config, "");
  EXPECT_EQ(d.settings->http_timeout_seconds, 10);
  // A bare switch means on; the variable and an explicit value say either.
  EXPECT_TRUE(parse({"--allow-foreign-segment", "--interval", "3"}).settings->allow_foreign_segment);
  EXPECT_TRUE(parse({}, {{"WSM_ALLOW_FOREIGN_SEGMENT", "on"}}).settings->allow_foreign_segment);
  EXPECT_FALSE(parse({"--allow-foreign-segment", "off"}, {{"WSM_ALLOW_FOREIGN_SEGMENT", "on"}})
                   .settings->allow_foreign_segment);
  EXPECT_EQ(parse({}, {{"WSM_WEB_CONFIG", "/etc/wsm/web.yml"}}).settings->web_config, "/etc/wsm/web.yml");
  EXPECT_EQ(parse({"--http-timeout", "3"}).settings->http_timeout_seconds, 3);

  const std::string config = write_file(R"({"interval": 7, "segment": "from-config", "cpu_threshold": 55,
                                            "resource_monitoring": false, "id_labels": "hash"})");
  const auto s = parse({"--config", config, "--interval", "9"},
                       {{"WEBSOCKET_METRICS_INTERVAL", "8"}, {"WSM_SEGMENT", "from-env"}, {"WEBSOCKET_LATENCY_THRESHOLD", "0.25"}});
  ASSERT_TRUE(s.settings) << s.message;
  EXPECT_EQ(s.settings->interval_seconds, 9);
  EXPECT_EQ(s.settings->segment, "from-env");
  EXPECT_EQ(s.settings->thresholds.cpu_percent, 55);
  EXPECT_EQ(s.settings->thresholds.latency_seconds, 0.25);
  EXPECT_FALSE(s.settings->resource_monitoring);
  EXPECT_EQ(s.settings->id_labels, exposition::IdLabelMode::hash);
  const auto via_env = parse({}, {{"WSM_CONFIG", config}});
  ASSERT_TRUE(via_env.settings);
  EXPECT_EQ(via_env.settings->interval_seconds, 7);
  std::filesystem::remove(config);
}

// One WEBSOCKET_*_THRESHOLD table for the exporter and the alert rules: each variable lands in the
// same field with the same value in both, and the flag and config key of each set it too.
TEST(Settings, ThresholdsReadTheSameVariablesAsTheAlertRules) {
  const std::map<std::string, std::string> env = {
      {"WEBSOCKET_LATENCY_THRESHOLD", "0.25"}, {"WEBSOCKET_CPU_THRESHOLD", "150"},
      {"WEBSOCKET_MEMORY_THRESHOLD", "2097152"}, {"WEBSOCKET_FAILURE_RATE_THRESHOLD", "0.125"},
      {"WEBSOCKET_HEALTH_SCORE_THRESHOLD", "55"}};
  const auto exporter = parse({}, env);
  ASSERT_TRUE(exporter.settings) << exporter.message;
  const auto rules = wsm::ws::thresholds_from_env([&](const char* name) -> const char* {
    const auto it = env.find(name);
    return it == env.end() ? nullptr : it->second.c_str();
  });
  ASSERT_TRUE(rules.has_value()) << rules.error().message();
  const wsm::ws::Thresholds defaults;
  for (const wsm::ws::ThresholdSpec& spec : wsm::ws::kThresholdSpecs) {
    EXPECT_EQ(spec.get(exporter.settings->thresholds), std::stod(env.at(spec.env))) << spec.env;
    EXPECT_EQ(spec.get(*rules), spec.get(exporter.settings->thresholds)) << spec.env;
    EXPECT_NE(spec.get(defaults), spec.get(*rules)) << spec.env << ": the test value is the default";
    const auto by_flag = parse({spec.flag, env.at(spec.env)});
    ASSERT_TRUE(by_flag.settings) << by_flag.message;
    EXPECT_EQ(spec.get(by_flag.settings->thresholds), spec.get(*rules)) << spec.flag;
  }
  EXPECT_EQ(exporter.settings->thresholds.failure_ratio, 0.125) << "a fraction of sent messages";
}

// The exporter once read failures per second from WEBSOCKET_FAILED_RATE_THRESHOLD; the number now
// means a fraction, so an old setting is refused with the new name instead of being misread.
TEST(Settings, TheRenamedFailureVariableIsRefusedWithItsReplacement) {
  const auto r = parse({}, {{"WEBSOCKET_FAILED_RATE_THRESHOLD", "1"}});
  EXPECT_FALSE(r.settings);
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.message.find("WEBSOCKET_FAILURE_RATE_THRESHOLD"), std::string::npos) << r.message;
  EXPECT_NE(r.message.find("fraction"), std::string::npos) << r.message;
}

TEST(Settings, EveryBadValueIsOneLineNamingTheKeyAndWhatIsAllowed) {
  struct Case {
    std::vector<std::string> args;
    std::map<std::string, std::string> env;
    std::string names;    // the key as the source spelled it
    std::string allowed;  // part of the allowed range
  };
  const std::vector<Case> cases = {
      {{"--interval", "0"}, {}, "--interval", "1-60"},
      {{"--interval", "61"}, {}, "--interval", "1-60"},
      {{"--interval", "2.5"}, {}, "--interval", "integer"},
      {{}, {{"WEBSOCKET_METRICS_INTERVAL", "x"}}, "WEBSOCKET_METRICS_INTERVAL", "1-60"},
      {{"--listen", "localhost:80"}, {}, "--listen", "IPv4"},
      {{"--listen", "127.0.0.1:0"}, {}, "--listen", "1-65535"},
      {{"--segment", "a/b"}, {}, "--segment", "[A-Za-z0-9_.-]"},
      {{"--resource-monitoring", "maybe"}, {}, "--resource-monitoring", "on or off"},
      {{}, {{"WEBSOCKET_RESOURCE_MONITORING", "yes please"}}, "WEBSOCKET_RESOURCE_MONITORING", "on or off"},
      {{"--id-labels", "keep"}, {}, "--id-labels", "drop, hash or raw"},
      {{}, {{"WEBSOCKET_LATENCY_THRESHOLD", "0"}}, "WEBSOCKET_LATENCY_THRESHOLD", "(0, 60] seconds"},
      {{}, {{"WEBSOCKET_CPU_THRESHOLD", "-1"}}, "WEBSOCKET_CPU_THRESHOLD", "(0, 10000]"},
      {{}, {{"WEBSOCKET_MEMORY_THRESHOLD", "1.5"}}, "WEBSOCKET_MEMORY_THRESHOLD", "whole number"},
      {{"--failure-rate-threshold", "nan"}, {}, "--failure-rate-threshold", "(0, 1)"},
      {{"--failure-rate-threshold", "1"}, {}, "--failure-rate-threshold", "fraction"},
      {{"--health-score-threshold", "101"}, {}, "--health-score-threshold", "(0, 100]"},
      {{"--http-timeout", "0"}, {}, "--http-timeout", "1-300"},
      {{}, {{"WSM_ALLOW_FOREIGN_SEGMENT", "sure"}}, "WSM_ALLOW_FOREIGN_SEGMENT", "on or off"},
      {{"--unknown-flag"}, {}, "--unknown-flag", "--help"},
      {{"--interval"}, {}, "--interval", "--help"},
  };
  for (const Case& c : cases) {
    const auto r = parse(c.args, c.env);
    EXPECT_FALSE(r.settings) << c.names;
    EXPECT_EQ(r.exit_code, 2) << c.names;
    EXPECT_NE(r.message.find(c.names), std::string::npos) << r.message;
    EXPECT_NE(r.message.find(c.allowed), std::string::npos) << r.message;
    EXPECT_EQ(r.message.find('\n'), std::string::npos) << r.message;
  }
  for (const auto& [text, key] : std::vector<std::pair<std::string, std::string>>{
           {R"({"interval": 100})", "\"interval\""}, {R"({"bogus": 1})", "\"bogus\""},
           {R"({"listen": [1]})", "\"listen\""}, {"{not json", "not valid JSON"}, {"[1]", "JSON object"}}) {
    const std::string config = write_file(text);
    const auto r = parse({"--config", config});
    EXPECT_EQ(r.exit_code, 2) << text;
    EXPECT_NE(r.message.find(key), std::string::npos) << r.message;
    EXPECT_NE(r.message.find(config), std::string::npos) << r.message;
    std::filesystem::remove(config);
  }
  const auto help = parse({"--help"});
  EXPECT_EQ(help.exit_code, 0);
  for (const char* listed : {"--segment", "WSM_SEGMENT", "--listen", "--interval", "WEBSOCKET_METRICS_INTERVAL",
                             "--resource-monitoring", "WEBSOCKET_RESOURCE_MONITORING", "--id-labels", "--config",
                             "WEBSOCKET_LATENCY_THRESHOLD", "WEBSOCKET_CPU_THRESHOLD", "WEBSOCKET_MEMORY_THRESHOLD",
                             "WEBSOCKET_FAILURE_RATE_THRESHOLD", "WEBSOCKET_HEALTH_SCORE_THRESHOLD",
                             "--allow-foreign-segment", "WSM_ALLOW_FOREIGN_SEGMENT", "--web-config",
                             "WSM_WEB_CONFIG", "--http-timeout", "WSM_HTTP_TIMEOUT",
                             // every endpoint routes.cpp serves
                             "/metrics", "/api/v1/summary", "/api/v1/percentiles", "/api/v1/snapshots",
                             "/api/v1/connections", "/api/v1/connections/{id}", "/api/v1/writers",
                             "/api/v1/segment", "/api/v1/breakdown", "/api/v1/exemplars", "/healthz", "live page (/)"}) {
    EXPECT_NE(help.message.find(listed), std::string::npos) << listed;
  }
}

TEST(CapacityWatch, OneLineAtEightyOneAtTheCapAndAgainOnlyAfterFallingBelowSeventy) {
  CapacityWatch watch;
  const auto lines = [&](std::uint64_t family_used, std::uint64_t connections_used) {
    shm::SegmentFill fill;
    fill.families = {{"t_total", family_used, 10}};
    fill.regions = {{"connections", connections_used, 100}};
    return watch.update(fill);
  };
  EXPECT_TRUE(lines(7, 10).empty());
  auto near = lines(8, 10);
  ASSERT_EQ(near.size(), 1u);
  EXPECT_NE(near[0].find("family t_total nears its series cap: 8 of 10 (80.0%)"), std::string::npos) << near[0];
  EXPECT_TRUE(lines(9, 10).empty());
  auto full = lines(10, 100);
  ASSERT_EQ(full.size(), 2u);
  EXPECT_NE(full[0].find("family t_total reached its series cap: 10 of 10"), std::string::npos) << full[0];
  EXPECT_NE(full[1].find("segment connections is full: 100 of 100 (100.0%) used; when full, new connections"),
            std::string::npos) << full[1];
  EXPECT_NE(full[1].find("raise Limits::max_connections"), std::string::npos);
  EXPECT_TRUE(lines(10, 75).empty()) << "fell, but not below 70%";
  EXPECT_TRUE(lines(10, 100).empty());
  EXPECT_TRUE(lines(10, 69).empty());
  auto again = lines(10, 85);
  ASSERT_EQ(again.size(), 1u) << "forgotten below 70%, so reported again";
  EXPECT_NE(again[0].find("segment connections nears full: 85 of 100"), std::string::npos) << again[0];
  watch.reset();
  EXPECT_EQ(lines(10, 85).size(), 2u) << "a new segment: everything reported again";
}

TEST(Negotiation, PrometheusGetsOpenMetricsAndEveryoneElseText) {
  const std::string prometheus =
      "application/openmetrics-text;version=1.0.0;q=0.5,application/openmetrics-text;version=0.0.1;q=0.4,"
      "text/plain;version=0.0.4;q=0.3,*/*;q=0.2";
  EXPECT_EQ(negotiate_format(prometheus), Format::openmetrics);
  EXPECT_EQ(negotiate_format(""), Format::prometheus_text);
  EXPECT_EQ(negotiate_format("*/*"), Format::prometheus_text);
  EXPECT_EQ(negotiate_format("text/plain"), Format::prometheus_text);
  EXPECT_EQ(negotiate_format("application/openmetrics-text"), Format::openmetrics);
  EXPECT_EQ(negotiate_format("application/openmetrics-text; version=1.0.0"), Format::openmetrics);
  EXPECT_EQ(negotiate_format("application/openmetrics-text;version=0.0.1"), Format::prometheus_text);
  EXPECT_EQ(negotiate_format("application/openmetrics-text;q=0"), Format::prometheus_text);
  EXPECT_EQ(negotiate_format("text/plain;q=0.9, application/openmetrics-text;q=0.8"), Format::prometheus_text);
  EXPECT_EQ(negotiate_format("text/plain;q=0.1, Application/OpenMetrics-Text;q=0.8"), Format::openmetrics);
  EXPECT_EQ(negotiate_format("application/json"), Format::prometheus_text);

  EXPECT_TRUE(accepts_gzip("gzip"));
  EXPECT_TRUE(accepts_gzip("deflate, gzip;q=0.5"));
  EXPECT_TRUE(accepts_gzip("*"));
  EXPECT_FALSE(accepts_gzip(""));
  EXPECT_FALSE(accepts_gzip("identity"));
  EXPECT_FALSE(accepts_gzip("gzip;q=0"));
  EXPECT_FALSE(accepts_gzip("*, gzip;q=0"));
}

TEST(Quantile, HdrBoundsContainTheExactQuantile) {
  std::vector<std::uint64_t> values;
  for (std::uint64_t i = 1; i <= 5000; ++i) values.push_back(i * i * 37 % 9'000'000 + 20);
  const shm::HistogramScheme scheme{shm::kMaxOctaveNanoseconds};
  std::vector<std::uint64_t> buckets(scheme.bucket_count(), 0);
  for (std::uint64_t v : values) ++buckets[scheme.index_of(v)];
  std::sort(values.begin(), values.end());
  for (double q : {0.01, 0.5, 0.9, 0.95, 0.99, 1.0}) {
    const auto r = hdr_quantile(buckets, shm::kMaxOctaveNanoseconds, shm::Unit::seconds, q);
    ASSERT_TRUE(r);
    const double exact = static_cast<double>(values[static_cast<std::size_t>(std::ceil(q * values.size())) - 1]) / 1e9;
    EXPECT_LT(r->lower, exact) << q;
    EXPECT_LE(exact, r->upper) << q;
    EXPECT_LT(r->lower, r->value) << q;
    EXPECT_LE(r->value, r->upper) << q;
    EXPECT_LE(std::abs(r->value - exact), 0.125 * exact) << q;
    EXPECT_LE((r->upper - r->lower) / r->upper, 0.125 + 1e-12);
  }
  EXPECT_FALSE(hdr_quantile(std::vector<std::uint64_t>(10, 0), 40, shm::Unit::none, 0.5));
}

// A segment recorded in-process and read back, twice, as two intervals of the exporter.
struct TwoIntervals {
  std::string name = test::unique_segment_name("derive");
  test::SegmentGuard guard{name};
  Registry reg = *Registry::open(name, {.role = "unit", .enabled = true});
  shm::Segment segment = *shm::Segment::open(name, {shm::Access::read_only});
  shm::CatalogView catalog;
  Deriver deriver;

  void interval(std::uint64_t mono_s) {
    const auto snap = shm::Snapshot::take(segment, catalog);
    ASSERT_TRUE(snap);
    deriver.update(shm::Aggregation::of(catalog, *snap), snap->generation, mono_s * 1'000'000'000, snap->taken_unix_ns);
  }
  std::map<std::string, double> family(const std::string& n) const {
    std::map<std::string, double> out;
    for (const auto& f : deriver.families()) {
      if (f.name == n) {
        for (const auto& s : f.samples) out[s.labels] = s.value;
      }
    }
    return out;
  }
};

TEST(Deriver, RatesAndHeartbeatRatioComeFromCounterDeltasOverTheInterval) {
  TwoIntervals t;
  auto sent_doc = t.reg.counter("websocket_messages_sent_total", {{"message_type", "vitals"}, {"role", "doctor"}, {"priority", "high"}});
  auto sent_doc2 = t.reg.counter("websocket_messages_sent_total", {{"message_type", "vitals"}, {"role", "doctor"}, {"priority", "low"}});
  auto recv = t.reg.counter("websocket_messages_received_total", {{"message_type", "ecg_data"}, {"role", "patient_monitor"}, {"source_type", "device"}});
  auto bytes_in = t.reg.counter("websocket_transferred_bytes_total", {{"direction", "in"}, {"protocol", "websocket"}, {"role", "nurse"}});
  auto hb_sent = t.reg.counter("websocket_heartbeats_sent_total", {{"role", "nurse"}});
  auto hb_acked = t.reg.counter("websocket_heartbeats_acked_total", {{"role", "nurse"}});
  auto failed = t.reg.counter("websocket_failed_messages_total", {{"message_type", "vitals"}, {"failure_reason", "x"}, {"role", "doctor"}});
  auto open = t.reg.gauge("websocket_connections_active", {{"role", "doctor"}, {"user_id", "u1"}});
  auto latency = t.reg.histogram("websocket_message_latency_seconds", {{"message_type", "vitals"}});
  auto closed = t.reg.counter("websocket_disconnections_total", {{"reason", "client_close"}, {"role", "nurse"}});
  closed.inc(7);
  sent_doc.inc(100);
  hb_sent.inc(10);
  hb_acked.inc(10);
  latency.record(std::chrono::seconds(30));  // before the window: not in the interval's p95
  t.interval(10);
  EXPECT_TRUE(t.family("websocket_throughput_messages_per_second").empty()) << "no rate on the first interval";
  EXPECT_FALSE(t.deriver.figures().failed_per_second);
  EXPECT_FALSE(t.deriver.figures().failure_ratio);

  sent_doc.inc(30);
  sent_doc2.inc(10);
  recv.inc(8);
  bytes_in.inc(4096);
  hb_sent.inc(20);
  hb_acked.inc(15);
  failed.inc(6);
  closed.inc(4);
  open.set(3);
  for (int i = 0; i < 100; ++i) latency.record(std::chrono::microseconds(100 + i));
  t.interval(12);  // 2 s later
  const auto tp = t.family("websocket_throughput_messages_per_second");
  EXPECT_EQ(tp.at("direction=\"out\",message_type=\"vitals\",role=\"doctor\""), 20.0);  // (30 + 10) / 2
  EXPECT_EQ(tp.at("direction=\"in\",message_type=\"ecg_data\",role=\"patient_monitor\""), 4.0);
  EXPECT_EQ(t.family("websocket_bandwidth_bytes_per_second").at("direction=\"in\",protocol=\"websocket\",role=\"nurse\""), 2048.0);
  EXPECT_EQ(t.family("websocket_heartbeat_success_rate_percent").at("role=\"nurse\""), 75.0);
  const IntervalFigures& f = t.deriver.figures();
  EXPECT_EQ(f.seconds, 2.0);
  EXPECT_EQ(*f.messages_out_per_second, 20.0);
  EXPECT_EQ(*f.messages_in_per_second, 4.0);
  EXPECT_EQ(*f.bytes_in_per_second, 2048.0);
  EXPECT_EQ(*f.failed_per_second, 3.0);
  EXPECT_EQ(*f.failure_ratio, 6.0 / 40.0) << "failed over sent in the interval, as the alert rule";
  EXPECT_EQ(f.sent, 140u);
  EXPECT_EQ(f.received, 8u);
  EXPECT_EQ(f.failed, 6u);
  EXPECT_EQ(f.disconnections, 11u);
  EXPECT_EQ(*f.disconnections_per_second, 2.0);  // 4 / 2 s
  EXPECT_EQ(f.heartbeat_success_by_role.at("nurse"), 75.0);
  EXPECT_EQ(f.connections_total, 3);
  EXPECT_EQ(f.connections_by_role.at("doctor"), 3);
  ASSERT_TRUE(f.latency_p95);
  const double exact_p95 = 194e-6;  // the 95th of 100..199 µs
  EXPECT_LT(f.latency_p95->lower, exact_p95);
  EXPECT_LE(exact_p95, f.latency_p95->upper);

  t.interval(13);  // nothing moved: rates are 0, the ratio is absent
  EXPECT_EQ(t.family("websocket_throughput_messages_per_second").at("direction=\"out\",message_type=\"vitals\",role=\"doctor\""), 0.0);
  EXPECT_TRUE(t.family("websocket_heartbeat_success_rate_percent").empty());
  EXPECT_TRUE(t.deriver.figures().heartbeat_success_by_role.empty());
  EXPECT_EQ(*t.deriver.figures().disconnections_per_second, 0.0);
}

// The interval's snapshot copies only the families the derivation reads (shm_core's
// SnapshotOptions::only_families), and the aggregation leaves the others out.
TEST(Deriver, IntervalSnapshotCopiesOnlyTheInputFamilies) {
  TwoIntervals t;
  t.reg.counter("websocket_messages_sent_total", {{"role", "doctor"}}).inc(3);
  t.reg.counter("t_unrelated_total", {{"role", "doctor"}}).inc(5);
  t.reg.histogram("t_unrelated_seconds").record(std::chrono::seconds(1));
  shm::SnapshotOptions options;
  options.only_families = t.deriver.input_families();
  const auto part = shm::Snapshot::take(t.segment, t.catalog, options);
  const auto full = shm::Snapshot::take(t.segment, t.catalog);
  ASSERT_TRUE(part && full);
  EXPECT_EQ(part->cells.size(), 1u);
  EXPECT_EQ(full->cells.size(), 3u);
  const auto a = shm::Aggregation::of(t.catalog, *part);
  ASSERT_EQ(a.points.size(), 1u);
  EXPECT_EQ(a.points[0].family->name, "websocket_messages_sent_total");
  EXPECT_EQ(a.points[0].counter, 3u);
  EXPECT_EQ(shm::Aggregation::of(t.catalog, *full).points.size(), 3u);
}

// The API answers of a Monitor attached to an in-process segment.
TEST(Api, PercentilesSnapshotsSummaryAndErrors) {
  const std::string name = test::unique_segment_name("api");
  test::SegmentGuard guard(name);
  Registry reg = *Registry::open(name, {.role = "unit", .enabled = true});
  auto lat = reg.histogram("websocket_message_latency_seconds", {{"message_type", "vitals"}, {"user_id", "u1"}});
  auto lat2 = reg.histogram("websocket_message_latency_seconds", {{"message_type", "alert"}});
  std::vector<std::uint64_t> recorded;
  for (std::uint64_t i = 1; i <= 1000; ++i) {
    lat.record(i * 1000);
    recorded.push_back(i * 1000);
  }
  lat2.record(std::chrono::seconds(5));
  reg.counter("websocket_messages_sent_total", {{"role", "doctor"}}).inc(5);
  reg.gauge("websocket_connections_active", {{"role", "nurse"}, {"user_id", "x"}}).set(2);

  Settings settings;
  settings.segment = name;
  Monitor monitor(settings, exposition::IdLabelPolicy(exposition::IdLabelMode::drop));
  ScrapeBuffers buffers;
  const auto get = [&](std::string path, std::string query = {}) {
    const Response r = handle(monitor, {"GET", path, query, "", ""}, buffers);
    return std::make_pair(r.status, r.content_type.starts_with("application/json") ? nlohmann::json::parse(r.body)
                                                                                  : nlohmann::json(std::string(r.body)));
  };
  EXPECT_EQ(get("/healthz").first, 503);
  monitor.tick();
  EXPECT_EQ(get("/healthz").first, 200);
  monitor.tick();

  const auto [status, p] = get("/api/v1/percentiles", "metric=websocket_message_latency_seconds&message_type=vitals&q=0.5,0.99");
  ASSERT_EQ(status, 200) << p.dump();
  EXPECT_EQ(p["count"], 1000);
  EXPECT_EQ(p["series"], 1);
  ASSERT_EQ(p["quantiles"].size(), 2u);
  for (const auto& q : p["quantiles"]) {
    const double exact = static_cast<double>(recorded[static_cast<std::size_t>(std::ceil(q["q"].get<double>() * 1000)) - 1]) / 1e9;
    EXPECT_LT(q["lower"].get<double>(), exact);
    EXPECT_LE(exact, q["upper"].get<double>());
  }
  const auto all = get("/api/v1/percentiles", "metric=websocket_message_latency_seconds");
  EXPECT_EQ(all.second["count"], 1001);
  EXPECT_EQ(all.second["quantiles"].size(), 3u);

  struct Bad {
    std::string path, query;
    int status;
    std::string says;
  };
  for (const Bad& b : std::vector<Bad>{
           {"/api/v1/percentiles", "", 400, "'metric' is required"},
           {"/api/v1/percentiles", "metric=websocket_message_latency_seconds&q=1.5", 400, "q: '1.5'"},
           {"/api/v1/percentiles", "metric=websocket_message_latency_seconds&q=0.5,abc", 400, "q: 'abc'"},
           {"/api/v1/percentiles", "metric=websocket_message_latency_seconds&q=0.5&q=0.9", 400, "twice"},
           {"/api/v1/percentiles", "metric=nope_seconds", 404, "unknown metric 'nope_seconds'"},
           {"/api/v1/percentiles", "metric=websocket_messages_sent_total", 400, "is a counter"},
           {"/api/v1/percentiles", "metric=websocket_message_latency_seconds&message_type=none", 404, "no series"},
           {"/api/v1/percentiles", "metric=websocket_message_latency_seconds&user_id=u1", 404, "no series"},
           {"/api/v1/percentiles", "metric=websocket_message_latency_seconds&__name__=x", 400, "reserved"},
           {"/api/v1/percentiles", "metric=%zz", 400, "malformed"},
           {"/api/v1/snapshots", "n=0", 400, "n: '0'"},
           {"/api/v1/snapshots", "n=721", 400, "1-720"},
           {"/api/v1/snapshots", "n=ten", 400, "n: 'ten'"},
           {"/api/v1/snapshots", "m=1", 400, "unknown parameter 'm'"},
           {"/api/v2/everything", "", 404, "no endpoint"}}) {
    const auto [s, body] = get(b.path, b.query);
    EXPECT_EQ(s, b.status) << b.path << "?" << b.query;
    EXPECT_NE(body["error"].get<std::string>().find(b.says), std::string::npos) << body.dump();
  }
  EXPECT_EQ(handle(monitor, {"POST", "/metrics", "", "", ""}, buffers).status, 405);

  const auto snaps = get("/api/v1/snapshots", "n=1");
  ASSERT_EQ(snaps.first, 200);
  ASSERT_EQ(snaps.second["snapshots"].size(), 1u);
  EXPECT_EQ(snaps.second["snapshots"][0]["active_connections"], 2);
  EXPECT_EQ(get("/api/v1/snapshots").second["snapshots"].size(), 2u);

  const auto summary = get("/api/v1/summary");
  ASSERT_EQ(summary.first, 200) << summary.second.dump();
  EXPECT_EQ(summary.second["connections"]["by_role"]["nurse"], 2);
  EXPECT_EQ(summary.second["messages"]["sent"], 5);

  const Response m = handle(monitor, {"GET", "/metrics", "", "", ""}, buffers);
  EXPECT_EQ(m.content_type, exposition::content_type(Format::prometheus_text));
  EXPECT_NE(m.body.find("websocket_messages_sent_total{role=\"doctor\"} 5\n"), std::string::npos);
  EXPECT_EQ(m.body.find("user_id"), std::string::npos);
}

// The endpoints the live page reads besides the summary: writers, segment usage, breakdown.
TEST(Api, WritersSegmentAndBreakdown) {
  const std::string name = test::unique_segment_name("api-page");
  test::SegmentGuard guard(name);
  Registry reg = *Registry::open(name, {.role = "nurse", .enabled = true});
  auto lat = reg.histogram("websocket_message_latency_seconds", {{"message_type", "vitals"}, {"processing_stage", "parse"}});
  for (int i = 0; i < 10; ++i) lat.record(std::chrono::microseconds(250));
  reg.histogram("websocket_message_latency_seconds", {{"message_type", "vitals"}, {"processing_stage", "send"}})
      .record(std::chrono::milliseconds(3));
  reg.histogram("websocket_compression_ratio_percent", {{"compression_type", "deflate"}, {"message_type", "vitals"}}).record(40);
  reg.gauge("websocket_queue_size", {{"queue_type", "send"}, {"role", "nurse"}}).set(12);
  reg.gauge("websocket_subscriptions_active", {{"subscription_type", "ecg"}, {"role", "nurse"}}).set(4);

  Settings settings;
  settings.segment = name;
  Monitor monitor(settings, exposition::IdLabelPolicy(exposition::IdLabelMode::drop));
  ScrapeBuffers buffers;
  const auto get = [&](std::string path) {
    const Response r = handle(monitor, {"GET", path, "", "", ""}, buffers);
    return std::make_pair(r.status, nlohmann::json::parse(r.body));
  };
  EXPECT_EQ(get("/api/v1/writers").first, 503);
  EXPECT_EQ(get("/api/v1/segment").first, 503);
  EXPECT_EQ(get("/api/v1/breakdown").first, 503);
  monitor.tick();

  const auto [ws, writers] = get("/api/v1/writers");
  ASSERT_EQ(ws, 200);
  ASSERT_FALSE(writers["writers"].empty());
  for (const auto& w : writers["writers"]) {
    EXPECT_EQ(w["pid"], ::getpid());
    EXPECT_EQ(w["role"], "nurse");
    EXPECT_EQ(w["state"], "active");
    EXPECT_EQ(w["alive"], true);
    EXPECT_GE(w["heartbeat_age_seconds"].get<double>(), 0);
  }

  const auto [ss, segment] = get("/api/v1/segment");
  ASSERT_EQ(ss, 200);
  const auto& usage = segment["usage"];
  // The header's count: the five label sets above and each family's overflow series.
  const shm::Segment seg = *shm::Segment::open(name, {shm::Access::read_only});
  shm::CatalogView catalog;
  EXPECT_EQ(usage["series"]["used"], shm::Snapshot::take(seg, catalog)->stats.series_used);
  EXPECT_GE(usage["series"]["used"].get<int>(), 5);
  EXPECT_EQ(usage["series"]["capacity"], shm::Limits{}.max_series);
  EXPECT_EQ(usage["writers"]["used"], writers["writers"].size());
  EXPECT_EQ(usage["writers"]["capacity"], shm::Limits{}.max_writers);
  EXPECT_GT(usage["fullest_writer_arena_bytes"]["used"].get<double>(), 0);
  EXPECT_EQ(segment["dropped"]["series"], 0);

  const auto [bs, b] = get("/api/v1/breakdown");
  ASSERT_EQ(bs, 200);
  // Both stages of vitals together, as /api/v1/percentiles with message_type=vitals sums them.
  const auto& vitals = b["latency_seconds_by_message_type"]["vitals"];
  EXPECT_EQ(vitals["count"], 11);
  const Response pr = handle(monitor, {"GET", "/api/v1/percentiles",
                                       "metric=websocket_message_latency_seconds&message_type=vitals", "", ""},
                             buffers);
  EXPECT_EQ(vitals["quantiles"], nlohmann::json::parse(pr.body)["quantiles"]);
  EXPECT_LT(vitals["quantiles"][0]["lower"].get<double>(), 250e-6);  // p50: the 250 µs ones
  EXPECT_LE(250e-6, vitals["quantiles"][0]["upper"].get<double>());
  EXPECT_LT(vitals["quantiles"][2]["lower"].get<double>(), 3e-3);    // p99: the 3 ms one
  EXPECT_EQ(b["compression_ratio_percent_by_type"]["deflate"]["count"], 1);
  ASSERT_EQ(b["queue_size"].size(), 1u);
  EXPECT_EQ(b["queue_size"][0]["value"], 12);
  EXPECT_EQ(b["queue_size"][0]["labels"], (nlohmann::json{{"queue_type", "send"}, {"role", "nurse"}}));
  ASSERT_EQ(b["subscriptions_active"].size(), 1u);
  EXPECT_EQ(b["subscriptions_active"][0]["value"], 4);
  EXPECT_TRUE(b["buffer_utilization_percent"].empty());
}

// GET /api/v1/exemplars: the slowest recent traces per message type, kept after faster ones
// replace them in the segment (the exporter notes what each interval reads).
TEST(Api, ExemplarsListTheSlowestRecentTracesPerMessageType) {
  const std::string name = test::unique_segment_name("api-exemplars");
  test::SegmentGuard guard(name);
  Registry reg = *Registry::open(name, {.role = "nurse", .enabled = true});
  const auto trace = [](int k) {
    return *Exemplar::from_hex(std::string(31, '0') + std::to_string(k), std::string(15, '0') + std::to_string(k));
  };
  auto vitals = reg.histogram("websocket_message_latency_seconds",
                              {{"message_type", "vitals"}, {"processing_stage", "parse"}, {"user_id", "u1"}});
  auto ecg = reg.histogram("websocket_message_latency_seconds", {{"message_type", "ecg_data"}, {"processing_stage", "route"}});
  auto plain = reg.histogram("websocket_message_latency_seconds", {{"message_type", "alert"}, {"processing_stage", "parse"}});

  Settings settings;
  settings.segment = name;
  Monitor monitor(settings, exposition::IdLabelPolicy(exposition::IdLabelMode::drop));
  ScrapeBuffers buffers;
  const auto get = [&](std::string query) {
    const Response r = handle(monitor, {"GET", "/api/v1/exemplars", query, "", ""}, buffers);
    return std::make_pair(r.status, nlohmann::json::parse(r.body));
  };
  EXPECT_EQ(get("").first, 503);
  monitor.tick();
  // One exemplar cell per series: each record replaces the last, and the interval notes each.
  for (int k = 1; k <= 5; ++k) {
    vitals.record(std::chrono::milliseconds(k == 3 ? 9 : k), trace(k));
    monitor.tick();
  }
  ecg.record(std::chrono::microseconds(700), trace(7));
  plain.record(std::chrono::milliseconds(1));  // no exemplar: not listed

  const auto [status, body] = get("top=2");
  ASSERT_EQ(status, 200) << body.dump();
  EXPECT_EQ(body["metric"], "websocket_message_latency_seconds");
  EXPECT_EQ(body["window_seconds"], 300);
  const auto& v = body["by_message_type"]["vitals"];
  ASSERT_EQ(v.size(), 2u) << body.dump();
  EXPECT_EQ(v[0]["trace_id"], std::string(31, '0') + "3");
  EXPECT_EQ(v[0]["span_id"], std::string(15, '0') + "3");
  EXPECT_DOUBLE_EQ(v[0]["value_seconds"].get<double>(), 0.009);
  EXPECT_EQ(v[1]["trace_id"], std::string(31, '0') + "5");
  EXPECT_EQ(v[0]["labels"], (nlohmann::json{{"message_type", "vitals"}, {"processing_stage", "parse"}}))
      << "identifier labels are left out of the JSON API";
  EXPECT_GT(v[0]["time"].get<double>(), 1e9);
  ASSERT_EQ(body["by_message_type"]["ecg_data"].size(), 1u);
  EXPECT_DOUBLE_EQ(body["by_message_type"]["ecg_data"][0]["value_seconds"].get<double>(), 0.0007);
  EXPECT_FALSE(body["by_message_type"].contains("alert"));
  EXPECT_EQ(get("top=0").first, 400);
  EXPECT_EQ(get("window=901").first, 400);
  EXPECT_EQ(get("slowest=3").first, 400);
}

}  // namespace

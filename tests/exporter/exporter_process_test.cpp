// wsm-exporter as a child process on a free loopback port, writers as child processes.
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <cmath>
#include <csignal>
#include <filesystem>
#include <map>
#include <sys/stat.h>

#include "wsm/exporter/derived_rules.hpp"
#include "exporter_test_support.hpp"
#include "wsm/shm/segment.hpp"
#include "wsm/shm/snapshot.hpp"

namespace {

using namespace wsm::test;

const std::vector<std::string> kWrites = {
    "counter", "websocket_messages_sent_total", "message_type=vitals,role=doctor,user_id=u1", "70",
    "counter", "websocket_messages_sent_total", "message_type=vitals,role=doctor,user_id=u2", "30",
    "counter", "websocket_messages_received_total", "message_type=ecg_data,role=patient_monitor", "55",
    "gauge", "websocket_connections_active", "role=nurse,user_id=n1", "3",
    "hist", "websocket_message_size_bytes", "direction=out", "1000", "9",
    "hist", "websocket_message_size_bytes", "direction=out", "70000", "1",
};

// Families only the exporter serves: its own and the derived ones (derived_rules.cpp).
bool exporter_only(const std::string& family) {
  const auto& rules = wsm::exporter::derived_rules();
  std::vector<std::string_view> derived = {rules.resources.cpu, rules.resources.memory, rules.resources.fds};
  for (const auto& r : rules.rates) derived.push_back(r.output);
  for (const auto& r : rules.ratios) derived.push_back(r.output);
  return family.starts_with("wsm_") || std::find(derived.begin(), derived.end(), family) != derived.end();
}

TEST(ExporterProcess, BadFlagsExitTwoWithOneLineNamingTheKey) {
  const auto exe = bin("wsm-exporter");
  struct Case {
    std::vector<std::string> argv;
    std::vector<std::string> env;
    std::string names;
  };
  for (const Case& c : std::vector<Case>{{{exe, "--interval", "0"}, {}, "--interval"},
                                         {{exe, "--listen", "0.0.0.0"}, {}, "--listen"},
                                         {{exe}, {"WEBSOCKET_CPU_THRESHOLD=lots"}, "WEBSOCKET_CPU_THRESHOLD"},
                                         {{exe, "--config", "/nonexistent/wsm.json"}, {}, "--config"},
                                         {{exe, "--frobnicate"}, {}, "--frobnicate"}}) {
    const auto r = run(c.argv, c.env);
    EXPECT_EQ(r.exit_code, 2) << c.names;
    EXPECT_NE(r.err.find(c.names), std::string::npos) << r.err;
    EXPECT_EQ(std::count(r.err.begin(), r.err.end(), '\n'), 1) << r.err;
  }
  const auto help = run({exe, "--help"});
  EXPECT_EQ(help.exit_code, 0);
  EXPECT_NE(help.out.find("WEBSOCKET_METRICS_INTERVAL"), std::string::npos);
}

TEST(ExporterProcess, WaitsForAMissingSegmentThenAttachesAndStopsCleanly) {
  const std::string seg = unique_segment_name("exp-wait");
  SegmentGuard guard(seg);
  Exporter exporter(seg);
  const auto waiting = exporter.get("/healthz");
  ASSERT_TRUE(waiting);
  EXPECT_EQ(waiting->status, 503);
  EXPECT_NE(nlohmann::json::parse(waiting->body)["error"].get<std::string>().find("does not exist"), std::string::npos);
  const auto e = parse_exposition(exporter.metrics());
  EXPECT_EQ(sample(e, "wsm_segment_attached"), 0);
  EXPECT_EQ(exporter.get("/api/v1/summary")->status, 503);

  Child writer = start_writer(seg, {"counter", "t_events_total", "-", "5"});
  ASSERT_TRUE(wait_for_http(exporter.port(), "/healthz", 200));
  const auto ok = nlohmann::json::parse(exporter.get("/healthz")->body);
  EXPECT_EQ(ok["status"], "ok");
  EXPECT_EQ(ok["reaping"], true);
  EXPECT_EQ(sample(parse_exposition(exporter.metrics()), "t_events_total"), 5);

  // A re-created segment (new generation) is re-attached, its counts served.
  writer.signal(SIGKILL);
  writer.wait();
  ASSERT_TRUE(wsm::shm::Segment::remove(seg));
  ASSERT_TRUE(wait_for_http(exporter.port(), "/healthz", 503));
  Child again = start_writer(seg, {"counter", "t_events_total", "-", "2"});
  ASSERT_TRUE(wait_for_http(exporter.port(), "/healthz", 200));
  EXPECT_NE(nlohmann::json::parse(exporter.get("/healthz")->body)["generation"], ok["generation"]);
  EXPECT_EQ(sample(parse_exposition(exporter.metrics()), "t_events_total"), 2);
  EXPECT_EQ(exporter.stop(), 0);
}

TEST(ExporterProcess, MetricsPassPromtoolAndCarryExactlyWhatWritersRecorded) {
  const std::string seg = unique_segment_name("exp-values");
  SegmentGuard guard(seg);
  Child a = start_writer(seg, kWrites, "alpha");
  Child b = start_writer(seg, kWrites, "beta");
  Exporter exporter(seg);
  ASSERT_TRUE(wait_for_http(exporter.port(), "/healthz", 200));
  // Two intervals: derived families and /proc figures are there.
  ASSERT_TRUE(wait_until([&] { return exporter.metrics().find("websocket_cpu_usage_percent{process_type=\"worker\"") != std::string::npos; }));
  const std::string text = exporter.metrics();
  EXPECT_EQ(promtool_problems(text), std::vector<std::string>{}) << text;
  const auto e = parse_exposition(text);
  EXPECT_EQ(sample(e, "websocket_messages_sent_total{message_type=\"vitals\",role=\"doctor\"}"), 200);
  EXPECT_EQ(sample(e, "websocket_messages_received_total{message_type=\"ecg_data\",role=\"patient_monitor\"}"), 110);
  EXPECT_EQ(sample(e, "websocket_connections_active{role=\"nurse\"}"), 6);
  EXPECT_EQ(sample(e, "websocket_message_size_bytes_count{direction=\"out\"}"), 20);
  EXPECT_EQ(sample(e, "websocket_message_size_bytes_sum{direction=\"out\"}"), 2 * (9 * 1000 + 70000));
  EXPECT_EQ(sample(e, "websocket_message_size_bytes_bucket{direction=\"out\",le=\"1024\"}"), 18);
  EXPECT_EQ(sample(e, "websocket_message_size_bytes_bucket{direction=\"out\",le=\"65536\"}"), 18);
  EXPECT_EQ(sample(e, "websocket_message_size_bytes_bucket{direction=\"out\",le=\"131072\"}"), 20);
  EXPECT_EQ(text.find("user_id"), std::string::npos) << "--id-labels drop is the default";
  {  // writer slots as the segment itself lists them (a process has a slot per thread + one for gauges)
    auto segment = wsm::shm::Segment::open(seg, {wsm::shm::Access::read_only});
    wsm::shm::CatalogView catalog;
    const auto snap = wsm::shm::Snapshot::take(*segment, catalog);
    ASSERT_TRUE(snap);
    EXPECT_EQ(sample(e, "wsm_writers{state=\"live\"}"), static_cast<double>(snap->writers.size()));
    EXPECT_EQ(sample(e, "wsm_series_used"), static_cast<double>(catalog.series_count()));
  }
  EXPECT_EQ(sample(e, "wsm_segment_attached"), 1);
  const std::string worker_rss = "websocket_memory_usage_bytes{memory_type=\"rss\",role=\"alpha\"}";
  EXPECT_GT(sample(e, worker_rss), 0);
  EXPECT_GT(sample(e, "websocket_memory_usage_bytes{memory_type=\"rss\",role=\"exporter\"}"), 0);
  EXPECT_EQ(sample(e, "wsm_writer_threads{pid=\"" + std::to_string(a.pid()) + "\",role=\"alpha\"}"), 1);
  EXPECT_TRUE(std::isfinite(sample(e, "websocket_cpu_usage_percent{process_type=\"exporter\",role=\"exporter\"}")));

  const auto summary = nlohmann::json::parse(exporter.get("/api/v1/summary")->body);
  EXPECT_EQ(summary["messages"]["sent"], 200);
  EXPECT_EQ(summary["messages"]["received"], 110);
  EXPECT_EQ(summary["connections"]["by_role"]["nurse"], 6);
  EXPECT_EQ(summary["connections"]["total"], 6);
  EXPECT_EQ(summary["resources"]["processes"].size(), 3u);
  EXPECT_EQ(summary["breached"].size(), 0u) << summary.dump();
  const auto snaps = nlohmann::json::parse(exporter.get("/api/v1/snapshots?n=2")->body);
  ASSERT_EQ(snaps["snapshots"].size(), 2u);
  EXPECT_EQ(snaps["snapshots"][1]["active_connections"], 6);
  EXPECT_EQ(snaps["snapshots"][1]["messages_per_second"], 0) << "nothing was recorded between the intervals";
}

TEST(ExporterProcess, OpenMetricsAndGzipAreNegotiatedOnTheWire) {
  const std::string seg = unique_segment_name("exp-neg");
  SegmentGuard guard(seg);
  Child w = start_writer(seg, kWrites);
  Exporter exporter(seg);
  ASSERT_TRUE(wait_for_http(exporter.port(), "/healthz", 200));
  const std::string prometheus_accept =
      "application/openmetrics-text;version=1.0.0;q=0.5,application/openmetrics-text;version=0.0.1;q=0.4,"
      "text/plain;version=0.0.4;q=0.3,*/*;q=0.2";

  const auto om = exporter.get("/metrics", {{"Accept", prometheus_accept}});
  ASSERT_TRUE(om && om->status == 200);
  EXPECT_EQ(om->headers.at("content-type"), "application/openmetrics-text; version=1.0.0; charset=utf-8");
  EXPECT_EQ(om->headers.count("content-encoding"), 0u);
  EXPECT_TRUE(om->body.ends_with("# EOF\n"));
  EXPECT_NE(om->body.find("# TYPE websocket_messages_sent counter\n"), std::string::npos);
  EXPECT_NE(om->body.find("websocket_messages_sent_created{"), std::string::npos);
  EXPECT_NE(om->headers.at("vary").find("Accept-Encoding"), std::string::npos);

  const auto gz = exporter.get("/metrics", {{"Accept", prometheus_accept}, {"Accept-Encoding", "gzip"}});
  ASSERT_TRUE(gz && gz->status == 200);
  EXPECT_EQ(gz->headers.at("content-encoding"), "gzip");
  EXPECT_EQ(std::stoul(gz->headers.at("content-length")), gz->body.size());
  const std::string inflated = gunzip(gz->body);
  EXPECT_TRUE(inflated.ends_with("# EOF\n"));
  EXPECT_LT(gz->body.size(), inflated.size());
  const auto a = parse_exposition(inflated), b = parse_exposition(om->body);
  EXPECT_EQ(sample(a, "websocket_messages_sent_total{message_type=\"vitals\",role=\"doctor\"}"),
            sample(b, "websocket_messages_sent_total{message_type=\"vitals\",role=\"doctor\"}"));

  const auto text = exporter.get("/metrics", {{"Accept-Encoding", "gzip;q=0"}});
  ASSERT_TRUE(text && text->status == 200);
  EXPECT_EQ(text->headers.at("content-type"), "text/plain; version=0.0.4; charset=utf-8");
  EXPECT_EQ(text->headers.count("content-encoding"), 0u);
  EXPECT_EQ(text->body.find("# EOF"), std::string::npos);
  const auto text_gz = exporter.get("/metrics", {{"Accept", "text/plain"}, {"Accept-Encoding", "deflate, gzip"}});
  EXPECT_EQ(text_gz->headers.at("content-encoding"), "gzip");
  EXPECT_EQ(promtool_problems(gunzip(text_gz->body)), std::vector<std::string>{});
}

TEST(ExporterProcess, ApiParametersAreCheckedOverHttp) {
  const std::string seg = unique_segment_name("exp-api");
  SegmentGuard guard(seg);
  Child w = start_writer(seg, kWrites);
  Child h = start_writer(seg, {"connection", "nurse", "n7", "-", "20", "0", "0"});
  // Thresholds from the environment: any worker RSS is above 1 MiB (the lowest allowed); a health
  // score of 20 is below the default 70.
  Exporter exporter(seg, {}, {"WEBSOCKET_MEMORY_THRESHOLD=1048576"});
  ASSERT_TRUE(wait_for_http(exporter.port(), "/healthz", 200));
  nlohmann::json summary;
  ASSERT_TRUE(wait_until([&] {
    summary = nlohmann::json::parse(exporter.get("/api/v1/summary")->body);
    return summary.contains("breached") && summary["breached"].size() == 2;
  })) << summary.dump();
  std::map<std::string, nlohmann::json> breached;
  for (const auto& b : summary["breached"]) breached[b["threshold"].get<std::string>()] = b;
  EXPECT_EQ(breached["memory_bytes"]["limit"], 1048576);
  EXPECT_GT(breached["memory_bytes"]["value"].get<double>(), 1048576);
  EXPECT_EQ(breached["health_score"]["value"], 20);
  EXPECT_EQ(breached["health_score"]["limit"], 70);
  EXPECT_EQ(summary["thresholds"]["memory_bytes"], 1048576);
  for (const auto& [path, status] : std::vector<std::pair<std::string, int>>{
           {"/api/v1/percentiles?metric=websocket_message_size_bytes&q=2", 400},
           {"/api/v1/percentiles?q=0.5", 400},
           {"/api/v1/percentiles?metric=no_such_metric", 404},
           {"/api/v1/snapshots?n=-1", 400},
           {"/nope", 404}}) {
    const auto r = exporter.get(path);
    ASSERT_TRUE(r) << path;
    EXPECT_EQ(r->status, status) << path;
    EXPECT_EQ(r->headers.at("content-type"), "application/json");
    EXPECT_TRUE(nlohmann::json::parse(r->body).contains("error")) << r->body;
  }
  const auto p = exporter.get("/api/v1/percentiles?metric=websocket_message_size_bytes&direction=out&q=0.5%2C0.95");
  ASSERT_TRUE(p && p->status == 200) << (p ? p->body : "");
  const auto j = nlohmann::json::parse(p->body);
  EXPECT_EQ(j["count"], 10);
  // 9 of 10 values are 1000 bytes, one is 70000: p50 is 1000 and p95 is 70000, within bounds.
  EXPECT_LT(j["quantiles"][0]["lower"].get<double>(), 1000);
  EXPECT_LE(1000, j["quantiles"][0]["upper"].get<double>());
  EXPECT_LT(j["quantiles"][1]["lower"].get<double>(), 70000);
  EXPECT_LE(70000, j["quantiles"][1]["upper"].get<double>());
}

TEST(ExporterProcess, CountersStayMonotonicThroughWriterKillAndExporterRestart) {
  const std::string seg = unique_segment_name("exp-mono");
  SegmentGuard guard(seg);
  const std::string series = "t_done_total{role=\"x\"}";
  Child a = start_writer(seg, {"counter", "t_done_total", "role=x", "40", "hist", "t_wait_seconds", "-", "5000", "4"});
  Child b = start_writer(seg, {"counter", "t_done_total", "role=x", "2"});
  auto exporter = std::make_unique<Exporter>(seg);
  ASSERT_TRUE(wait_for_http(exporter->port(), "/healthz", 200));
  std::vector<double> seen;
  auto observe = [&] {
    const auto e = parse_exposition(exporter->metrics());
    seen.push_back(sample(e, series));
    return e;
  };
  observe();
  a.signal(SIGKILL);
  a.wait();
  // The exporter reaps the dead writer within an interval; its counts move to the retired arena.
  ASSERT_TRUE(wait_until([&] { return sample(observe(), "wsm_writers_reaped_total") >= 1; }));
  const auto after_reap = observe();
  EXPECT_EQ(sample(after_reap, "t_wait_seconds_count"), 4);
  EXPECT_EQ(sample(after_reap, "wsm_writers{state=\"dead\"}"), 0) << "reaped";

  ASSERT_EQ(exporter->stop(), 0);
  exporter = std::make_unique<Exporter>(seg);
  ASSERT_TRUE(wait_for_http(exporter->port(), "/healthz", 200));
  const auto restarted = observe();
  EXPECT_GE(sample(restarted, "wsm_writers_reaped_total"), 1) << "the reap count lives in the segment";
  Child c = start_writer(seg, {"counter", "t_done_total", "role=x", "8"});
  observe();
  b.signal(SIGKILL);
  b.wait();
  ASSERT_TRUE(wait_until([&] { return sample(observe(), "wsm_writers_reaped_total") >= 2; }));
  for (std::size_t i = 1; i < seen.size(); ++i) EXPECT_LE(seen[i - 1], seen[i]) << "scrape " << i;
  EXPECT_EQ(seen.front(), 42);
  EXPECT_EQ(seen.back(), 50);
}

TEST(ExporterProcess, WsmDumpPromEqualsMetricsWithoutExporterOnlyFamilies) {
  const std::string seg = unique_segment_name("exp-dump");
  SegmentGuard guard(seg);
  Child w = start_writer(seg, kWrites);
  Child g = start_writer(seg, {"gauge", "t_worker_level", "-", "4", "per_writer", "counter", "t_odd_total",
                               "note=a\"quoted\\value", "3"});
  Exporter exporter(seg);
  ASSERT_TRUE(wait_for_http(exporter.port(), "/healthz", 200));
  for (const auto& [flag, accept] : std::vector<std::pair<std::string, std::string>>{
           {"--prom", "text/plain"}, {"--openmetrics", "application/openmetrics-text"}}) {
    const auto dump = run({bin("wsm"), "dump", seg, flag});
    ASSERT_EQ(dump.exit_code, 0) << dump.err;
    const auto served = exporter.get("/metrics", {{"Accept", accept}});
    ASSERT_TRUE(served);
    auto from_dump = parse_exposition(dump.out);
    auto from_exporter = parse_exposition(served->body);
    std::erase_if(from_exporter.blocks, [](const auto& kv) { return exporter_only(kv.first); });
    EXPECT_EQ(from_dump.blocks, from_exporter.blocks) << flag;
    EXPECT_GE(from_dump.blocks.size(), 6u);
    if (flag == "--prom") {
      EXPECT_EQ(promtool_check(dump.out).exit_code, 0) << dump.out;
    }
  }
  const auto matched = run({bin("wsm"), "dump", seg, "--prom", "--match", "websocket_message_.*"});
  const auto m = parse_exposition(matched.out);
  ASSERT_EQ(m.types.size(), 1u) << matched.out;
  EXPECT_EQ(m.types.begin()->first, "websocket_message_size_bytes");
  const auto json = nlohmann::json::parse(run({bin("wsm"), "dump", seg, "--json", "--match", "t_.*"}).out);
  EXPECT_EQ(json["series"].size(), 2u) << json.dump();
  const auto raw = run({bin("wsm"), "dump", seg, "--prom", "--id-labels", "raw", "--match", "websocket_connections_active"});
  EXPECT_NE(raw.out.find("user_id=\"n1\""), std::string::npos) << raw.out;
  EXPECT_EQ(run({bin("wsm"), "dump", seg, "--prom", "--match", "("}).exit_code, 2);
}

TEST(ExporterProcess, HashedIdentifiersUseAPrivateKeyFile) {
  const std::string seg = unique_segment_name("exp-hash");
  SegmentGuard guard(seg);
  const auto dir = std::filesystem::temp_directory_path() / unique_segment_name("hash-key");
  const std::string key = (dir / "id.key").string();
  Child w = start_writer(seg, kWrites);
  Exporter exporter(seg, {"--id-labels", "hash", "--id-hash-key", key, "--resource-monitoring", "off"});
  ASSERT_TRUE(wait_for_http(exporter.port(), "/healthz", 200));
  const std::string text = exporter.metrics();
  EXPECT_EQ(text.find("websocket_memory_usage_bytes"), std::string::npos) << "--resource-monitoring off";
  EXPECT_EQ(text.find("wsm_exporter_cpu_percent"), std::string::npos);
  EXPECT_NE(text.find("user_id=\""), std::string::npos);
  EXPECT_EQ(text.find("user_id=\"u1\""), std::string::npos);
  struct stat st{};
  ASSERT_EQ(::stat(key.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
  // wsm dump with the same key shows the same pseudonyms.
  const auto dump = run({bin("wsm"), "dump", seg, "--prom", "--id-labels", "hash", "--id-hash-key", key});
  const auto d = parse_exposition(dump.out), e = parse_exposition(text);
  for (const auto& [series, value] : d.samples) EXPECT_EQ(e.samples.at(series), value) << series;
  EXPECT_EQ(exporter.stop(), 0);
  std::filesystem::remove_all(dir);
}

}  // namespace

// WEBSOCKET_METRICS_CATEGORIES on the exporter: it derives nothing for a category that is off (no
// rates of performance, no heartbeat success or health scores of health, nothing from /proc of
// resource), while every family the writers recorded is served as with every category on.
TEST(ExporterProcess, CategoriesOffDeriveNothingForThem) {
  const std::string seg = unique_segment_name("exp-categories");
  SegmentGuard guard(seg);
  Child w = start_writer(seg, {"--repeat-ms", "100",
                               "counter", "websocket_messages_sent_total", "message_type=vitals,role=nurse", "5",
                               "counter", "websocket_transferred_bytes_total", "direction=out,protocol=ws,role=nurse", "500",
                               "counter", "websocket_heartbeats_sent_total", "role=nurse", "2",
                               "counter", "websocket_heartbeats_acked_total", "role=nurse", "2",
                               "connection", "nurse", "-", "-", "40", "1", "1"});
  Exporter all(seg);
  Exporter some(seg, {}, {"WEBSOCKET_METRICS_CATEGORIES=all,-performance,-health,-resource"});
  const std::vector<std::string> derived = {
      "websocket_throughput_messages_per_second", "websocket_bandwidth_bytes_per_second",
      "websocket_heartbeat_success_rate_percent", "websocket_health_score", "websocket_cpu_usage_percent",
      "websocket_memory_usage_bytes",             "websocket_file_descriptors_count"};
  ParsedExposition with_all;
  ASSERT_TRUE(wait_until([&] {
    with_all = parse_exposition(all.metrics());
    return std::ranges::all_of(derived, [&](const std::string& f) { return with_all.types.count(f) == 1; });
  })) << "the exporter with every category never derived all of them";
  ASSERT_TRUE(wait_for_http(some.port(), "/healthz", 200));
  // Two intervals of its own, so rates would be there by now.
  ASSERT_TRUE(wait_until([&] {
    const auto snaps = nlohmann::json::parse(some.get("/api/v1/snapshots?n=2")->body);
    return snaps["snapshots"].size() == 2;
  }));
  const auto with_some = parse_exposition(some.metrics());
  for (const std::string& f : derived) EXPECT_EQ(with_some.types.count(f), 0u) << f << " was derived";
  for (const auto& [family, type] : with_all.types) {
    if (family.starts_with("wsm_") || std::ranges::find(derived, family) != derived.end()) continue;
    EXPECT_EQ(with_some.types.count(family), 1u) << family << ", recorded by the writer, is not served";
  }
  const auto summary = nlohmann::json::parse(some.get("/api/v1/summary")->body);
  EXPECT_TRUE(summary["health"]["heartbeat_success_percent"].empty()) << summary.dump();
  EXPECT_TRUE(summary["health"]["min_score"].is_null()) << summary.dump();
  EXPECT_EQ(summary["resources"]["monitoring"], false) << "resource off is resource monitoring off";
}

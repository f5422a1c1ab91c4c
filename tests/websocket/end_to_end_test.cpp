// wsm-demo-server (2 pre-forked workers), wsm-loadgen and wsm-exporter as real processes on free
// loopback ports: what the segment and the exporter say happened equals what the load generator
// saw happen.
#include <gtest/gtest.h>

#include <arpa/inet.h>
#include <csignal>
#include <map>
#include <netinet/in.h>
#include <sys/socket.h>
#include <thread>
#include <unistd.h>

#include "demo_processes.hpp"
#include "exporter_test_support.hpp"
#include "wsm/shm/aggregation.hpp"
#include "wsm/shm/connection_table.hpp"

namespace wsm::test {
namespace {

using nlohmann::json;
using namespace std::chrono_literals;

std::function<bool(const json&)> label_is(const std::string& key, const std::string& value) {
  return [=](const json& labels) { return labels.contains(key) && labels[key] == value; };
}

double count(const json& summary, const char* key) { return summary.at(key).get<double>(); }

// Every count both sides keep agrees, once the server has seen every close.
void expect_segment_matches(const std::string& segment, const json& s) {
  ASSERT_TRUE(eventually([&] {
    return Totals(segment).sum("websocket_disconnections_total") == count(s, "disconnected");
  })) << "the server never counted " << s["disconnected"] << " disconnections";
  const Totals t(segment);
  EXPECT_EQ(t.sum("websocket_messages_received_total"), count(s, "sent"));
  EXPECT_EQ(t.sum("websocket_messages_sent_total"), count(s, "received"));
  EXPECT_EQ(t.sum("websocket_connections_total", label_is("status", "success")), count(s, "connected"));
  EXPECT_EQ(t.sum("websocket_disconnections_total"), count(s, "disconnected"));
  EXPECT_EQ(t.sum("websocket_message_size_bytes", label_is("direction", "in")), count(s, "sent"));
  EXPECT_EQ(t.sum("websocket_message_size_bytes", label_is("direction", "out")), count(s, "received"));
  EXPECT_EQ(t.sum("websocket_connection_duration_seconds"), count(s, "disconnected"));
  // Every refused message or subscription got exactly one error reply.
  EXPECT_EQ(t.sum("websocket_failed_messages_total") + t.sum("websocket_subscription_failures_total"),
            count(s, "errors_received"));
  EXPECT_EQ(t.sum("websocket_messages_sent_total", label_is("message_type", "ack")), count(s, "acked"));
  // Nothing is left open or subscribed.
  EXPECT_EQ(t.sum("websocket_connections_active"), 0.0);
  EXPECT_EQ(t.sum("websocket_subscriptions_active"), 0.0);
  EXPECT_EQ(t.sum("websocket_queue_size"), 0.0);
}

// Sum of the samples of `name` (as written: a counter's _total, a histogram's _count) in a text
// exposition whose labels contain `label` (e.g. direction="in"; empty: all).
double exposed_sum(const std::string& text, const std::string& name, const std::string& label = "") {
  double sum = 0;
  for (const auto& [series, value] : parse_exposition(text).samples) {
    if (series != name && !series.starts_with(name + "{")) continue;
    if (label.empty() || series.find(label) != std::string::npos) sum += std::stod(value);
  }
  return sum;
}

// The exporter's /metrics, scraped over HTTP, carries the load generator's counts.
void expect_exporter_matches(const Exporter& exporter, const json& s) {
  std::string text;
  ASSERT_TRUE(eventually([&] {
    text = exporter.metrics();
    return exposed_sum(text, "websocket_disconnections_total") == count(s, "disconnected");
  })) << "the exporter never showed " << s["disconnected"] << " disconnections";
  EXPECT_EQ(exposed_sum(text, "websocket_messages_received_total"), count(s, "sent"));
  EXPECT_EQ(exposed_sum(text, "websocket_messages_sent_total"), count(s, "received"));
  EXPECT_EQ(exposed_sum(text, "websocket_connections_total", "status=\"success\""), count(s, "connected"));
  EXPECT_EQ(exposed_sum(text, "websocket_message_size_bytes_count", "direction=\"in\""), count(s, "sent"));
  EXPECT_EQ(exposed_sum(text, "websocket_message_size_bytes_count", "direction=\"out\""), count(s, "received"));
  EXPECT_EQ(exposed_sum(text, "websocket_connection_duration_seconds_count"), count(s, "disconnected"));
  EXPECT_EQ(exposed_sum(text, "websocket_connections_active"), 0.0);
  EXPECT_EQ(promtool_problems(text), std::vector<std::string>{});
}

// A loadgen client's user id says its role: monitor-N for patient monitors, <role>-N otherwise.
bool user_matches_role(const json& connection) {
  const std::string role = connection["role"], user = connection["user_id"];
  return user.starts_with(role == "patient_monitor" ? "monitor-" : role + "-");
}

TEST(EndToEnd, SegmentAndExporterTotalsEqualTheLoadGeneratorsCounts) {
  SegmentGuard guard(unique_segment_name("e2e"));
  DemoServer server(guard.name(), 2);
  Exporter exporter(guard.name(), {"--id-labels", "raw"});
  ASSERT_TRUE(wait_for_http(exporter.port(), "/healthz", 200));
  // Paced (3 s of publishing), so every client is connected long enough to be listed.
  auto load = Child::spawn({bin("wsm-loadgen"), "--url", server.url(), "--clients", "10", "--messages", "300",
                            "--rate", "100", "--mix", "patient_monitor=2,doctor=1,nurse=1,admin=1",
                            "--malformed-ratio", "0.05", "--deflate", "on"},
                           {}, /*capture_stdout=*/true);
  json listed;
  EXPECT_TRUE(eventually([&] {
    const auto r = exporter.get("/api/v1/connections");
    listed = r && r->status == 200 ? json::parse(r->body, nullptr, false) : json();
    return listed.is_object() && listed["total"] == 10;
  })) << "the exporter never listed the 10 clients: " << listed.dump();
  const auto workers = server.workers();
  for (const json& c : listed["connections"]) {
    EXPECT_TRUE(user_matches_role(c)) << c.dump();
    EXPECT_NE(std::find(workers.begin(), workers.end(), c["writer_pid"].get<pid_t>()), workers.end()) << c.dump();
  }
  ASSERT_EQ(load.wait(60s), 0);
  const json s = json::parse(load.read_stdout(), nullptr, false);
  ASSERT_TRUE(s.is_object());
  EXPECT_EQ(count(s, "connected"), 10);
  EXPECT_EQ(count(s, "dropped"), 0);
  EXPECT_EQ(count(s, "published"), 300);
  EXPECT_GT(count(s, "malformed_sent"), 0);
  EXPECT_EQ(count(s, "errors_received"), count(s, "malformed_sent"));  // one error reply each
  EXPECT_GT(Totals(guard.name()).sum("websocket_subscription_failures_total",
                                     label_is("failure_type", "not_authorized")), 0.0);  // monitors subscribing
  EXPECT_EQ(count(s, "deflate_negotiated"), 10);
  EXPECT_EQ(count(s, "unanswered"), 0);
  expect_segment_matches(guard.name(), s);
  expect_exporter_matches(exporter, s);
  EXPECT_EQ(json::parse(exporter.get("/api/v1/connections")->body)["total"], 0);  // every record freed

  const Totals t(guard.name());
  // Deflate on: every sent message has a compression ratio, all sizes are labelled deflate.
  EXPECT_EQ(t.sum("websocket_compression_ratio_percent"), count(s, "received"));
  EXPECT_EQ(t.sum("websocket_message_size_bytes", label_is("compression", "none")), 0.0);
  EXPECT_GT(t.sum("websocket_transferred_bytes_total", label_is("protocol", "ws+deflate")), 0.0);
  EXPECT_EQ(t.sum("websocket_transferred_bytes_total", label_is("protocol", "ws")), 0.0);
  auto segment = shm::Segment::open(guard.name(), {shm::Access::read_only, 500ms});
  ASSERT_TRUE(segment);
  EXPECT_TRUE(shm::list_connections(*segment).empty());  // every record freed on close
  EXPECT_EQ(server.stop(), 0);
  EXPECT_EQ(exporter.stop(), 0);
}

TEST(EndToEnd, NoCompressionRatiosWithoutDeflate) {
  SegmentGuard guard(unique_segment_name("e2e"));
  DemoServer server(guard.name(), 2);
  const auto r = run_loadgen({"--url", server.url(), "--clients", "6", "--messages", "120", "--deflate", "off"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(count(r.summary, "deflate_negotiated"), 0);
  expect_segment_matches(guard.name(), r.summary);
  const Totals t(guard.name());
  EXPECT_EQ(t.sum("websocket_compression_ratio_percent"), 0.0);
  EXPECT_EQ(t.sum("websocket_message_size_bytes", label_is("compression", "deflate")), 0.0);
  EXPECT_EQ(t.sum("websocket_message_size_bytes"), count(r.summary, "sent") + count(r.summary, "received"));
  EXPECT_GT(t.sum("websocket_transferred_bytes_total", label_is("protocol", "ws")), 0.0);
}

// Counter and histogram words of one writer process (or the retired arena), by series id.
std::map<std::uint32_t, std::vector<std::uint64_t>> cells_of(const shm::Snapshot& snap,
                                                             const shm::CatalogView& catalog,
                                                             std::optional<pid_t> pid) {
  std::map<std::uint32_t, std::vector<std::uint64_t>> out;
  for (const shm::CellView& c : snap.cells) {
    const bool retired = c.writer == shm::kRetiredWriter;
    if (pid ? retired || snap.writers[static_cast<std::size_t>(c.writer)].pid != *pid : !retired) continue;
    const auto* family = catalog.family(catalog.series(c.series_id)->family_id);
    if (family->type == shm::MetricType::gauge) continue;  // a dead process's levels are dropped
    auto& words = out[c.series_id];
    words.resize(c.words, 0);
    for (std::uint32_t k = 0; k < c.words; ++k) words[k] += snap.words[c.first_word + k];
  }
  return out;
}

std::uint64_t received_by(const shm::Snapshot& snap, const shm::CatalogView& catalog, pid_t pid) {
  std::uint64_t n = 0;
  for (const auto& [series, words] : cells_of(snap, catalog, pid)) {
    if (catalog.family(catalog.series(series)->family_id)->name == "websocket_messages_received_total") n += words[0];
  }
  return n;
}

// A worker killed with SIGKILL mid-run: every count it had made is in the retired arena after
// the reap, word for word; the other worker keeps serving and the clients reconnect to it, and
// the exporter keeps serving counts that never go back.
TEST(EndToEnd, AWorkerKilledMidRunLosesNoneOfItsCounts) {
  SegmentGuard guard(unique_segment_name("e2e-kill"));
  DemoServer server(guard.name(), 2);
  Exporter exporter(guard.name());  // folds dead writers every interval (1 s)
  ASSERT_TRUE(wait_for_http(exporter.port(), "/healthz", 200));
  auto load = Child::spawn({bin("wsm-loadgen"), "--url", server.url(), "--clients", "8", "--messages", "600",
                            "--rate", "300", "--max-reconnects", "20", "--timeout", "60"},
                           {}, /*capture_stdout=*/true);
  auto segment = shm::Segment::open(guard.name(), {shm::Access::read_write, 2000ms});
  ASSERT_TRUE(segment) << segment.error().message();
  shm::CatalogView catalog;

  // The victim: a worker that holds open connections and has counted messages.
  pid_t victim = 0;
  ASSERT_TRUE(eventually([&] {
    auto snap = shm::Snapshot::take(*segment, catalog);
    if (!snap) return false;
    for (const auto& c : shm::list_connections(*segment)) {
      if (received_by(*snap, catalog, c.pid) > 20) victim = c.pid;
    }
    return victim != 0;
  })) << "no worker counted messages";

  ::kill(victim, SIGSTOP);  // frozen: its cells cannot change any more
  ASSERT_TRUE(eventually([&] { return process_state(victim) == 'T'; }));
  const double exported_before = exposed_sum(exporter.metrics(), "websocket_messages_received_total");
  auto before = shm::Snapshot::take(*segment, catalog);
  ASSERT_TRUE(before);
  const auto frozen = cells_of(*before, catalog, victim);
  EXPECT_TRUE(cells_of(*before, catalog, std::nullopt).empty()) << "nothing was retired before the kill";
  ::kill(victim, SIGKILL);
  ASSERT_TRUE(eventually([&] { return !running(victim); }));

  // The exporter's next interval folds the victim into the retired arena, word for word, and
  // frees its connection records.
  std::optional<shm::Snapshot> after;
  EXPECT_TRUE(eventually([&] {
    auto snap = shm::Snapshot::take(*segment, catalog);
    if (snap) after = std::move(*snap);
    return after && cells_of(*after, catalog, std::nullopt) == frozen;
  })) << "the exporter did not fold the killed worker";
  EXPECT_GE(segment->header().connections_reaped.load(), 1u);
  const std::string exported = exporter.metrics();
  EXPECT_GE(exposed_sum(exported, "wsm_writers_reaped_total"), 1.0);
  EXPECT_GE(exposed_sum(exported, "websocket_messages_received_total"), exported_before);  // never behind
  EXPECT_GT(received_by(*before, catalog, victim), 20u);
  for (const auto& c : shm::list_connections(*segment)) EXPECT_NE(c.pid, victim);

  // The surviving worker serves the rest of the run.
  ASSERT_EQ(load.wait(60s), 0);
  const json s = json::parse(load.read_stdout(), nullptr, false);
  ASSERT_TRUE(s.is_object());
  EXPECT_GE(count(s, "dropped"), 1);
  EXPECT_GE(count(s, "reconnects"), 1);
  EXPECT_EQ(count(s, "published"), 600);
  EXPECT_TRUE(wait_for_http(server.port(), "/healthz"));
  // Counters never went back: every series is at least what the victim alone had counted.
  auto last = shm::Snapshot::take(*segment, catalog);
  ASSERT_TRUE(last);
  const auto totals = shm::Aggregation::of(catalog, *last);
  for (const auto& [series, words] : frozen) {
    for (const shm::Point& p : totals.points) {
      if (p.series->id != series) continue;
      const std::uint64_t now = p.family->type == shm::MetricType::counter ? p.counter : p.sum;
      EXPECT_GE(now, words[0]) << p.family->name << "{" << p.series->labels << "}";
    }
  }
  EXPECT_GT(Totals(guard.name()).sum("websocket_reconnection_attempts_total"), 0.0);
  EXPECT_EQ(server.stop(), 1);  // the parent reports the worker it lost
  // The exporter served through it all, and serves the segment's totals, the victim's included.
  ASSERT_TRUE(wait_for_http(exporter.port(), "/healthz", 200));
  EXPECT_EQ(exposed_sum(exporter.metrics(), "websocket_messages_received_total"),
            Totals(guard.name()).sum("websocket_messages_received_total"));
  EXPECT_EQ(exporter.stop(), 0);
}

// A client that completes the upgrade and then never reads: the server's pings go unanswered,
// it is counted stale and closed; the load generator's clients answer every ping.
TEST(EndToEnd, UnansweredPingsMakeAConnectionStaleAnsweredOnesAreCounted) {
  SegmentGuard guard(unique_segment_name("e2e-hb"));
  DemoServer server(guard.name(), 1, {"--heartbeat-ms", "100", "--max-missed-heartbeats", "2"});
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<std::uint16_t>(server.port()));
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ASSERT_EQ(::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr), 0);
  const std::string upgrade =
      "GET /ws?role=nurse&user=silent HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: Upgrade\r\n"
      "Upgrade: websocket\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n";
  ASSERT_EQ(::write(fd, upgrade.data(), upgrade.size()), static_cast<ssize_t>(upgrade.size()));
  char response[512] = {};
  ASSERT_GT(::read(fd, response, sizeof response - 1), 0);
  EXPECT_NE(std::string(response).find("101 Switching Protocols"), std::string::npos) << response;

  const auto r = run_loadgen({"--url", server.url(), "--clients", "3", "--duration", "1", "--rate", "30"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  ASSERT_TRUE(eventually([&] {
    return Totals(guard.name()).sum("websocket_disconnections_total", label_is("reason", "heartbeat_timeout")) == 1;
  }));
  ::close(fd);
  const Totals t(guard.name());
  EXPECT_EQ(t.sum("websocket_stale_connections_total", label_is("stale_type", "heartbeat_timeout")), 1.0);
  EXPECT_GE(t.sum("websocket_stale_connections_total", label_is("stale_type", "missed_heartbeat")), 2.0);
  EXPECT_GT(t.sum("websocket_heartbeats_sent_total"), t.sum("websocket_heartbeats_acked_total"));
  EXPECT_GT(t.sum("websocket_heartbeats_acked_total"), 0.0);  // the load generator's pongs
  EXPECT_EQ(t.sum("websocket_disconnections_total", label_is("status", "abnormal")), 1.0);
}

TEST(LoadGenerator, RefusesTargetsOffThisHost) {
  for (const char* url : {"ws://10.1.2.3:80/ws", "ws://192.0.2.1:8080/ws", "http://127.0.0.1:80/ws"}) {
    const auto r = run_loadgen({"--url", url, "--messages", "1"}, 10s);
    EXPECT_EQ(r.exit_code, 2) << url;
    EXPECT_FALSE(r.err.empty());
  }
  const auto unbounded = run_loadgen({"--url", "ws://127.0.0.1:9/ws"}, 10s);
  EXPECT_EQ(unbounded.exit_code, 2);
  EXPECT_NE(unbounded.err.find("--messages"), std::string::npos) << unbounded.err;
}

}  // namespace
}  // namespace wsm::test

namespace wsm::test {
namespace {

using namespace std::chrono_literals;

// A URL without a path means the server's endpoint; a wrong path is refused with the server's
// own answer on stderr, once.
TEST(LoadGenerator, AUrlWithoutAPathMeansWsAndARefusalSaysWhy) {
  SegmentGuard guard(unique_segment_name("lg-url"));
  DemoServer server(guard.name(), 1);
  const std::string bare = "ws://127.0.0.1:" + std::to_string(server.port());
  const auto ok = run_loadgen({"--url", bare, "--clients", "2", "--mix", "patient_monitor=1,doctor=1",
                               "--messages", "10"});
  ASSERT_EQ(ok.exit_code, 0) << ok.err;
  EXPECT_EQ(ok.summary["connected"], 2) << ok.summary.dump();
  EXPECT_EQ(ok.summary["acked"].get<int>(), 10 + 2) << "ten publishes, a subscribe and an unsubscribe";

  const auto wrong = run_loadgen({"--url", bare + "/metrics", "--clients", "2", "--messages", "1",
                                  "--max-reconnects", "1", "--timeout", "10"});
  EXPECT_NE(wrong.exit_code, 0);
  EXPECT_EQ(wrong.summary["connected"], 0);
  const std::string said = "refused the upgrade of /metrics: HTTP 400";
  ASSERT_NE(wrong.err.find(said), std::string::npos) << wrong.err;
  EXPECT_EQ(wrong.err.find(said), wrong.err.rfind(said)) << "said once: " << wrong.err;
  EXPECT_NE(wrong.err.find("WebSocket endpoint is /ws"), std::string::npos) << wrong.err;
}

// --churn-every and --stall-clients: every disruption the demo relies on, counted exactly where
// the load generator can know it (clean leaves, declared reconnections) and at least once where the
// server decides (backpressure, stale pings, its close of the stalled client).
TEST(LoadGenerator, ChurnAndStallsMakeEveryDisruptionEvent) {
  SegmentGuard guard(unique_segment_name("lg-churn"));
  DemoServer server(guard.name(), 2, {"--queue-limit", "16", "--socket-send-buffer", "4096",
                                      "--heartbeat-ms", "500", "--max-missed-heartbeats", "8"});
  const auto r = run_loadgen({"--url", server.url(), "--clients", "6", "--rate", "20",
                              "--mix", "patient_monitor=2,doctor=2,nurse=1,admin=1", "--duration", "12",
                              "--churn-every", "1", "--stall-clients", "1", "--stall-for", "5"},
                             90s);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const auto& s = r.summary;
  EXPECT_EQ(s["errors"], 0) << s.dump();
  EXPECT_GE(s["churned"].get<int>(), 5) << s.dump();
  EXPECT_GE(s["stalled"].get<int>(), 1) << s.dump();
  EXPECT_GE(s["stall_closes"].get<int>(), 1) << "the server closed the stalled client: " << s.dump();
  const Totals t(guard.name());
  const auto clean = [](const nlohmann::json& l) { return l.value("reason", "") == "client_close"; };
  // Every clean close: the churned ones and each client's close at the end.
  EXPECT_EQ(t.sum("websocket_disconnections_total", clean), s["churned"].get<double>() + 6);
  EXPECT_EQ(t.sum("websocket_reconnection_attempts_total"), s["reconnects"].get<double>());
  EXPECT_EQ(s["reconnects"].get<int>(), s["churned"].get<int>() + s["stall_closes"].get<int>());
  EXPECT_GE(t.sum("websocket_backpressure_events_total"), 1);
  EXPECT_GE(t.sum("websocket_stale_connections_total"), 1);
  const auto abnormal = [](const nlohmann::json& l) { return l.value("status", "") == "abnormal"; };
  EXPECT_EQ(t.sum("websocket_disconnections_total", abnormal), s["stall_closes"].get<double>());
  EXPECT_EQ(t.sum("websocket_connection_duration_seconds"), t.sum("websocket_disconnections_total"));
}

}  // namespace
}  // namespace wsm::test

// The live page in a real browser: Debian's headless Chromium loads GET / from a real wsm-exporter
// that reads a segment two real writer processes fill (one records known values once, one keeps
// counting so rates stay above zero). The DOM Chromium ends with must hold the numbers the JSON
// API gave for the same interval (the page tags what it shows with the interval's time, and a
// thread here collects every interval's answer meanwhile), no script error may reach the page's
// error box or the console, nothing may stick out sideways at a phone width, and screenshots at
// 1280x800 and 390x844 must be real pictures.
//
// Chromium never leaves the host: every host name but 127.0.0.1 resolves to nothing
// (--host-resolver-rules), background networking and component updates are off, and the page's
// Content-Security-Policy allows its own origin only.
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <atomic>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <map>
#include <mutex>
#include <regex>
#include <set>
#include <sstream>
#include <thread>
#include <unistd.h>
#include <zlib.h>

#include "exporter_test_support.hpp"

namespace wsm::test {
namespace {

using nlohmann::json;
namespace fs = std::filesystem;

constexpr const char* kChromium = "/usr/bin/chromium";

// ---- Chromium --------------------------------------------------------------------------------

class Browser {
 public:
  Browser() : profile_(fs::temp_directory_path() / ("wsm-live-page-" + std::to_string(::getpid()))) {
    fs::remove_all(profile_);
    fs::create_directories(profile_);
  }
  ~Browser() { fs::remove_all(profile_); }
  Browser(const Browser&) = delete;
  Browser& operator=(const Browser&) = delete;

  [[nodiscard]] const fs::path& dir() const { return profile_; }

  // Loads url, lets its scripts run for a while of virtual time, then does `what`
  // (--dump-dom, or --screenshot=FILE).
  [[nodiscard]] CommandResult load(const std::string& url, const std::string& what, const std::string& size) const {
    return run({kChromium, "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                "--disable-component-update", "--no-first-run", "--disable-sync", "--disable-extensions",
                "--disable-dev-shm-usage",  // containers often have a small /dev/shm
                "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1",
                "--user-data-dir=" + (profile_ / "profile").string(), "--enable-logging=stderr", "--v=0",
                "--virtual-time-budget=3000", "--window-size=" + size, what, url},
               {}, std::chrono::seconds(90));
  }

 private:
  fs::path profile_;
};

// Console messages and uncaught errors in Chromium's log (--enable-logging=stderr --v=0 writes a
// page's console as INFO:CONSOLE lines); the page logs nothing when all is well.
std::vector<std::string> console_lines(const std::string& log) {
  std::vector<std::string> out;
  std::istringstream in(log);
  std::string line;
  while (std::getline(in, line)) {
    if (line.find(":CONSOLE") != std::string::npos || line.find("Uncaught") != std::string::npos) {
      out.push_back(line);
    }
  }
  return out;
}

// ---- the DOM as Chromium serialised it ----------------------------------------------------------

// The start tag holding `marker` (e.g. id="updated"), from `from` on; "" when absent.
std::string start_tag(const std::string& dom, const std::string& marker, std::size_t from = 0) {
  const std::size_t at = dom.find(marker, from);
  if (at == std::string::npos) return {};
  const std::size_t open = dom.rfind('<', at);
  const std::size_t close = dom.find('>', at);
  return open == std::string::npos || close == std::string::npos ? std::string() : dom.substr(open, close - open + 1);
}

// The element whose start tag holds `marker`, through its matching end tag.
std::string element(const std::string& dom, const std::string& marker) {
  const std::string tag = start_tag(dom, marker);
  if (tag.empty()) return {};
  const std::size_t open = dom.rfind('<', dom.find(marker));
  const std::string name = tag.substr(1, tag.find_first_of(" >") - 1);
  int depth = 0;
  for (std::size_t i = open; i < dom.size();) {
    const std::size_t next_open = dom.find("<" + name, i);
    const std::size_t next_close = dom.find("</" + name + ">", i);
    if (next_close == std::string::npos) break;
    if (next_open != std::string::npos && next_open < next_close) {
      ++depth;
      i = next_open + 1;
    } else {
      if (--depth == 0) return dom.substr(open, next_close + name.size() + 3 - open);
      i = next_close + 1;
    }
  }
  return {};
}

std::optional<std::string> attribute(const std::string& tag, const std::string& name) {
  std::smatch m;
  if (!std::regex_search(tag, m, std::regex("\\s" + name + "=\"([^\"]*)\""))) return std::nullopt;
  return m[1].str();
}

// data-value (or another attribute) of the element holding `marker` in `dom` as a number; NaN
// when absent or empty (the page writes "" for the API's null).
double number_at(const std::string& dom, const std::string& marker, const std::string& name = "data-value") {
  const auto v = attribute(start_tag(dom, marker), name);
  return v && !v->empty() ? std::strtod(v->c_str(), nullptr) : std::nan("");
}

// The page shows the API's number: equal as doubles (both print the shortest round-trip form), or
// nothing for null.
void expect_shown(double shown, const json& api, const std::string& what) {
  if (api.is_null()) {
    EXPECT_TRUE(std::isnan(shown)) << what << ": the API has null, the page shows " << shown;
  } else {
    EXPECT_EQ(shown, api.get<double>()) << what;
  }
}

std::string key(const std::string& k) { return "data-key=\"" + k + "\""; }
std::string id(const std::string& i) { return "id=\"" + i + "\""; }

// ---- PNG ----------------------------------------------------------------------------------------

struct Png {
  std::uint32_t width = 0, height = 0;
  std::set<unsigned char> byte_values;  // of the decompressed scanlines
};

std::optional<Png> read_png(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  const std::string data((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  if (data.size() < 33 || data.compare(0, 8, "\x89PNG\r\n\x1a\n") != 0) return std::nullopt;
  const auto u32 = [&](std::size_t at) {
    return (std::uint32_t{static_cast<unsigned char>(data[at])} << 24) |
           (std::uint32_t{static_cast<unsigned char>(data[at + 1])} << 16) |
           (std::uint32_t{static_cast<unsigned char>(data[at + 2])} << 8) |
           std::uint32_t{static_cast<unsigned char>(data[at + 3])};
  };
  Png png;
  png.width = u32(16);
  png.height = u32(20);
  std::string idat;
  for (std::size_t at = 8; at + 12 <= data.size();) {
    const std::uint32_t length = u32(at);
    if (at + 12 + length > data.size()) return std::nullopt;
    if (data.compare(at + 4, 4, "IDAT") == 0) idat.append(data, at + 8, length);
    at += 12 + length;
  }
  z_stream z{};
  if (inflateInit(&z) != Z_OK) return std::nullopt;
  z.next_in = reinterpret_cast<Bytef*>(idat.data());
  z.avail_in = static_cast<uInt>(idat.size());
  unsigned char buf[65536];
  int rc = Z_OK;
  while (rc == Z_OK) {
    z.next_out = buf;
    z.avail_out = sizeof buf;
    rc = inflate(&z, Z_NO_FLUSH);
    png.byte_values.insert(buf, buf + (sizeof buf - z.avail_out));
  }
  inflateEnd(&z);
  if (rc != Z_STREAM_END) return std::nullopt;
  return png;
}

// ---- the test -----------------------------------------------------------------------------------

// Every interval's answer of the per-interval endpoints, by the interval's time, collected while
// the browser runs: the page's numbers are compared with the answer of the interval it shows.
class IntervalLog {
 public:
  explicit IntervalLog(const Exporter& exporter)
      : thread_([this, &exporter] {
          while (!stop_) {
            collect(exporter);
            std::this_thread::sleep_for(std::chrono::milliseconds(100));
          }
        }) {}
  ~IntervalLog() { finish(); }
  void finish() {
    stop_ = true;
    if (thread_.joinable()) thread_.join();
  }
  std::map<double, json> summaries, snapshots;

 private:
  void collect(const Exporter& exporter) {
    const auto s = exporter.get("/api/v1/summary");
    const auto h = exporter.get("/api/v1/snapshots?n=5");
    std::lock_guard lock(mutex_);
    if (s && s->status == 200) {
      const json j = json::parse(s->body);
      summaries[j["time"].get<double>()] = j;
    }
    if (h && h->status == 200) {
      const json j = json::parse(h->body);
      for (const json& r : j["snapshots"]) snapshots[r["time"].get<double>()] = r;
    }
  }
  std::mutex mutex_;
  std::atomic<bool> stop_{false};
  std::thread thread_;
};

json get_json(const Exporter& exporter, const std::string& path) {
  const auto r = exporter.get(path);
  EXPECT_TRUE(r && r->status == 200) << path << ": " << (r ? r->body : "no answer");
  return r && r->status == 200 ? json::parse(r->body) : json();
}

// Known values, recorded once and held: gauges and histograms the page shows as they are.
const std::vector<std::string> kKnown = {
    "gauge", "websocket_connections_active", "role=doctor", "3",
    "gauge", "websocket_connections_active", "role=nurse", "2",
    "gauge", "websocket_buffer_utilization_percent", "buffer_type=send_queue,role=doctor", "37", "max",
    "gauge", "websocket_queue_size", "queue_type=send,role=doctor", "12",
    "gauge", "websocket_subscriptions_active", "subscription_type=ecg,role=doctor", "4",
    "gauge", "websocket_subscriptions_active", "subscription_type=vitals,role=nurse", "2",
    "hist", "websocket_message_latency_seconds", "message_type=ecg_data,processing_stage=send", "250000", "10",
    "hist", "websocket_message_latency_seconds", "message_type=vitals,processing_stage=parse", "2000000", "5",
    "hist", "websocket_compression_ratio_percent", "compression_type=deflate,message_type=ecg_data", "40", "8",
};
// One open connection in the connection table, where the health score comes from: 42.
const std::vector<std::string> kConnection = {"connection", "doctor", "-", "-", "42", "0", "0"};
// Counted again every 100 ms: rates, heartbeat success, failures, disconnections and the
// interval's latency move (alert messages take 500 µs, every one).
const std::vector<std::string> kSteady = {
    "--repeat-ms", "100",
    "counter", "websocket_messages_sent_total", "message_type=ecg_data,role=doctor", "3",
    "counter", "websocket_messages_received_total", "message_type=vitals,role=nurse", "2",
    "counter", "websocket_transferred_bytes_total", "direction=out,protocol=ws,role=doctor", "700",
    "counter", "websocket_transferred_bytes_total", "direction=in,protocol=ws,role=nurse", "300",
    "counter", "websocket_heartbeats_sent_total", "role=nurse", "10",
    "counter", "websocket_heartbeats_acked_total", "role=nurse", "9",
    "counter", "websocket_failed_messages_total", "message_type=ecg_data,failure_reason=queue_full,role=nurse", "1",
    "counter", "websocket_disconnections_total", "reason=client_close,role=nurse,status=normal", "1",
    "hist", "websocket_message_latency_seconds", "message_type=alert,processing_stage=route", "500000", "1",
};

class LivePage : public ::testing::Test {
 protected:
  void SetUp() override {
    if (::access(kChromium, X_OK) != 0) {
      GTEST_SKIP() << kChromium << " is not installed (scripts/setup installs Debian's chromium)";
    }
  }
};

TEST_F(LivePage, ShowsWhatTheApiSaysWithoutErrors) {
  SegmentGuard segment(unique_segment_name("live-page"));
  Child known = start_writer(segment.name(), kKnown, "doctor");
  Child steady = start_writer(segment.name(), kSteady, "nurse");
  Child connection = start_writer(segment.name(), kConnection, "doctor");
  Exporter exporter(segment.name());
  // Rates and heartbeat success need two intervals.
  ASSERT_TRUE(wait_until([&] {
    const auto r = exporter.get("/api/v1/summary");
    if (!r || r->status != 200) return false;
    const json s = json::parse(r->body);
    return s["rates"]["messages_per_second"]["out"].is_number() &&
           s["rates"]["messages_per_second"]["out"].get<double>() > 0 &&
           s["health"]["heartbeat_success_percent"].contains("nurse");
  })) << "the exporter never reported rates";

  const std::string url = "http://127.0.0.1:" + std::to_string(exporter.port()) + "/";
  Browser browser;
  IntervalLog log(exporter);
  const CommandResult wide = browser.load(url, "--dump-dom", "1280,800");
  const CommandResult narrow = browser.load(url, "--dump-dom", "390,844");
  log.finish();
  ASSERT_EQ(wide.exit_code, 0) << wide.err;
  ASSERT_EQ(narrow.exit_code, 0) << narrow.err;
  const std::string& dom = wide.out;

  // No script error, in the page or in the console.
  for (const CommandResult* r : {&wide, &narrow}) {
    const std::string errors = element(r->out, id("errors"));
    ASSERT_FALSE(errors.empty()) << "no #errors element in\n" << r->out;
    EXPECT_EQ(errors.substr(errors.find('>') + 1), "</section>") << "the page reported an error: " << errors;
    EXPECT_EQ(console_lines(r->err), std::vector<std::string>{}) << "console output";
    EXPECT_NE(element(r->out, id("connection-state")).find(">live<"), std::string::npos)
        << element(r->out, id("connection-state"));
  }

  // Nothing sticks out sideways, on a phone or a laptop.
  for (const std::string* d : {&narrow.out, &dom}) {
    const auto layout = attribute(start_tag(*d, "data-layout="), "data-layout");
    ASSERT_TRUE(layout) << "the page never finished a refresh";
    int window = 0, page = 0;
    std::istringstream(*layout) >> window >> page;
    EXPECT_GT(window, 0);
    EXPECT_LE(page, window) << "the page is wider than the window: " << *layout;
  }

  // The summary the page shows, as the API gave it for that interval.
  const double time = number_at(dom, id("updated"), "data-time");
  ASSERT_EQ(log.summaries.count(time), 1u) << "the page shows an interval (" << time << ") the API never reported";
  const json& s = log.summaries.at(time);
  expect_shown(number_at(dom, id("connections-total")), s["connections"]["total"], "connections");
  EXPECT_EQ(s["connections"]["total"].get<double>(), 6);  // as recorded, and the one connection
  const std::string by_role = element(dom, id("connections-by-role"));
  // doctor and nurse from the gauges, and every role at zero or more from the facade's catalogue.
  EXPECT_GE(s["connections"]["by_role"].size(), 2u);
  for (const auto& [role, n] : s["connections"]["by_role"].items()) {
    expect_shown(number_at(by_role, key(role)), n, "connections of " + role);
  }
  expect_shown(number_at(dom, id("messages-out-rate")), s["rates"]["messages_per_second"]["out"], "sent/s");
  expect_shown(number_at(dom, id("messages-in-rate")), s["rates"]["messages_per_second"]["in"], "received/s");
  expect_shown(number_at(dom, id("bytes-out-rate")), s["rates"]["bytes_per_second"]["out"], "bytes out/s");
  expect_shown(number_at(dom, id("bytes-in-rate")), s["rates"]["bytes_per_second"]["in"], "bytes in/s");
  expect_shown(number_at(dom, id("failed-rate")), s["rates"]["failed_per_second"], "failed/s");
  expect_shown(number_at(dom, id("disconnect-rate")), s["rates"]["disconnections_per_second"], "disconnections/s");
  expect_shown(number_at(dom, id("min-health")), s["health"]["min_score"], "lowest health");
  expect_shown(number_at(element(dom, id("heartbeat-by-role")), key("nurse")),
               s["health"]["heartbeat_success_percent"]["nurse"], "heartbeat success of nurse");
  expect_shown(number_at(dom, id("messages-sent")), s["messages"]["sent"], "sent");
  expect_shown(number_at(dom, id("messages-received")), s["messages"]["received"], "received");
  expect_shown(number_at(dom, id("messages-failed")), s["messages"]["failed"], "failed");

  // Breached thresholds are the alerts at the top: health 42 < 70 and 1 failed per 3 sent > 5% here.
  const std::string alerts = element(dom, id("alerts"));
  std::set<std::string> breached;
  for (const json& b : s["breached"]) {
    const std::string name = b["threshold"];
    breached.insert(name);
    const std::string marker = "data-threshold=\"" + name + "\"";
    ASSERT_NE(alerts.find(marker), std::string::npos) << name << " is breached but not shown: " << alerts;
    expect_shown(number_at(alerts, marker), b["value"], "alert " + name);
    expect_shown(number_at(alerts, marker, "data-limit"), b["limit"], "limit of " + name);
  }
  EXPECT_EQ(breached, (std::set<std::string>{"failure_ratio", "health_score"}));
  std::size_t shown_alerts = 0;
  for (std::size_t at = alerts.find("data-threshold="); at != std::string::npos; at = alerts.find("data-threshold=", at + 1)) {
    ++shown_alerts;
  }
  EXPECT_EQ(shown_alerts, breached.size()) << alerts;

  // CPU and memory per process, from the same interval.
  const std::string processes = element(dom, id("process-table"));
  ASSERT_EQ(s["resources"]["processes"].size(), 4u);  // three writers and the exporter
  for (const json& p : s["resources"]["processes"]) {
    const std::string row = element(processes, key(std::to_string(p["pid"].get<int>())));
    ASSERT_FALSE(row.empty()) << "no row for pid " << p["pid"];
    expect_shown(number_at(row, "data-field=\"cpu_percent\""), p["cpu_percent"], "CPU of " + p["pid"].dump());
    expect_shown(number_at(row, "data-field=\"rss_bytes\""), p["rss_bytes"], "RSS of " + p["pid"].dump());
  }

  // The charts end with the newest interval record the page has, as /api/v1/snapshots gave it.
  const double last = number_at(dom, id("chart-connections-value"), "data-time");
  ASSERT_EQ(log.snapshots.count(last), 1u) << "the charts end at an interval (" << last
                                           << ") the API never reported: " << start_tag(dom, id("chart-connections-value"));
  const json& r = log.snapshots.at(last);
  const std::map<std::string, std::string> charts = {
      {"chart-connections", "active_connections"}, {"chart-messages", "messages_out_per_second"},
      {"chart-bandwidth", "bytes_per_second"},     {"chart-latency", "p95_latency_seconds"},
      {"chart-cpu", "max_worker_cpu_percent"},     {"chart-memory", "max_worker_memory_bytes"},
      {"chart-failed", "failure_ratio"},           {"chart-disconnects", "disconnections_per_second"},
      {"chart-health", "min_health_score"}};
  for (const auto& [chart, field] : charts) {
    expect_shown(number_at(dom, id(chart + "-value")), r[field], chart);
    EXPECT_NE(element(dom, id(chart)).find("<path class=\"line"), std::string::npos) << chart << " has no line";
  }
  // Thresholds are drawn where a chart has one.
  const std::map<std::string, std::string> limits = {
      {"chart-latency", "latency_seconds"}, {"chart-cpu", "cpu_percent"}, {"chart-memory", "memory_bytes"},
      {"chart-failed", "failure_ratio"}, {"chart-health", "health_score"}};
  for (const auto& [chart, threshold] : limits) {
    expect_shown(number_at(dom, id(chart + "-limit")), s["thresholds"][threshold], chart + " limit");
    EXPECT_NE(element(dom, id(chart)).find("class=\"limit"), std::string::npos) << chart << " draws no limit";
  }

  // What does not change while the writers hold, as the API says now.
  const json breakdown = get_json(exporter, "/api/v1/breakdown");
  const std::string latency = element(dom, id("latency-table"));
  const std::map<std::string, double> recorded_latency = {{"alert", 500e-6}, {"ecg_data", 250e-6}, {"vitals", 2e-3}};
  ASSERT_EQ(breakdown["latency_seconds_by_message_type"].size(), recorded_latency.size());
  for (const auto& [type, recorded] : recorded_latency) {
    const std::string row = element(latency, key(type));
    ASSERT_FALSE(row.empty()) << "no latency row for " << type;
    const json p = get_json(exporter, "/api/v1/percentiles?metric=websocket_message_latency_seconds&message_type=" +
                                          type + "&q=0.5,0.95,0.99");
    if (type != "alert") expect_shown(number_at(row, "data-field=\"count\""), p["count"], type + " count");
    const char* fields[] = {"p50", "p95", "p99"};
    for (std::size_t i = 0; i < 3; ++i) {
      const double shown = number_at(row, std::string("data-field=\"") + fields[i] + "\"");
      if (type == "alert") {
        // Still recorded every 100 ms: the page and this request saw other counts, and the rank's
        // place inside the value's bucket (what the quantile interpolates) moves with the count.
        EXPECT_NEAR(shown, p["quantiles"][i]["value"].get<double>(), recorded * 0.125) << type << " " << fields[i];
      } else {
        expect_shown(shown, p["quantiles"][i]["value"], type + " " + fields[i]);
      }
      // Every recording had one value: each quantile lies in its bucket, within 12.5% of it.
      EXPECT_NEAR(shown, recorded, recorded * 0.125) << type << " " << fields[i];
    }
  }
  const std::string buffers = element(dom, id("buffer-table"));
  EXPECT_EQ(number_at(element(buffers, key("buffer:send_queue:doctor")), "data-field=\"value\""), 37);
  EXPECT_EQ(number_at(element(buffers, key("queue:send:doctor")), "data-field=\"value\""), 12);
  EXPECT_EQ(number_at(dom, id("subscriptions-total")), 6);
  expect_shown(number_at(element(dom, id("compression-by-type")), key("deflate")),
               breakdown["compression_ratio_percent_by_type"]["deflate"]["quantiles"][0]["value"], "compression p50");

  const json writers = get_json(exporter, "/api/v1/writers");
  const std::string writer_table = element(dom, id("writer-table"));
  ASSERT_FALSE(writers["writers"].empty());
  for (const json& w : writers["writers"]) {
    const std::string row = element(writer_table, key("slot-" + std::to_string(w["slot"].get<int>())));
    ASSERT_FALSE(row.empty()) << "no row for writer slot " << w["slot"];
    expect_shown(number_at(row, "data-field=\"pid\""), w["pid"], "writer pid");
    EXPECT_EQ(attribute(start_tag(row, "data-field=\"role\""), "data-value"), w["role"].get<std::string>());
    EXPECT_EQ(attribute(start_tag(row, "data-field=\"state\""), "data-value"), w["state"].get<std::string>());
    EXPECT_GE(number_at(row, "data-field=\"heartbeat_age_seconds\""), 0);
  }
  const std::set<int> writer_pids = {known.pid(), steady.pid(), connection.pid()};
  for (const json& w : writers["writers"]) EXPECT_EQ(writer_pids.count(w["pid"].get<int>()), 1u) << w.dump();

  const json usage = get_json(exporter, "/api/v1/segment")["usage"];
  const std::string segment_usage = element(dom, id("segment-usage"));
  ASSERT_FALSE(usage.empty());
  for (const auto& [name, u] : usage.items()) {
    expect_shown(number_at(segment_usage, key(name)), u["used"], name + " used");
    expect_shown(number_at(segment_usage, key(name), "data-capacity"), u["capacity"], name + " capacity");
  }

  // Screenshots at a laptop's and at a phone's size are real pictures of that size.
  for (const auto& [size, w, h] : {std::tuple{"1280,800", 1280u, 800u}, std::tuple{"390,844", 390u, 844u}}) {
    const fs::path file = browser.dir() / (std::string("shot-") + size + ".png");
    const CommandResult shot = browser.load(url, "--screenshot=" + file.string(), size);
    ASSERT_EQ(shot.exit_code, 0) << shot.err;
    EXPECT_EQ(console_lines(shot.err), std::vector<std::string>{});
    const auto png = read_png(file);
    ASSERT_TRUE(png) << file << " is not a PNG";
    EXPECT_EQ(png->width, w);
    EXPECT_EQ(png->height, h);
    // A blank or single-colour page decompresses to a handful of byte values; text, charts and
    // tiles to far more.
    EXPECT_GT(png->byte_values.size(), 64u) << size;
  }
  EXPECT_EQ(exporter.stop(), 0);
}

// Served files: the page and what it loads, with their types; anything else is still a 404.
TEST(LivePageFiles, AreServedWithTheirTypes) {
  SegmentGuard segment(unique_segment_name("live-page-files"));
  Exporter exporter(segment.name());
  const std::map<std::string, std::string> files = {{"/", "text/html; charset=utf-8"},
                                                    {"/live.css", "text/css; charset=utf-8"},
                                                    {"/live.js", "text/javascript; charset=utf-8"},
                                                    {"/report_errors.js", "text/javascript; charset=utf-8"}};
  for (const auto& [path, type] : files) {
    const auto r = exporter.get(path);
    ASSERT_TRUE(r) << path;
    EXPECT_EQ(r->status, 200) << path;
    EXPECT_EQ(r->headers.at("content-type"), type) << path;
    // The files in the source tree, byte for byte.
    const std::string name = path == "/" ? "index.html" : path.substr(1);
    std::ifstream in(std::string(WSM_SOURCE_DIR) + "/exporter/daemon/live_page/" + name, std::ios::binary);
    const std::string source((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    EXPECT_FALSE(source.empty()) << name;
    EXPECT_EQ(r->body, source) << path;
  }
  // The page names only same-origin URLs: no scheme, no protocol-relative address.
  for (const std::string path : {"/", "/live.js", "/live.css"}) {
    const std::string body = exporter.get(path)->body;
    EXPECT_EQ(body.find("//cdn"), std::string::npos) << path;
    EXPECT_FALSE(std::regex_search(body, std::regex(R"((src|href)=["'](https?:)?//)"))) << path;
  }
  const auto missing = exporter.get("/live.jsx");
  ASSERT_TRUE(missing);
  EXPECT_EQ(missing->status, 404);
  // Without a segment the API answers 503; the page is served all the same.
  EXPECT_EQ(exporter.get("/api/v1/writers")->status, 503);
  EXPECT_EQ(exporter.get("/api/v1/segment")->status, 503);
  EXPECT_EQ(exporter.get("/api/v1/breakdown")->status, 503);
}

}  // namespace
}  // namespace wsm::test

// The demo server and load generator as real processes, and the segment's totals as `wsm dump
// --json` reports them: what the end-to-end tests compare.
#pragma once

#include <chrono>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <sys/types.h>
#include <vector>

#include <nlohmann/json.hpp>

#include "test_support.hpp"

namespace wsm::test {

// wsm-demo-server with N workers on a free loopback port; stopped with SIGTERM (then its workers
// and itself with SIGKILL if it hangs) when destroyed.
class DemoServer {
 public:
  DemoServer(const std::string& segment, int workers, std::vector<std::string> extra_args = {});
  ~DemoServer();
  DemoServer(const DemoServer&) = delete;
  DemoServer& operator=(const DemoServer&) = delete;

  [[nodiscard]] int port() const { return port_; }
  [[nodiscard]] pid_t pid() const { return child_->pid(); }
  [[nodiscard]] std::string url() const { return "ws://127.0.0.1:" + std::to_string(port_) + "/ws"; }
  [[nodiscard]] std::vector<pid_t> workers() const;
  // SIGTERM and wait; the exit code (nullopt if it did not stop).
  std::optional<int> stop();

 private:
  int port_;
  std::optional<Child> child_;
};

// Child processes of pid (from /proc/<pid>/task/*/children).
[[nodiscard]] std::vector<pid_t> children_of(pid_t pid);
[[nodiscard]] bool running(pid_t pid);  // alive and not a zombie
[[nodiscard]] char process_state(pid_t pid);  // /proc/<pid>/stat state ('R', 'S', 'T', 'Z'...), 0 if gone

// Runs wsm-loadgen to completion; its exit code and parsed JSON summary.
struct LoadResult {
  int exit_code = -1;
  nlohmann::json summary;
  std::string err;
};
[[nodiscard]] LoadResult run_loadgen(const std::vector<std::string>& args,
                                     std::chrono::milliseconds timeout = std::chrono::seconds(60));

// `wsm dump --json` of a segment.
class Totals {
 public:
  explicit Totals(const std::string& segment);
  // Sum of a family's values (counters, gauges) or counts (histograms) over the series whose
  // labels pass `where`.
  [[nodiscard]] double sum(const std::string& name,
                           const std::function<bool(const nlohmann::json& labels)>& where = {}) const;
  [[nodiscard]] const nlohmann::json& json() const { return json_; }

 private:
  nlohmann::json json_;
};

// A hand-made WebSocket client (no compression) for behaviours the load generator avoids: a
// client that stops reading, refused requests, announcements.
class RawClient {
 public:
  // Connects to 127.0.0.1:port and asks for the upgrade of `target` (e.g. "/ws?role=nurse");
  // receive_buffer > 0 sets SO_RCVBUF first (a small one makes a slow reader).
  RawClient(int port, const std::string& target, int receive_buffer = 0);
  ~RawClient();
  RawClient(const RawClient&) = delete;
  RawClient& operator=(const RawClient&) = delete;

  [[nodiscard]] bool upgraded() const { return upgraded_; }
  [[nodiscard]] const std::string& response() const { return response_; }  // the HTTP answer
  void send_text(const std::string& text);
  // The next text frame (pings are skipped); nullopt on a close frame, EOF or timeout.
  std::optional<std::string> next_text(std::chrono::milliseconds timeout = std::chrono::seconds(5));

 private:
  bool fill(std::size_t need, std::chrono::steady_clock::time_point deadline);
  int fd_ = -1;
  bool upgraded_ = false;
  std::string response_;
  std::string in_;  // bytes read and not yet consumed
};

// Waits (bounded) until `ready` holds; returns whether it did.
bool eventually(const std::function<bool()>& ready,
                std::chrono::milliseconds timeout = std::chrono::seconds(15));

}  // namespace wsm::test

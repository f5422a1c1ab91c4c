// Helpers of the exporter tests: the exporter and test writers as child processes, reading an
// exposition back, promtool (URL encoding: url_encode.hpp; gunzip: test_support.hpp).
#pragma once

#include <chrono>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "test_support.hpp"
#include "url_encode.hpp"

namespace wsm::test {

// Samples of a text exposition: "name{labels}" (as written) -> value text; families by TYPE line.
struct ParsedExposition {
  std::map<std::string, std::string> samples;
  std::map<std::string, std::string> types;   // family -> counter|gauge|histogram|...
  std::map<std::string, std::string> blocks;  // family -> its lines (HELP/TYPE/UNIT and samples)
  std::vector<std::string> errors;            // lines that did not parse
};
[[nodiscard]] ParsedExposition parse_exposition(const std::string& text);
// The value of one sample as a double; NaN when absent.
[[nodiscard]] double sample(const ParsedExposition& e, const std::string& series);

// `promtool check metrics` on text; exit code and output.
[[nodiscard]] CommandResult promtool_check(const std::string& text);
// promtool's lint findings, minus the ones about names the WebSocket catalogue (issue 5) fixes:
// websocket_file_descriptors_count is mandated there and promtool dislikes its _count suffix.
[[nodiscard]] std::vector<std::string> promtool_problems(const std::string& text);

bool wait_until(const std::function<bool()>& done, std::chrono::milliseconds timeout = std::chrono::seconds(20));

// What an agent-check listener (--agent-check-listen) answers on host:port, as HAProxy reads it:
// connect, send `agent_send` (HAProxy's optional agent-send text), read until the agent closes.
// nullopt when the connection fails or the agent does not close within the timeout.
[[nodiscard]] std::optional<std::string> agent_check_reply(const std::string& host, int port,
                                                           const std::string& agent_send = "");

// A test writer (tests/exporter/test_writer.cpp) that records `ops` and then holds (stays alive)
// or exits; returns once everything is recorded.
[[nodiscard]] Child start_writer(const std::string& segment, const std::vector<std::string>& ops,
                                 const std::string& role = "test", bool hold = true);
// Runs a writer to completion.
void run_writer(const std::string& segment, const std::vector<std::string>& ops, const std::string& role = "test");

// wsm-exporter on a free loopback port; SIGKILLed by ~Child if a test fails before stop().
class Exporter {
 public:
  explicit Exporter(const std::string& segment, std::vector<std::string> extra_args = {},
                    std::vector<std::string> env = {});
  [[nodiscard]] int port() const { return port_; }
  [[nodiscard]] std::optional<HttpResponse> get(const std::string& path,
                                                const std::map<std::string, std::string>& headers = {}) const;
  [[nodiscard]] std::string metrics() const;  // text format, asserts 200
  // SIGTERM and wait; the exit code.
  std::optional<int> stop();
  [[nodiscard]] pid_t pid() const { return child_.pid(); }

 private:
  int port_;
  Child child_;
};

}  // namespace wsm::test

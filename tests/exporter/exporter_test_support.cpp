#include "exporter_test_support.hpp"

#include <atomic>
#include <cmath>
#include <csignal>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <gtest/gtest.h>
#include <sstream>
#include <thread>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>
#include <zlib.h>

namespace wsm::test {

namespace {

std::string temp_path(const std::string& what) {
  static std::atomic<int> n{0};
  return (std::filesystem::temp_directory_path() /
          ("wsm-exporter-test-" + std::to_string(::getpid()) + "-" + std::to_string(n++) + "-" + what))
      .string();
}

}  // namespace

std::optional<std::string> agent_check_reply(const std::string& host, int port, const std::string& agent_send) {
  const int fd = connect_to(host, port);
  if (fd < 0) return std::nullopt;
  std::optional<std::string> reply;
  if (agent_send.empty() ||
      ::send(fd, agent_send.data(), agent_send.size(), MSG_NOSIGNAL) == static_cast<ssize_t>(agent_send.size())) {
    std::string text;
    for (;;) {  // until the agent closes: the reply is whole only then
      pollfd p{fd, POLLIN, 0};
      if (::poll(&p, 1, 10'000) != 1) break;
      char buffer[256];
      const ssize_t n = ::recv(fd, buffer, sizeof buffer, 0);
      if (n < 0) break;
      if (n == 0) {
        reply = text;
        break;
      }
      text.append(buffer, static_cast<std::size_t>(n));
    }
  }
  ::close(fd);
  return reply;
}

ParsedExposition parse_exposition(const std::string& text) {
  ParsedExposition e;
  std::istringstream in(text);
  std::string line, family;
  while (std::getline(in, line)) {
    if (line.empty() || line == "# EOF") continue;
    if (line.starts_with("# TYPE ")) {
      const std::string rest = line.substr(7);
      const auto sp = rest.find(' ');
      family = rest.substr(0, sp);
      e.types[family] = sp == std::string::npos ? "" : rest.substr(sp + 1);
    } else if (line.starts_with("# HELP ") || line.starts_with("# UNIT ")) {
      family = line.substr(7, line.find(' ', 7) - 7);
    }
    if (!family.empty()) e.blocks[family] += line + "\n";
    if (line[0] == '#') continue;
    // name{labels} value: labels may hold spaces, braces and escaped quotes inside "...".
    std::size_t i = line.find_first_of("{ ");
    if (i != std::string::npos && line[i] == '{') {
      bool quoted = false;
      for (++i; i < line.size(); ++i) {
        if (quoted && line[i] == '\\') {
          ++i;
        } else if (line[i] == '"') {
          quoted = !quoted;
        } else if (!quoted && line[i] == '}') {
          ++i;
          break;
        }
      }
    }
    if (i == std::string::npos || i >= line.size() || line[i] != ' ') {
      e.errors.push_back(line);
      continue;
    }
    e.samples[line.substr(0, i)] = line.substr(i + 1);
  }
  return e;
}

double sample(const ParsedExposition& e, const std::string& series) {
  const auto it = e.samples.find(series);
  return it == e.samples.end() ? std::nan("") : std::strtod(it->second.c_str(), nullptr);
}

CommandResult promtool_check(const std::string& text) {
  const std::string path = temp_path("metrics.txt");
  std::ofstream(path) << text;
  auto r = run({"/bin/sh", "-c", "exec promtool check metrics < '" + path + "'"});
  std::filesystem::remove(path);
  return r;
}

std::vector<std::string> promtool_problems(const std::string& text) {
  const CommandResult r = promtool_check(text);
  std::vector<std::string> problems;
  if (r.exit_code == 0) return problems;
  std::istringstream lines(r.out + r.err);
  std::string line;
  while (std::getline(lines, line)) {
    if (line.empty()) continue;
    if (line.starts_with("websocket_file_descriptors_count ") &&
        line.find("should not have \"_count\" suffix") != std::string::npos) {
      continue;
    }
    problems.push_back(line);
  }
  if (problems.empty() && r.exit_code != 3) problems.push_back("promtool exit " + std::to_string(r.exit_code));
  return problems;
}

bool wait_until(const std::function<bool()>& done, std::chrono::milliseconds timeout) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (std::chrono::steady_clock::now() < deadline) {
    if (done()) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  return done();
}

Child start_writer(const std::string& segment, const std::vector<std::string>& ops, const std::string& role,
                   bool hold) {
  const std::string ready = temp_path("ready");
  std::vector<std::string> argv = {bin("exporter_test_writer"), "--segment", segment, "--role", role,
                                   "--ready", ready};
  if (hold) argv.push_back("--hold");
  argv.insert(argv.end(), ops.begin(), ops.end());
  Child c = Child::spawn(argv);
  EXPECT_TRUE(wait_until([&] { return std::filesystem::exists(ready); })) << "writer did not get ready";
  std::filesystem::remove(ready);
  return c;
}

void run_writer(const std::string& segment, const std::vector<std::string>& ops, const std::string& role) {
  Child c = start_writer(segment, ops, role, false);
  EXPECT_EQ(c.wait(), 0);
}

Exporter::Exporter(const std::string& segment, std::vector<std::string> extra_args, std::vector<std::string> env)
    : port_(free_port()),
      child_([&] {
        std::vector<std::string> argv = {bin("wsm-exporter"), "--segment", segment, "--listen",
                                         "127.0.0.1:" + std::to_string(port_), "--interval", "1"};
        argv.insert(argv.end(), extra_args.begin(), extra_args.end());
        return Child::spawn(argv, env);
      }()) {
  // Up once /healthz answers at all (503 while the segment is missing).
  EXPECT_TRUE(wait_until([&] { return http_get(port_, "/healthz", {}, std::chrono::seconds(2)).has_value(); }))
      << "wsm-exporter did not start listening on " << port_;
}

std::optional<HttpResponse> Exporter::get(const std::string& path,
                                          const std::map<std::string, std::string>& headers) const {
  return http_get(port_, path, headers);
}

std::string Exporter::metrics() const {
  const auto r = get("/metrics");
  EXPECT_TRUE(r && r->status == 200);
  return r ? r->body : std::string();
}

std::optional<int> Exporter::stop() {
  child_.signal(SIGTERM);
  return child_.wait(std::chrono::seconds(10));
}

}  // namespace wsm::test

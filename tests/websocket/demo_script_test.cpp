// scripts/demo with WSM_DEMO_SECONDS: starts the server (2 workers), the exporter when built and
// the load generator, serves catalogue metrics while it runs, and stops every process it started.
#include <gtest/gtest.h>

#include <arpa/inet.h>
#include <csignal>
#include <filesystem>
#include <fstream>
#include <netinet/in.h>
#include <sstream>
#include <sys/socket.h>
#include <unistd.h>

#include "demo_processes.hpp"

namespace wsm::test {
namespace {

using namespace std::chrono_literals;

// "server=1 workers=2 3 loadgen=4 exporter=5" -> every pid in it.
std::vector<pid_t> pids_in(const std::string& line) {
  std::vector<pid_t> out;
  std::istringstream in(line);
  for (std::string word; in >> word;) {
    const auto eq = word.find('=');
    const std::string number = eq == std::string::npos ? word : word.substr(eq + 1);
    if (!number.empty() && std::all_of(number.begin(), number.end(), ::isdigit)) out.push_back(std::stoi(number));
  }
  return out;
}

bool port_open(int port) {
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<std::uint16_t>(port));
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  const bool open = ::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0;
  ::close(fd);
  return open;
}

TEST(DemoScript, RunsForWsmDemoSecondsThenLeavesNothingRunning) {
  SegmentGuard guard(unique_segment_name("demo"));
  const int port = free_port();
  const int exporter_port = free_port();
  const auto logs = std::filesystem::temp_directory_path() / guard.name();
  std::filesystem::remove_all(logs);
  auto demo = Child::spawn({"/bin/bash", std::string(WSM_SOURCE_DIR) + "/scripts/demo"},
                           {"WSM_DEMO_SECONDS=20", "WSM_DEMO_SKIP_BUILD=1", "WSM_BIN_DIR=" WSM_BIN_DIR,
                            "WSM_DEMO_SEGMENT=" + guard.name(), "WSM_DEMO_PORT=" + std::to_string(port),
                            "WSM_DEMO_EXPORTER_PORT=" + std::to_string(exporter_port),
                            "WSM_DEMO_LOG_DIR=" + logs.string()},
                           /*capture_stdout=*/true);

  // While it runs: the pids it started, the server answering, catalogue metrics recorded.
  std::string pid_line;
  ASSERT_TRUE(eventually([&] {
    std::ifstream in(logs / "pids");
    return static_cast<bool>(std::getline(in, pid_line));
  }, 30s));
  const std::vector<pid_t> pids = pids_in(pid_line);
  ASSERT_GE(pids.size(), 4u) << pid_line;  // server, two workers, load generator (+ exporter)
  for (pid_t p : pids) EXPECT_TRUE(running(p)) << p;
  EXPECT_TRUE(wait_for_http(port, "/healthz"));
  ASSERT_TRUE(eventually([&] { return Totals(guard.name()).sum("websocket_messages_received_total") > 0; }, 15s));
  if (std::filesystem::exists(std::string(WSM_BIN_DIR) + "/wsm-exporter")) {
    ASSERT_TRUE(wait_for_http(exporter_port, "/metrics"));
    const auto metrics = http_get(exporter_port, "/metrics");
    ASSERT_TRUE(metrics);
    EXPECT_NE(metrics->body.find("websocket_messages_received_total"), std::string::npos);
  }

  ASSERT_EQ(demo.wait(90s), 0);
  const std::string out = demo.read_stdout();
  EXPECT_NE(out.find("ws://127.0.0.1:" + std::to_string(port) + "/ws"), std::string::npos) << out;
  EXPECT_NE(out.find("wsm dump " + guard.name()), std::string::npos) << out;
  EXPECT_NE(out.find("stopped"), std::string::npos) << out;
  for (pid_t p : pids) EXPECT_FALSE(running(p)) << "pid " << p << " outlived scripts/demo";
  EXPECT_FALSE(port_open(port));
  EXPECT_FALSE(port_open(exporter_port));
  EXPECT_FALSE(std::filesystem::exists("/dev/shm/wsm." + guard.name()));
  std::filesystem::remove_all(logs);
}

}  // namespace
}  // namespace wsm::test

// Metrics-aware load balancing with a real HAProxy (issue 18, item 3): three wsm-demo-servers,
// each with its own segment and a wsm-exporter answering HAProxy's agent check on 127.0.0.11-13,
// behind HAProxy on loopback. One host is made sick (a client that stops answering its pings
// drags the host's lowest health score under the threshold); HAProxy drains it on the agent's
// word and new WebSocket connections go to the other two; once the client is gone the host is
// ready again and takes connections. Another host with connections held near its capacity gets a
// lower weight and fewer new connections. Where connections went is read from HAProxy's stats
// socket.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <map>
#include <memory>
#include <sstream>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "demo_processes.hpp"
#include "exporter_test_support.hpp"

namespace wsm::test {
namespace {

using namespace std::chrono_literals;

constexpr const char* kHaproxy = "/usr/sbin/haproxy";
constexpr std::chrono::seconds kDeadline{20};  // generous: the agent is asked every 500 ms

// Pings every 200 ms and gives up on a silent client only after 200 s: a stalled client then
// lowers the host's health score within a second and keeps it low until it leaves.
const std::vector<std::string> kQuickPings = {"--heartbeat-ms", "200", "--max-missed-heartbeats", "1000"};
// Pings once an hour: clients that never answer pings stay healthy for the whole test.
const std::vector<std::string> kNoPings = {"--heartbeat-ms", "3600000"};

// One host: a demo server, its segment, and an exporter answering agent checks on `agent_host`.
struct Host {
  Host(const std::string& name, const std::string& agent_host, const std::vector<std::string>& server_args,
       std::vector<std::string> exporter_args = {})
      : segment(unique_segment_name(name)),
        guard(segment),
        server(segment, 1, server_args),
        agent_address(agent_host),
        agent_port(free_port()),
        exporter(segment, [&] {
          exporter_args.insert(exporter_args.end(),
                               {"--agent-check-listen", agent_host + ":" + std::to_string(agent_port)});
          return exporter_args;
        }()) {}

  std::string segment;
  SegmentGuard guard;
  DemoServer server;
  std::string agent_address;
  int agent_port;
  Exporter exporter;
};

struct ServerStat {
  std::string status;  // UP, DRAIN, DOWN, ...
  long weight = -1;    // the effective weight: the configured one scaled by the agent's percent
  long sessions = -1;  // stot: connections HAProxy has sent to the server
};

// `show stat` on HAProxy's stats socket: the rows of backend `backend`, by server name.
std::map<std::string, ServerStat> show_stat(const std::string& socket_path, const std::string& backend) {
  std::map<std::string, ServerStat> stats;
  const int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  std::snprintf(addr.sun_path, sizeof addr.sun_path, "%s", socket_path.c_str());
  std::string csv;
  if (::connect(fd, reinterpret_cast<const sockaddr*>(&addr), sizeof addr) == 0 &&
      ::write(fd, "show stat\n", 10) == 10) {
    char buffer[4096];
    for (ssize_t n; (n = ::read(fd, buffer, sizeof buffer)) > 0;) csv.append(buffer, static_cast<std::size_t>(n));
  }
  ::close(fd);
  std::istringstream in(csv);
  std::string line;
  std::map<std::string, std::size_t> column;
  auto fields = [](const std::string& row) {
    std::vector<std::string> out;
    std::istringstream cells(row);
    for (std::string cell; std::getline(cells, cell, ',');) out.push_back(cell);
    return out;
  };
  while (std::getline(in, line)) {
    if (line.starts_with("# ")) {
      const auto names = fields(line.substr(2));
      for (std::size_t i = 0; i < names.size(); ++i) column[names[i]] = i;
      continue;
    }
    const auto row = fields(line);
    if (column.empty() || row.size() <= column["weight"] || row[column["pxname"]] != backend) continue;
    const std::string& name = row[column["svname"]];
    if (name == "BACKEND" || name == "FRONTEND") continue;
    stats[name] = {row[column["status"]], std::stol("0" + row[column["weight"]]),
                   std::stol("0" + row[column["stot"]])};
  }
  return stats;
}

// "a UP 100 3, b ...": what the failure messages show.
std::string describe(const std::map<std::string, ServerStat>& stats) {
  std::string text;
  for (const auto& [name, s] : stats) {
    text += name + " " + s.status + " weight " + std::to_string(s.weight) + " sessions " +
            std::to_string(s.sessions) + "; ";
  }
  return text.empty() ? "no answer from the stats socket" : text;
}

// Opens one WebSocket connection through HAProxy and closes it once upgraded (a client that
// stays would stop answering pings and make its server sick as well).
bool connect_through(int port) { return RawClient(port, "/ws?role=nurse").upgraded(); }

TEST(HaproxyAgent, NewConnectionsLeaveADrainedHostComeBackWhenItRecoversAndFollowTheWeight) {
  if (!std::filesystem::exists(kHaproxy)) {
    GTEST_SKIP() << kHaproxy << " is missing: install Debian's haproxy package (scripts/setup does)";
  }
  // a gets sick; b has room for 4 connections (full weight up to 2, 50% at 3).
  std::vector<std::unique_ptr<Host>> hosts;
  hosts.push_back(std::make_unique<Host>("lb-a", "127.0.0.11", kQuickPings));
  hosts.push_back(std::make_unique<Host>("lb-b", "127.0.0.12", kNoPings,
                                         std::vector<std::string>{"--agent-check-capacity", "4"}));
  hosts.push_back(std::make_unique<Host>("lb-c", "127.0.0.13", kQuickPings));
  ASSERT_FALSE(HasFailure()) << "a demo server or exporter did not start";
  const std::vector<std::string> names = {"a", "b", "c"};

  TempDir dir("haproxy");  // HAProxy's config and stats socket
  const std::string stats_socket = dir.file("stats.sock");
  const int port = free_port();
  {
    std::ofstream cfg(dir.file("haproxy.cfg"));
    cfg << "global\n  nbthread 1\n  stats socket " << stats_socket << " mode 600 level admin\n"
        << "defaults\n  mode tcp\n  timeout connect 2s\n  timeout client 30s\n  timeout server 30s\n"
        << "frontend websocket\n  bind 127.0.0.1:" << port << "\n  default_backend hosts\n"
        << "backend hosts\n  balance roundrobin\n";
    for (std::size_t i = 0; i < hosts.size(); ++i) {
      cfg << "  server " << names[i] << " 127.0.0.1:" << hosts[i]->server.port()
          << " weight 100 check inter 1s agent-check agent-addr " << hosts[i]->agent_address << " agent-port "
          << hosts[i]->agent_port << " agent-inter 500ms\n";
    }
  }
  Child haproxy = Child::spawn({kHaproxy, "-f", dir.file("haproxy.cfg"), "-db"});
  const auto stats = [&] { return show_stat(stats_socket, "hosts"); };
  auto all_up = [&] {
    const auto s = stats();
    return s.size() == 3 && std::all_of(s.begin(), s.end(), [](const auto& kv) {
             return kv.second.status.starts_with("UP") && kv.second.weight == 100;
           });
  };
  ASSERT_TRUE(wait_until(all_up, kDeadline)) << "HAProxy did not report three servers up at full weight: " << describe(stats());

  // Healthy: round robin reaches every host.
  const auto before = stats();
  for (int i = 0; i < 6; ++i) ASSERT_TRUE(connect_through(port));
  for (const auto& name : names) EXPECT_GT(stats()[name].sessions, before.at(name).sessions) << name;

  // Sick: a client straight to host a that never answers pings.
  auto stalled = std::make_unique<RawClient>(hosts[0]->server.port(), "/ws?role=nurse");
  ASSERT_TRUE(stalled->upgraded());
  std::string reply;
  ASSERT_TRUE(wait_until([&] {
    reply = agent_check_reply(hosts[0]->agent_address, hosts[0]->agent_port).value_or("");
    return reply.starts_with("up drain #health score");
  }, kDeadline)) << "host a's agent said: " << reply;
  ASSERT_TRUE(wait_until([&] { return stats()["a"].status.starts_with("DRAIN"); }, kDeadline))
      << "HAProxy did not drain host a: " << describe(stats());
  const auto drained = stats();
  for (int i = 0; i < 9; ++i) ASSERT_TRUE(connect_through(port));
  const auto after_drain = stats();
  EXPECT_EQ(after_drain.at("a").sessions, drained.at("a").sessions) << "a drained host got new connections";
  EXPECT_EQ(after_drain.at("b").sessions + after_drain.at("c").sessions,
            drained.at("b").sessions + drained.at("c").sessions + 9);
  EXPECT_GT(after_drain.at("b").sessions, drained.at("b").sessions);
  EXPECT_GT(after_drain.at("c").sessions, drained.at("c").sessions);

  // Recovered: the client leaves, the score clears, the agent says "up ready", a takes connections.
  stalled.reset();
  ASSERT_TRUE(wait_until(all_up, kDeadline)) << "host a did not come back: " << describe(stats());
  const long recovered = stats()["a"].sessions;
  for (int i = 0; i < 6; ++i) ASSERT_TRUE(connect_through(port));
  EXPECT_GT(stats()["a"].sessions, recovered) << "a recovered host got no new connections";

  // Loaded: 3 connections held on b (capacity 4) halve its weight; it gets fewer new connections
  // (weighted round robin over 10: 4, 2, 4).
  std::vector<std::unique_ptr<RawClient>> held;
  for (int i = 0; i < 3; ++i) {
    held.push_back(std::make_unique<RawClient>(hosts[1]->server.port(), "/ws?role=nurse"));
    ASSERT_TRUE(held.back()->upgraded());
  }
  ASSERT_TRUE(wait_until([&] { return stats()["b"].weight == 50; }, kDeadline))
      << "HAProxy did not take b's weight of 50%: " << describe(stats());
  const auto loaded = stats();
  for (int i = 0; i < 10; ++i) ASSERT_TRUE(connect_through(port));
  const auto after_load = stats();
  const auto gained = [&](const std::string& name) { return after_load.at(name).sessions - loaded.at(name).sessions; };
  EXPECT_LT(gained("b"), gained("a")) << describe(after_load);
  EXPECT_LT(gained("b"), gained("c")) << describe(after_load);
  EXPECT_GT(gained("b"), 0) << "a lighter weight is not a drain: " << describe(after_load);
  held.clear();
  EXPECT_TRUE(wait_until(all_up, kDeadline)) << "b's weight did not come back: " << describe(stats());

  haproxy.signal(SIGTERM);
  EXPECT_TRUE(haproxy.wait(10s).has_value());
  for (auto& h : hosts) EXPECT_EQ(h->exporter.stop(), 0);
}

}  // namespace
}  // namespace wsm::test

// HAProxy's agent check: the decision and its reply line (agent_check.hpp), the two settings, and
// wsm-exporter answering on a real socket.
#include <gtest/gtest.h>

#include <map>

#include "exporter_test_support.hpp"
#include "wsm/exporter/agent_check.hpp"
#include "wsm/exporter/settings.hpp"

namespace {

using namespace wsm;
using namespace wsm::exporter;
using State = AgentDecision::State;

// Defaults: cpu threshold 80 (soft limit 40), health score threshold 70; capacity 1000 (soft 500).
constexpr double kCapacity = 1000;

AgentFigures figures(double connections, std::optional<double> cpu, std::optional<double> health) {
  AgentFigures f;
  f.attached = true;
  f.connections = connections;
  f.max_worker_cpu = cpu;
  f.min_health_score = health;
  return f;
}

AgentDecision decide(const AgentFigures& f) { return decide_agent_state(f, ws::Thresholds{}, kCapacity); }

TEST(AgentCheck, FullWeightBelowHalfOfEachLimit) {
  const auto d = decide(figures(500, 40, 100));
  EXPECT_EQ(d.state, State::up);
  EXPECT_EQ(d.weight_percent, 100);
  EXPECT_EQ(agent_reply_line(d), "up ready 100%\n");
  // No CPU figure yet (first interval, resource monitoring off) and no connections: no limit.
  EXPECT_EQ(decide(figures(0, std::nullopt, std::nullopt)).weight_percent, 100);
}

TEST(AgentCheck, WeightFallsLinearlyAboveTheSoftLimitAndTheTighterLimitDecides) {
  EXPECT_EQ(decide(figures(0, 60, std::nullopt)).weight_percent, 50);  // halfway from 40 to 80
  EXPECT_EQ(decide(figures(0, 70, std::nullopt)).weight_percent, 25);
  EXPECT_EQ(decide(figures(750, 10, std::nullopt)).weight_percent, 50);  // halfway from 500 to 1000
  EXPECT_EQ(decide(figures(750, 70, std::nullopt)).weight_percent, 25);  // CPU is tighter
  EXPECT_EQ(decide(figures(900, 60, std::nullopt)).weight_percent, 20);  // connections are tighter
  EXPECT_EQ(agent_reply_line(decide(figures(0, 60, 90))), "up ready 50%\n");
}

TEST(AgentCheck, WeightNeverFallsBelowOnePercentWithoutABreach) {
  // At the CPU threshold exactly (breached only above it) and at or past capacity: the floor.
  EXPECT_EQ(decide(figures(0, 80, std::nullopt)).state, State::up);
  EXPECT_EQ(decide(figures(0, 80, std::nullopt)).weight_percent, kAgentWeightFloor);
  EXPECT_EQ(decide(figures(5000, 1, std::nullopt)).weight_percent, kAgentWeightFloor);
  EXPECT_EQ(agent_reply_line(decide(figures(5000, 1, std::nullopt))), "up ready 1%\n");
}

TEST(AgentCheck, DrainsWhenCpuOrHealthScoreThresholdIsBreachedAndSaysWhich) {
  const auto cpu = decide(figures(0, 80.5, 100));
  EXPECT_EQ(cpu.state, State::drain);
  EXPECT_EQ(agent_reply_line(cpu), "up drain #worker cpu 80.5 above 80\n");
  const auto health = decide(figures(3, 10, 45));
  EXPECT_EQ(health.state, State::drain);
  EXPECT_EQ(agent_reply_line(health), "up drain #health score 45 below 70\n");
  // At the health threshold is not below it.
  EXPECT_EQ(decide(figures(3, 10, 70)).state, State::up);
}

TEST(AgentCheck, ThresholdsComeFromTheSettings) {
  ws::Thresholds t;
  t.cpu_percent = 20;
  t.health_score = 99;
  EXPECT_EQ(decide_agent_state(figures(0, 21, 100), t, kCapacity).state, State::drain);
  EXPECT_EQ(decide_agent_state(figures(0, 5, 98), t, kCapacity).state, State::drain);
  EXPECT_EQ(decide_agent_state(figures(0, 15, 100), t, kCapacity).weight_percent, 50);  // soft limit 10
  EXPECT_EQ(decide_agent_state(figures(15, 1, 100), t, 20).weight_percent, 50);          // soft limit 10
}

TEST(AgentCheck, DownWithoutASegmentOnOneLine) {
  AgentFigures f;
  f.detached_reason = "segment 'x' does not exist\n(waiting)";
  const auto d = decide(f);
  EXPECT_EQ(d.state, State::down);
  EXPECT_EQ(agent_reply_line(d), "down #no segment: segment 'x' does not exist (waiting)\n");
}

ParseOutcome parse(std::vector<std::string> args, std::map<std::string, std::string> env = {}) {
  args.insert(args.begin(), "wsm-exporter");
  return parse_settings(args, [env](const char* name) -> const char* {
    const auto it = env.find(name);
    return it == env.end() ? nullptr : it->second.c_str();
  });
}

TEST(AgentCheckSettings, OffByDefaultSetByFlagOrEnvironmentRefusedWhenNotIpv4Port) {
  const auto d = parse({});
  ASSERT_TRUE(d.settings);
  EXPECT_TRUE(d.settings->agent_check_listen.empty());
  EXPECT_EQ(d.settings->agent_check_capacity, 10000);
  EXPECT_EQ(parse({"--agent-check-listen", "127.0.0.11:9471"}).settings->agent_check_listen, "127.0.0.11:9471");
  const auto env = parse({}, {{"WSM_AGENT_CHECK_LISTEN", "127.0.0.1:1"}, {"WSM_AGENT_CHECK_CAPACITY", "250"}});
  ASSERT_TRUE(env.settings) << env.message;
  EXPECT_EQ(env.settings->agent_check_listen, "127.0.0.1:1");
  EXPECT_EQ(env.settings->agent_check_capacity, 250);
  // The flag wins over the environment, and "off" switches it off again.
  EXPECT_TRUE(parse({"--agent-check-listen", "off"}, {{"WSM_AGENT_CHECK_LISTEN", "127.0.0.1:1"}})
                  .settings->agent_check_listen.empty());
  for (const char* bad : {"127.0.0.1", "localhost:9471", "127.0.0.1:0", "127.0.0.1:65536", ":9471", "[::1]:9471"}) {
    const auto r = parse({"--agent-check-listen", bad});
    EXPECT_FALSE(r.settings) << bad;
    EXPECT_EQ(r.exit_code, 2);
    EXPECT_NE(r.message.find("--agent-check-listen"), std::string::npos) << r.message;
    EXPECT_NE(r.message.find("IPV4:PORT"), std::string::npos) << r.message;
  }
  for (const char* bad : {"0", "1.5", "lots", "10000001"}) {
    const auto r = parse({}, {{"WSM_AGENT_CHECK_CAPACITY", bad}});
    EXPECT_FALSE(r.settings) << bad;
    EXPECT_NE(r.message.find("WSM_AGENT_CHECK_CAPACITY"), std::string::npos) << r.message;
  }
  EXPECT_NE(parse({"--help"}).message.find("--agent-check-listen"), std::string::npos);
}

// The real process: a reply on a 127.0.0.x port other than the HTTP one, down while the segment
// is missing, up with full weight once a writer creates it (drain: tests/websocket/haproxy_agent_test).
TEST(AgentCheckProcess, AnswersOneLineAndClosesDownThenUpOnceTheSegmentExists) {
  const std::string seg = test::unique_segment_name("agent");
  test::SegmentGuard guard(seg);
  const int agent_port = test::free_port();
  const std::string host = "127.0.0.12";
  test::Exporter exporter(seg, {"--agent-check-listen", host + ":" + std::to_string(agent_port)});
  const auto down = test::agent_check_reply(host, agent_port);
  ASSERT_TRUE(down);
  EXPECT_TRUE(down->starts_with("down #no segment")) << *down;
  EXPECT_EQ(down->back(), '\n');
  EXPECT_EQ(std::count(down->begin(), down->end(), '\n'), 1) << *down;

  test::Child writer = test::start_writer(seg, {"counter", "t_events_total", "-", "1"});
  std::string reply;
  EXPECT_TRUE(test::wait_until([&] {
    // HAProxy may send `agent-send` text first; the answer is the same.
    reply = test::agent_check_reply(host, agent_port, "backend/server\n").value_or("");
    return reply == "up ready 100%\n";
  })) << reply;
  EXPECT_EQ(exporter.stop(), 0);
}

TEST(AgentCheckProcess, PortInUseFailsWithTheAddress) {
  const std::string seg = test::unique_segment_name("agent-busy");
  test::SegmentGuard guard(seg);
  const int agent_port = test::free_port();
  const std::string address = "127.0.0.13:" + std::to_string(agent_port);
  test::Exporter first(seg, {"--agent-check-listen", address});
  const auto second = test::run({test::bin("wsm-exporter"), "--segment", seg, "--listen",
                                 "127.0.0.1:" + std::to_string(test::free_port()), "--agent-check-listen", address});
  EXPECT_EQ(second.exit_code, 1);
  EXPECT_NE(second.err.find(address), std::string::npos) << second.err;
  EXPECT_EQ(first.stop(), 0);
}

}  // namespace

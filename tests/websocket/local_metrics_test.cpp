// wsm::ws::LocalMetrics (Metrics::local()): the per-message calls bound to one thread land in the
// same series and connection record as the Metrics calls, each thread in its own cells, and a
// forked child in cells of its own, never its parent's.
#include <gtest/gtest.h>

#include <chrono>
#include <cstdint>
#include <latch>
#include <thread>
#include <unistd.h>
#include <vector>

#include "../core/forked.hpp"
#include "../core/segment_totals.hpp"
#include "facade_calls.hpp"
#include "test_support.hpp"
#include "wsm/shm/connection_table.hpp"
#include "wsm/websocket_metrics.hpp"

namespace wsm::ws {
namespace {

using namespace std::chrono_literals;

const std::string kReceivedNurseVitals = test::series_key(
    "websocket_messages_received_total", {{"message_type", "vitals"}, {"source_type", "user"}, {"role", "nurse"}});

class LocalMetricsTest : public ::testing::Test {
 protected:
  LocalMetricsTest() : guard_(test::unique_segment_name("local-metrics")) {
    auto reg = Registry::open(guard_.name(), facade_calls::small_segment_options());
    EXPECT_TRUE(reg) << reg.error().message();
    if (reg) registry_ = *reg;
  }
  const shm::Segment& segment() const { return *registry_.segment(); }
  test::Totals totals() const {
    auto t = test::totals_of(segment());
    EXPECT_TRUE(t) << t.error().message();
    return t ? *t : test::Totals{};
  }
  std::map<pid_t, std::uint64_t> received_by_pid() const {
    auto r = test::counter_by_pid(segment(), kReceivedNurseVitals);
    EXPECT_TRUE(r) << r.error().message();
    return r ? *r : std::map<pid_t, std::uint64_t>{};
  }

  test::SegmentGuard guard_;
  Registry registry_ = facade_calls::disabled_registry();
};

// Every call once through Metrics and once through LocalMetrics: each series counts two, and the
// connection's record both messages of each direction.
TEST_F(LocalMetricsTest, CallsLandWhereTheMetricsCallsLand) {
  Metrics m(registry_);
  LocalMetrics local = m.local();
  Connection c = m.connection_opened(Role::nurse, "n1", "p1", Compression::deflate);
  // The same calls on either: Metrics and LocalMetrics have them under the same names.
  const auto each_call = [&c](auto& calls) {
    calls.message_received(c, MessageType::vitals, 300);
    calls.message_sent(c, MessageType::vitals, Priority::normal, TargetType::subscribers, 300);
    calls.latency(MessageType::vitals, ProcessingStage::send, 2ms);
    calls.broadcast(TargetType::subscribers, BroadcastType::telemetry, 3, 1ms);
    calls.compression(MessageType::vitals, 400, 100);
    calls.subscription_matched(SubscriptionType::vitals, MatchType::exact, Role::nurse);
  };
  each_call(m);
  each_call(local);
  local.compression(MessageType::vitals, 0, 10);  // no payload: no ratio, as through Metrics

  const test::Totals t = totals();
  const auto at = [&](std::string_view name, Labels labels) { return t.at(test::series_key(name, labels)); };
  EXPECT_EQ(at("websocket_messages_received_total", {{"message_type", "vitals"}, {"source_type", "user"},
                                                     {"role", "nurse"}}).counter, 2u);
  EXPECT_EQ(at("websocket_messages_sent_total", {{"message_type", "vitals"}, {"priority", "normal"},
                                                 {"role", "nurse"}, {"target_type", "subscribers"}}).counter, 2u);
  for (std::string_view direction : {"in", "out"}) {
    const auto size = at("websocket_message_size_bytes",
                         {{"message_type", "vitals"}, {"direction", direction}, {"compression", "deflate"}});
    EXPECT_EQ(size.count, 2u) << direction;
    EXPECT_EQ(size.sum, 600u) << direction;
  }
  const auto latency = at("websocket_message_latency_seconds", {{"message_type", "vitals"}, {"processing_stage", "send"}});
  EXPECT_EQ(latency.count, 2u);
  EXPECT_EQ(latency.sum, 4'000'000u);  // ns
  const auto broadcast = at("websocket_broadcast_latency_seconds", {{"target_type", "subscribers"},
                                                                    {"broadcast_type", "telemetry"},
                                                                    {"recipient_count", "2-5"}});
  EXPECT_EQ(broadcast.count, 2u);
  EXPECT_EQ(broadcast.sum, 2'000'000u);
  const auto ratio = at("websocket_compression_ratio_percent", {{"compression_type", "deflate"}, {"message_type", "vitals"}});
  EXPECT_EQ(ratio.count, 2u);
  EXPECT_EQ(ratio.sum, 50u);
  EXPECT_EQ(at("websocket_subscription_matches_total", {{"subscription_type", "vitals"}, {"match_type", "exact"},
                                                        {"role", "nurse"}}).counter, 2u);

  const auto record = shm::find_connection(segment(), c.id());
  ASSERT_TRUE(record);
  EXPECT_EQ(record->messages_in, 2u);
  EXPECT_EQ(record->messages_out, 2u);
}

// Each thread its own LocalMetrics, all on one series: no add is lost, so each thread writes
// cells of its own.
TEST_F(LocalMetricsTest, ThreadsRecordIntoCellsOfTheirOwn) {
  Metrics m(registry_);
  Connection c = m.connection_opened(Role::nurse, "", "", Compression::none);
  constexpr int kThreads = 4, kEach = 20000;
  std::vector<std::thread> threads;
  std::latch go(1);
  for (int i = 0; i < kThreads; ++i) {
    threads.emplace_back([&] {
      LocalMetrics local = m.local();
      go.wait();  // together, so that the threads overlap
      for (int n = 0; n < kEach; ++n) local.subscription_matched(SubscriptionType::ecg, MatchType::wildcard, Role::nurse);
    });
  }
  go.count_down();
  for (auto& t : threads) t.join();
  const test::Totals t = totals();
  EXPECT_EQ(t.at(test::series_key("websocket_subscription_matches_total", {{"subscription_type", "ecg"},
                                                                          {"match_type", "wildcard"},
                                                                          {"role", "nurse"}})).counter,
            std::uint64_t{kThreads} * kEach);
}

// Pre-fork servers make their Metrics before fork(): a LocalMetrics bound in the parent must, in
// the child, record into the child's own cells, and the parent's must keep only the parent's.
TEST_F(LocalMetricsTest, AForkedChildRecordsIntoCellsOfItsOwn) {
  Metrics m(registry_);
  LocalMetrics local = m.local();
  Connection parent_conn = m.connection_opened(Role::nurse, "", "", Compression::none);
  local.message_received(parent_conn, MessageType::vitals, 10);  // binds the parent's cell
  const pid_t parent = ::getpid();

  auto child = test::Forked::run([&] {
    Connection own = m.connection_opened(Role::nurse, "", "", Compression::none);
    for (int i = 0; i < 3; ++i) local.message_received(own, MessageType::vitals, 10);
    return 0;
  });
  ASSERT_EQ(child.wait(), 0);
  local.message_received(parent_conn, MessageType::vitals, 10);  // the parent's cell, still bound

  const auto by_pid = received_by_pid();
  EXPECT_EQ(by_pid.at(parent), 2u) << "the child wrote into its parent's cell";
  EXPECT_EQ(by_pid.at(child.pid()), 3u);
}

// A disabled registry: the calls run into the thread's sink; nothing is opened.
TEST(LocalMetricsDisabled, CallsAreSinks) {
  Metrics m(facade_calls::disabled_registry());
  LocalMetrics local = m.local();
  Connection c = m.connection_opened(Role::doctor, "u", "p", Compression::deflate);
  local.message_received(c, MessageType::subscribe, 3);
  local.message_sent(c, MessageType::ack, Priority::low, TargetType::direct, 3);
  local.latency(MessageType::subscribe, ProcessingStage::parse, 1us);
  EXPECT_EQ(c.id(), 0u);
  EXPECT_FALSE(shm::Segment::open("never-created", {shm::Access::read_only, 0ms}));
}

}  // namespace
}  // namespace wsm::ws

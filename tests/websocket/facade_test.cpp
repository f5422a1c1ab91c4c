// wsm::ws::Metrics: each typed call lands in the catalogue series its arguments name, with the
// catalogue's type, help and labels; identities are bounded; connections get table records.
#include <gtest/gtest.h>

#include <chrono>
#include <map>
#include <set>

#include "facade_calls.hpp"
#include "segment_totals.hpp"
#include "test_support.hpp"
#include "wsm/shm/connection_table.hpp"
#include "wsm/websocket_metrics.hpp"

namespace wsm::ws {
namespace {

using test::Totals;

using namespace std::chrono_literals;

class FacadeTest : public ::testing::Test {
 protected:
  FacadeTest() : guard_(test::unique_segment_name("facade")) {
    RegistryOptions options = facade_calls::small_segment_options();
    options.role = "worker";
    auto reg = Registry::open(guard_.name(), options);
    EXPECT_TRUE(reg) << reg.error().message();
    registry_ = *reg;
  }
  const shm::Segment& segment() const { return *registry_.segment(); }

  test::SegmentGuard guard_;
  Registry registry_ = facade_calls::disabled_registry();
};

TEST_F(FacadeTest, ConnectionLifecycleLandsInItsSeries) {
  Metrics m(registry_, {.process_role = "worker", .max_identities = 10});
  Connection doctor = m.connection_opened(Role::doctor, "u1", "p7", Compression::deflate);
  Connection monitor = m.connection_opened(Role::patient_monitor, "m1", "p7", Compression::none);
  m.connection_failed(Role::nurse, ConnectionStatus::rejected);
  m.reconnection_attempt(Role::nurse, 2);
  m.reconnection_attempt(Role::nurse, 9);
  {
    Totals t(segment());
    EXPECT_EQ(t.at("websocket_connections_total", {{"role", "doctor"}, {"status", "success"}}).counter, 1u);
    EXPECT_EQ(t.at("websocket_connections_total", {{"role", "nurse"}, {"status", "rejected"}}).counter, 1u);
    EXPECT_EQ(t.at("websocket_connections_active",
                   {{"role", "doctor"}, {"user_id", "u1"}, {"patient_id", "p7"}}).gauge, 1.0);
    EXPECT_EQ(t.at("websocket_connections_active",
                   {{"role", "patient_monitor"}, {"user_id", "m1"}, {"patient_id", "p7"}}).gauge, 1.0);
    EXPECT_EQ(t.at("websocket_reconnection_attempts_total", {{"role", "nurse"}, {"attempt_number", "2"}}).counter, 1u);
    EXPECT_EQ(t.at("websocket_reconnection_attempts_total", {{"role", "nurse"}, {"attempt_number", "5+"}}).counter, 1u);
    EXPECT_EQ(t.recorded("websocket_reconnection_attempts_total").size(), 2u);
  }
  ASSERT_NE(doctor.id(), 0u);
  EXPECT_EQ(shm::list_connections(segment()).size(), 2u);

  m.connection_closed(doctor, DisconnectReason::client_close);
  EXPECT_FALSE(doctor.is_open());
  m.connection_closed(doctor, DisconnectReason::client_close);  // a second close counts nothing
  {
    Connection moved = std::move(monitor);  // destroyed open: counted as a network error
  }
  Totals t(segment());
  EXPECT_EQ(t.at("websocket_disconnections_total",
                 {{"role", "doctor"}, {"reason", "client_close"}, {"status", "normal"}}).counter, 1u);
  EXPECT_EQ(t.at("websocket_disconnections_total",
                 {{"role", "patient_monitor"}, {"reason", "network_error"}, {"status", "abnormal"}}).counter, 1u);
  EXPECT_EQ(t.recorded("websocket_disconnections_total").size(), 2u);
  EXPECT_EQ(t.at("websocket_connection_duration_seconds",
                 {{"role", "doctor"}, {"termination_reason", "client_close"}}).count, 1u);
  EXPECT_TRUE(t.recorded("websocket_connections_active").empty());
  EXPECT_TRUE(shm::list_connections(segment()).empty());
}

TEST_F(FacadeTest, MessagesLandInTheirSeriesAndTheConnectionRecord) {
  Metrics m(registry_);
  Connection nurse = m.connection_opened(Role::nurse, "n1", "", Compression::deflate);
  m.message_received(nurse, MessageType::subscribe, 60);
  m.message_received(nurse, MessageType::unknown, 7);
  m.message_sent(nurse, MessageType::ack, Priority::low, TargetType::direct, 20);
  m.message_sent(nurse, MessageType::vitals, Priority::normal, TargetType::subscribers, 300);
  m.message_sent(nurse, MessageType::vitals, Priority::normal, TargetType::subscribers, 500);
  m.bytes_transferred(nurse, Direction::in, 90);
  m.bytes_transferred(nurse, Direction::out, 400);
  m.latency(MessageType::vitals, ProcessingStage::route, 2ms);
  m.broadcast(TargetType::subscribers, BroadcastType::telemetry, 3, 1ms);
  m.compression(MessageType::vitals, 400, 100);
  m.failure(MessageType::unknown, FailureReason::malformed, Role::nurse);

  Totals t(segment());
  EXPECT_EQ(t.at("websocket_messages_received_total",
                 {{"message_type", "subscribe"}, {"source_type", "user"}, {"role", "nurse"}}).counter, 1u);
  EXPECT_EQ(t.at("websocket_messages_received_total",
                 {{"message_type", "unknown"}, {"source_type", "user"}, {"role", "nurse"}}).counter, 1u);
  EXPECT_EQ(t.at("websocket_messages_sent_total", {{"message_type", "ack"}, {"priority", "low"},
                                                   {"role", "nurse"}, {"target_type", "direct"}}).counter, 1u);
  EXPECT_EQ(t.at("websocket_messages_sent_total", {{"message_type", "vitals"}, {"priority", "normal"},
                                                   {"role", "nurse"}, {"target_type", "subscribers"}}).counter, 2u);
  EXPECT_EQ(t.recorded("websocket_messages_sent_total").size(), 2u);
  const auto& out = t.at("websocket_message_size_bytes",
                         {{"message_type", "vitals"}, {"direction", "out"}, {"compression", "deflate"}});
  EXPECT_EQ(out.count, 2u);
  EXPECT_EQ(out.sum, 800u);
  EXPECT_EQ(t.at("websocket_message_size_bytes",
                 {{"message_type", "subscribe"}, {"direction", "in"}, {"compression", "deflate"}}).sum, 60u);
  EXPECT_EQ(t.recorded("websocket_message_size_bytes").size(), 4u);
  EXPECT_EQ(t.at("websocket_transferred_bytes_total",
                 {{"direction", "in"}, {"protocol", "ws+deflate"}, {"role", "nurse"}}).counter, 90u);
  EXPECT_EQ(t.at("websocket_transferred_bytes_total",
                 {{"direction", "out"}, {"protocol", "ws+deflate"}, {"role", "nurse"}}).counter, 400u);
  const auto& lat = t.at("websocket_message_latency_seconds", {{"message_type", "vitals"}, {"processing_stage", "route"}});
  EXPECT_EQ(lat.count, 1u);
  EXPECT_EQ(lat.sum, 2'000'000u);  // ns
  EXPECT_EQ(t.at("websocket_broadcast_latency_seconds", {{"target_type", "subscribers"},
                                                         {"broadcast_type", "telemetry"},
                                                         {"recipient_count", "2-5"}}).count, 1u);
  const auto& ratio = t.at("websocket_compression_ratio_percent", {{"compression_type", "deflate"}, {"message_type", "vitals"}});
  EXPECT_EQ(ratio.count, 1u);
  EXPECT_EQ(ratio.sum, 25u);
  EXPECT_EQ(t.at("websocket_failed_messages_total",
                 {{"message_type", "unknown"}, {"failure_reason", "malformed"}, {"role", "nurse"}}).counter, 1u);

  const auto record = shm::find_connection(segment(), nurse.id());
  ASSERT_TRUE(record);
  EXPECT_EQ(record->role, "nurse");
  EXPECT_EQ(record->user_id, "n1");
  EXPECT_EQ(record->messages_in, 2u);
  EXPECT_EQ(record->messages_out, 3u);
  EXPECT_EQ(record->bytes_in, 90u);
  EXPECT_EQ(record->bytes_out, 400u);
}

TEST_F(FacadeTest, PerformanceHealthAndSubscriptionCalls) {
  Metrics m(registry_, {.process_role = "edge"});
  Connection admin = m.connection_opened(Role::admin, "a1", "", Compression::none);
  m.backpressure(BackpressureType::queue_full, Severity::critical, Role::doctor);
  m.buffer_utilization(BufferType::send_queue, Role::doctor, 75);
  m.queue_changed(QueueType::send, Role::doctor, 3);
  m.queue_changed(QueueType::send, Role::doctor, -1);
  m.thread_pool_utilization(PoolType::io, 42);
  m.heartbeat_sent(admin);
  m.heartbeat_sent(admin);
  m.heartbeat_acked(admin);
  m.health(admin, 61);
  m.stale_connection(StaleType::missed_heartbeat, Role::admin);
  m.subscription_added(SubscriptionType::alerts, Role::admin);
  m.subscription_added(SubscriptionType::alerts, Role::admin);
  m.subscription_removed(SubscriptionType::alerts, Role::admin);
  m.subscription_matched(SubscriptionType::ecg, MatchType::wildcard, Role::admin);
  m.subscription_failed(SubscriptionFailure::limit_exceeded, Role::nurse);

  Totals t(segment());
  EXPECT_EQ(t.at("websocket_backpressure_events_total",
                 {{"backpressure_type", "queue_full"}, {"severity", "critical"}, {"role", "doctor"}}).counter, 1u);
  EXPECT_EQ(t.at("websocket_buffer_utilization_percent", {{"buffer_type", "send_queue"}, {"role", "doctor"}}).gauge, 75.0);
  EXPECT_EQ(t.at("websocket_queue_size", {{"queue_type", "send"}, {"role", "doctor"}}).gauge, 2.0);
  EXPECT_EQ(t.at("websocket_thread_pool_utilization_percent", {{"pool_type", "io"}, {"role", "edge"}}).gauge, 42.0);
  EXPECT_EQ(t.at("websocket_heartbeats_sent_total", {{"role", "admin"}}).counter, 2u);
  EXPECT_EQ(t.at("websocket_heartbeats_acked_total", {{"role", "admin"}}).counter, 1u);
  EXPECT_EQ(t.at("websocket_stale_connections_total", {{"stale_type", "missed_heartbeat"}, {"role", "admin"}}).counter, 1u);
  EXPECT_EQ(t.at("websocket_subscriptions_active", {{"subscription_type", "alerts"}, {"role", "admin"}}).gauge, 1.0);
  EXPECT_EQ(t.at("websocket_subscription_matches_total",
                 {{"subscription_type", "ecg"}, {"match_type", "wildcard"}, {"role", "admin"}}).counter, 1u);
  EXPECT_EQ(t.at("websocket_subscription_failures_total",
                 {{"failure_type", "limit_exceeded"}, {"role", "nurse"}}).counter, 1u);
  const auto record = shm::find_connection(segment(), admin.id());
  ASSERT_TRUE(record);
  EXPECT_EQ(record->health_score, 61.0);
  EXPECT_GT(record->last_heartbeat_unix_ns, 0u);
}

// Every family a call registered carries the catalogue's type, help and unit.
TEST_F(FacadeTest, RegisteredFamiliesMatchTheCatalogue) {
  Metrics m(registry_);
  Connection c = m.connection_opened(Role::doctor, "u", "p", Compression::none);
  m.message_sent(c, MessageType::alert, Priority::critical, TargetType::subscribers, 10);
  m.latency(MessageType::alert, ProcessingStage::send, 1ms);
  m.subscription_added(SubscriptionType::vitals, Role::doctor);
  m.connection_closed(c, DisconnectReason::heartbeat_timeout);
  Totals t(segment());
  std::size_t checked = 0;
  for (std::uint32_t id : t.catalog().family_ids()) {
    const shm::FamilyInfo* f = t.catalog().family(id);
    for (const MetricSpec& s : kMetrics) {
      if (s.name != f->name) continue;
      EXPECT_EQ(f->type, s.type) << s.name;
      EXPECT_EQ(f->help, s.help) << s.name;
      EXPECT_EQ(f->unit, s.unit) << s.name;
      if (s.type == shm::MetricType::gauge) {
        EXPECT_EQ(f->gauge_mode, s.gauge_mode) << s.name;
      }
      ++checked;
    }
  }
  EXPECT_EQ(checked, t.catalog().family_ids().size());
  EXPECT_GE(checked, 7u);
}

// Identities past the cap, and ids that are not valid label values, count anonymously.
TEST_F(FacadeTest, IdentitySeriesAreBounded) {
  Metrics m(registry_, {.process_role = "worker", .max_identities = 2});
  std::vector<Connection> open;
  for (int i = 0; i < 5; ++i) {
    const std::string user = std::string(1, 'n').append(std::to_string(i));
    open.push_back(m.connection_opened(Role::nurse, user, "", Compression::none));
  }
  open.push_back(m.connection_opened(Role::nurse, "n0", "", Compression::none));  // known: its own
  Totals t(segment());
  EXPECT_EQ(t.at("websocket_connections_active", {{"role", "nurse"}, {"user_id", "n0"}, {"patient_id", ""}}).gauge, 2.0);
  EXPECT_EQ(t.at("websocket_connections_active", {{"role", "nurse"}, {"user_id", "n1"}, {"patient_id", ""}}).gauge, 1.0);
  EXPECT_EQ(t.at("websocket_connections_active", {{"role", "nurse"}, {"user_id", ""}, {"patient_id", ""}}).gauge, 3.0);
  EXPECT_EQ(t.recorded("websocket_connections_active").size(), 3u);
}

// A disabled registry: every call is a no-op and nothing is opened.
TEST(FacadeDisabled, CallsAreSinks) {
  Metrics m(facade_calls::disabled_registry());
  Connection c = m.connection_opened(Role::doctor, "u", "p", Compression::deflate);
  m.message_sent(c, MessageType::ack, Priority::low, TargetType::direct, 3);
  m.heartbeat_acked(c);
  EXPECT_EQ(c.id(), 0u);
  m.connection_closed(c, DisconnectReason::client_close);
  EXPECT_FALSE(shm::Segment::open("never-created", {shm::Access::read_only, 0ms}));
}

}  // namespace
}  // namespace wsm::ws

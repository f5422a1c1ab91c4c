// wsm-demo-server's behaviours the load generator does not provoke, each checked in the series it
// must drive: a subscriber that stops reading (backpressure, drops, queue and buffer levels,
// health), refused subscriptions, announcements, refused upgrades.
#include <gtest/gtest.h>

#include "demo_processes.hpp"
#include "wsm/shm/connection_table.hpp"

namespace wsm::test {
namespace {

using nlohmann::json;
using namespace std::chrono_literals;

std::function<bool(const json&)> labels_are(std::map<std::string, std::string> wanted) {
  return [wanted = std::move(wanted)](const json& labels) {
    for (const auto& [k, v] : wanted) {
      if (!labels.contains(k) || labels[k] != v) return false;
    }
    return true;
  };
}

std::string reason_of(const std::optional<std::string>& reply) {
  const json j = json::parse(reply.value_or(""), nullptr, false);
  if (j.is_object() && j.contains("reason")) return j["reason"].get<std::string>();
  std::string none = "no error reply: ";
  return none.append(reply.value_or("nothing"));
}

// A doctor that subscribes and then never reads: its send queue fills, messages are dropped with
// backpressure events, and every message matched for it is accounted for as written, dropped or
// still queued.
TEST(ServerBehaviour, ASubscriberThatStopsReadingCausesBackpressure) {
  SegmentGuard guard(unique_segment_name("bp"));
  DemoServer server(guard.name(), 1, {"--queue-limit", "8", "--socket-send-buffer", "4096",
                                      "--heartbeat-ms", "50", "--max-missed-heartbeats", "1000"});
  RawClient slow(server.port(), "/ws?role=doctor&user=slow&patient=p1", /*receive_buffer=*/2048);
  ASSERT_TRUE(slow.upgraded()) << slow.response();
  slow.send_text(R"({"type":"subscribe","patient":"p1","seq":1})");
  ASSERT_NE(slow.next_text().value_or("").find("\"ack\""), std::string::npos);

  const auto r = run_loadgen({"--url", server.url(), "--clients", "1", "--mix", "patient_monitor=1",
                              "--messages", "2000"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const auto doctor = labels_are({{"role", "doctor"}});
  const auto fullest = [&] {
    return Totals(guard.name()).sum("websocket_buffer_utilization_percent",
                                    labels_are({{"role", "doctor"}, {"buffer_type", "send_queue"}}));
  };
  const auto seen = [&] {
    const Totals t(guard.name());
    return "fullest doctor queue " + std::to_string(fullest()) + "%, matched " +
           std::to_string(t.sum("websocket_subscription_matches_total", doctor)) + ", sent " +
           std::to_string(t.sum("websocket_messages_sent_total", doctor)) + ", queued " +
           std::to_string(t.sum("websocket_queue_size", doctor)) + ", open " +
           std::to_string(t.sum("websocket_connections_active", doctor));
  };
  ASSERT_TRUE(eventually([&] { return fullest() == 100; })) << "the doctor's queue never showed as full: " << seen();
  const Totals t(guard.name());
  const double dropped = t.sum("websocket_failed_messages_total", labels_are({{"role", "doctor"}, {"failure_reason", "queue_full"}}));
  EXPECT_GT(dropped, 0);
  EXPECT_EQ(t.sum("websocket_backpressure_events_total", labels_are({{"backpressure_type", "queue_full"}, {"severity", "critical"}, {"role", "doctor"}})), dropped);
  EXPECT_GE(t.sum("websocket_backpressure_events_total", labels_are({{"backpressure_type", "queue_high_watermark"}, {"severity", "warning"}})), 1);
  const double queued = t.sum("websocket_queue_size", doctor);
  EXPECT_GT(queued, 0);
  const double written = t.sum("websocket_messages_sent_total", labels_are({{"role", "doctor"}, {"target_type", "subscribers"}}));
  EXPECT_EQ(t.sum("websocket_subscription_matches_total", doctor), written + dropped + queued);
  // The slow connection's health shows it.
  ASSERT_TRUE(eventually([&] {
    auto segment = shm::Segment::open(guard.name(), {shm::Access::read_only, 500ms});
    if (!segment) return false;
    for (const auto& c : shm::list_connections(*segment)) {
      if (c.user_id == "slow") return c.health_score < 100;
    }
    return false;
  }));
}

TEST(ServerBehaviour, RefusedSubscriptionsAreCountedByReason) {
  SegmentGuard guard(unique_segment_name("subs"));
  DemoServer server(guard.name(), 1, {"--max-subscriptions", "2"});
  RawClient nurse(server.port(), "/ws?role=nurse&user=n1");
  ASSERT_TRUE(nurse.upgraded()) << nurse.response();
  nurse.send_text(R"({"type":"subscribe","patient":"*","seq":1})");
  EXPECT_EQ(reason_of(nurse.next_text()), "not_authorized");
  nurse.send_text(R"({"type":"subscribe","patient":"p1","streams":["gossip"],"seq":2})");
  EXPECT_EQ(reason_of(nurse.next_text()), "invalid_request");
  nurse.send_text(R"({"type":"unsubscribe","patient":"p9","seq":3})");
  EXPECT_EQ(reason_of(nurse.next_text()), "not_subscribed");
  nurse.send_text(R"({"type":"subscribe","patient":"p1","seq":4})");  // three streams, two allowed
  EXPECT_EQ(reason_of(nurse.next_text()), "limit_exceeded");
  nurse.send_text(R"({"type":"subscribe","patient":"p1","streams":["vitals","alerts"],"seq":5})");
  EXPECT_NE(nurse.next_text().value_or("").find("\"ack\""), std::string::npos);  // within the limit
  const Totals t(guard.name());
  for (const char* failure : {"not_authorized", "invalid_request", "not_subscribed", "limit_exceeded"}) {
    EXPECT_EQ(t.sum("websocket_subscription_failures_total", labels_are({{"failure_type", failure}, {"role", "nurse"}})), 1) << failure;
  }
  EXPECT_EQ(t.sum("websocket_subscriptions_active", labels_are({{"role", "nurse"}})), 2);
  EXPECT_EQ(t.sum("websocket_failed_messages_total"), 0);  // refused subscriptions are not failed messages
}

TEST(ServerBehaviour, AnnouncementsReachEveryOtherConnectionOfTheWorker) {
  SegmentGuard guard(unique_segment_name("ann"));
  DemoServer server(guard.name(), 1);
  RawClient nurse(server.port(), "/ws?role=nurse&user=n1");
  RawClient admin(server.port(), "/ws?role=admin&user=a1");
  ASSERT_TRUE(nurse.upgraded() && admin.upgraded());
  nurse.send_text(R"({"type":"announcement","text":"not mine to say","seq":1})");
  EXPECT_EQ(reason_of(nurse.next_text()), "unauthorized");
  admin.send_text(R"({"type":"announcement","text":"handover at 7","seq":2})");
  const json ack = json::parse(admin.next_text().value_or(""), nullptr, false);
  EXPECT_EQ(ack.value("recipients", -1), 1);
  EXPECT_NE(nurse.next_text().value_or("").find("handover at 7"), std::string::npos);
  const Totals t(guard.name());
  EXPECT_EQ(t.sum("websocket_broadcast_latency_seconds",
                  labels_are({{"target_type", "all"}, {"broadcast_type", "announcement"}, {"recipient_count", "1"}})), 1);
  EXPECT_EQ(t.sum("websocket_messages_sent_total",
                  labels_are({{"message_type", "announcement"}, {"role", "nurse"}, {"target_type", "all"}})), 1);
  EXPECT_EQ(t.sum("websocket_failed_messages_total",
                  labels_are({{"message_type", "announcement"}, {"failure_reason", "unauthorized"}, {"role", "nurse"}})), 1);
}

TEST(ServerBehaviour, RefusedUpgradesAreCountedNotOpened) {
  SegmentGuard guard(unique_segment_name("refuse"));
  DemoServer server(guard.name(), 1);
  RawClient nobody(server.port(), "/ws?role=surgeon&user=x");
  EXPECT_FALSE(nobody.upgraded());
  EXPECT_TRUE(nobody.response().starts_with("HTTP/1.1 400")) << nobody.response();
  RawClient monitor(server.port(), "/ws?role=patient_monitor&user=m1");  // names no patient
  EXPECT_FALSE(monitor.upgraded());
  RawClient reconnecting(server.port(), "/ws?role=doctor&user=d1&attempt=3");
  EXPECT_TRUE(reconnecting.upgraded());
  ASSERT_TRUE(eventually([&] {
    return Totals(guard.name()).sum("websocket_connections_total", labels_are({{"status", "success"}})) == 1;
  }));
  const Totals t(guard.name());
  EXPECT_EQ(t.sum("websocket_connections_total", labels_are({{"role", "unknown"}, {"status", "rejected"}})), 1);
  EXPECT_EQ(t.sum("websocket_connections_total", labels_are({{"role", "patient_monitor"}, {"status", "rejected"}})), 1);
  EXPECT_EQ(t.sum("websocket_reconnection_attempts_total", labels_are({{"role", "doctor"}, {"attempt_number", "3"}})), 1);
  EXPECT_EQ(t.sum("websocket_connections_active", labels_are({{"role", "doctor"}, {"user_id", "d1"}})), 1);
}

// SO_REUSEPORT would let a second server join a busy port and take half its connections into
// another segment: it must refuse to start instead, saying why.
TEST(ServerBehaviour, ASecondServerOnABusyPortExitsWithAnError) {
  SegmentGuard first_segment(unique_segment_name("port1"));
  SegmentGuard second_segment(unique_segment_name("port2"));
  DemoServer server(first_segment.name(), 2);
  const auto second = run({bin("wsm-demo-server"), "--host", "127.0.0.1", "--port", std::to_string(server.port()),
                           "--workers", "2", "--segment", second_segment.name()},
                          {}, std::chrono::seconds(20));
  EXPECT_EQ(second.exit_code, 1) << second.out << second.err;
  EXPECT_NE(second.err.find(std::to_string(server.port()) + " is in use"), std::string::npos) << second.err;
  EXPECT_EQ(second.out.find("listening"), std::string::npos) << second.out;
}

}  // namespace
}  // namespace wsm::test

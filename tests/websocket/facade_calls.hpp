// What the facade tests share: a registry that records nothing (Registry has no default
// constructor, so fixtures start from it), the options of a small test segment, one call of
// every kind of wsm::ws::Metrics, and one of each of its thread-bound form (LocalMetrics).
#pragma once

#include <chrono>

#include "wsm/websocket_metrics.hpp"

namespace wsm::ws::facade_calls {

inline Registry disabled_registry() {
  RegistryOptions off;
  off.enabled = false;
  return *Registry::open("never-created", off);
}

inline RegistryOptions small_segment_options() {
  RegistryOptions options;
  options.limits.max_writers = 8;
  options.limits.max_series = 4096;
  options.limits.max_connections = 16;
  return options;
}

// One call of every kind, so every recorded family of the catalogue gets a non-zero sample; the
// connection it returns stays open (connections_active).
[[nodiscard]] inline Connection exercise(Metrics& m) {
  using namespace std::chrono_literals;
  Connection c = m.connection_opened(Role::nurse, "n1", "p1", Compression::deflate);
  m.connection_failed(Role::doctor, ConnectionStatus::rejected);
  m.reconnection_attempt(Role::nurse, 3);
  m.message_received(c, MessageType::subscribe, 40);
  m.message_sent(c, MessageType::vitals, Priority::high, TargetType::subscribers, 300);
  m.bytes_transferred(c, Direction::out, 120);
  m.latency(MessageType::vitals, ProcessingStage::route, 250us);
  m.broadcast(TargetType::subscribers, BroadcastType::telemetry, 3, 400us);
  m.compression(MessageType::vitals, 300, 120);
  m.failure(MessageType::unknown, FailureReason::malformed, Role::nurse);
  m.backpressure(BackpressureType::queue_high_watermark, Severity::warning, Role::nurse);
  m.buffer_utilization(BufferType::send_queue, Role::nurse, 80);
  m.queue_changed(QueueType::send, Role::nurse, 4);
  m.thread_pool_utilization(PoolType::io, 35);
  m.heartbeat_sent(c);
  m.heartbeat_acked(c);
  m.health(c, 90);
  m.stale_connection(StaleType::missed_heartbeat, Role::nurse);
  m.subscription_added(SubscriptionType::vitals, Role::nurse);
  m.subscription_matched(SubscriptionType::vitals, MatchType::exact, Role::nurse);
  m.subscription_failed(SubscriptionFailure::not_authorized, Role::patient_monitor);
  m.connection_closed(c, DisconnectReason::heartbeat_timeout);
  return m.connection_opened(Role::doctor, "d1", "p1", Compression::none);
}

// Each call of m.local() once, on a connection of its own (closed at the end), into label sets
// exercise() leaves alone, so that what they record shows as series of their own.
inline void exercise_local(Metrics& m) {
  using namespace std::chrono_literals;
  LocalMetrics local = m.local();
  Connection c = m.connection_opened(Role::admin, "a1", "", Compression::deflate);
  local.message_received(c, MessageType::announcement, 90);
  local.message_sent(c, MessageType::ack, Priority::low, TargetType::direct, 20);
  local.latency(MessageType::announcement, ProcessingStage::parse, 30us);
  local.broadcast(TargetType::all, BroadcastType::announcement, 7, 70us);
  local.compression(MessageType::ack, 20, 18);
  local.subscription_matched(SubscriptionType::alerts, MatchType::wildcard, Role::admin);
  m.connection_closed(c, DisconnectReason::client_close);
}

}  // namespace wsm::ws::facade_calls

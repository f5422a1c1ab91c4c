// The WebSocket metric catalogue: every metric name, type, label name, unit and help text of the
// WebSocket monitoring, and every enumerated label value, in one place. The facade
// (websocket_metrics.hpp) records from it, the exporter exposes and derives from it, and the
// dashboards and alert rules are written against it.
//
// Where a value comes from (MetricSpec::source):
//  - recorded:         workers record it through wsm::ws::Metrics;
//  - exporter_derived: the exporter computes it each interval from recorded counters (rates,
//                      heartbeat success) or from /proc (CPU, memory, file descriptors): workers
//                      never pay for it;
//  - connection_table: the exporter reads it from the segment's connection table
//                      (wsm/shm/connection_table.hpp) and exposes it for at most
//                      kHealthScoreWorstConnections connections, the worst ones.
//
// Why websocket_health_score is not a per-process gauge: a gauge series per connection_id would
// grow the segment's series catalog with every connection ever seen (series are never freed), a
// connection that left a process's worst-N set would keep its last value, and each worker would
// publish its own N. The connection table holds every live connection's score, bounded and freed
// on close, so the exporter picks the N worst across all workers at each scrape.
//
// Identifier labels (user_id, patient_id, connection_id) are recorded as given; the exporter's
// --id-labels policy (drop|hash|raw) applies at exposition. The facade bounds how many identity
// series a process registers (MetricsOptions::max_identities).
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string_view>
#include <utility>

#include "wsm/shm/layout.hpp"

namespace wsm::ws {

// ---- Enumerated label values -------------------------------------------------------------------
// Each enum E has LabelValues<E>::names, indexed by the enum's value.
template <class E>
struct LabelValues;

#define WSM_LABEL_VALUES(Enum, ...)                                                     \
  template <>                                                                           \
  struct LabelValues<Enum> {                                                            \
    static constexpr std::array names = {__VA_ARGS__};                                  \
  }

// role: who is on the other end of a connection; "unknown" only for upgrades refused because the
// client named no valid role.
enum class Role : std::uint8_t { doctor, nurse, patient_monitor, admin, unknown };
WSM_LABEL_VALUES(Role, std::string_view("doctor"), std::string_view("nurse"),
                 std::string_view("patient_monitor"), std::string_view("admin"),
                 std::string_view("unknown"));

// status of websocket_connections_total: the upgrade succeeded, was refused (bad role, bad
// request), or failed (handshake or network error).
enum class ConnectionStatus : std::uint8_t { success, rejected, failed };
WSM_LABEL_VALUES(ConnectionStatus, std::string_view("success"), std::string_view("rejected"),
                 std::string_view("failed"));

// reason of websocket_disconnections_total and termination_reason of
// websocket_connection_duration_seconds.
enum class DisconnectReason : std::uint8_t {
  client_close,       // the client sent a close frame
  server_shutdown,    // the server is stopping
  heartbeat_timeout,  // pings went unanswered
  protocol_error,     // a WebSocket protocol violation or an oversized message
  network_error,      // the socket failed or the peer vanished
  slow_consumer,      // the client stopped reading its replies
};
WSM_LABEL_VALUES(DisconnectReason, std::string_view("client_close"),
                 std::string_view("server_shutdown"), std::string_view("heartbeat_timeout"),
                 std::string_view("protocol_error"), std::string_view("network_error"),
                 std::string_view("slow_consumer"));
// status of websocket_disconnections_total: "normal" for an orderly close, else "abnormal".
[[nodiscard]] constexpr std::string_view disconnect_status(DisconnectReason r) noexcept {
  return r == DisconnectReason::client_close || r == DisconnectReason::server_shutdown ? "normal"
                                                                                       : "abnormal";
}

// message_type: the "type" field of the JSON messages of the medical-telemetry protocol.
enum class MessageType : std::uint8_t {
  ecg_data, vitals, alert,   // published by patient monitors for their patient
  subscribe, unsubscribe,    // sent by doctors, nurses and admins
  announcement,              // sent by admins to every connection of a worker
  ack, error,                // server replies to one client message
  unknown,                   // malformed or of a type the protocol does not know
};
WSM_LABEL_VALUES(MessageType, std::string_view("ecg_data"), std::string_view("vitals"),
                 std::string_view("alert"), std::string_view("subscribe"),
                 std::string_view("unsubscribe"), std::string_view("announcement"),
                 std::string_view("ack"), std::string_view("error"), std::string_view("unknown"));

enum class Priority : std::uint8_t { low, normal, high, critical };
WSM_LABEL_VALUES(Priority, std::string_view("low"), std::string_view("normal"),
                 std::string_view("high"), std::string_view("critical"));

// target_type: who a sent message or a broadcast is for.
enum class TargetType : std::uint8_t {
  direct,       // the one client it answers
  subscribers,  // the subscribers of a patient
  all,          // every connection (announcements)
};
WSM_LABEL_VALUES(TargetType, std::string_view("direct"), std::string_view("subscribers"),
                 std::string_view("all"));

// source_type of websocket_messages_received_total: a device (patient monitor) or a person.
enum class SourceType : std::uint8_t { device, user };
WSM_LABEL_VALUES(SourceType, std::string_view("device"), std::string_view("user"));
[[nodiscard]] constexpr SourceType source_of(Role r) noexcept {
  return r == Role::patient_monitor ? SourceType::device : SourceType::user;
}

enum class Direction : std::uint8_t { in, out };
WSM_LABEL_VALUES(Direction, std::string_view("in"), std::string_view("out"));

// compression of websocket_message_size_bytes (whether the connection negotiated
// permessage-deflate), protocol of websocket_transferred_bytes_total.
enum class Compression : std::uint8_t { none, deflate };
WSM_LABEL_VALUES(Compression, std::string_view("none"), std::string_view("deflate"));
[[nodiscard]] constexpr std::string_view protocol_of(Compression c) noexcept {
  return c == Compression::deflate ? "ws+deflate" : "ws";
}

// processing_stage of websocket_message_latency_seconds.
enum class ProcessingStage : std::uint8_t {
  parse,  // bytes read -> a validated message
  route,  // validated -> queued for every recipient
  send,   // queued -> written to the socket (queueing and writing)
};
WSM_LABEL_VALUES(ProcessingStage, std::string_view("parse"), std::string_view("route"),
                 std::string_view("send"));

// broadcast_type of websocket_broadcast_latency_seconds.
enum class BroadcastType : std::uint8_t { telemetry, alert, announcement };
WSM_LABEL_VALUES(BroadcastType, std::string_view("telemetry"), std::string_view("alert"),
                 std::string_view("announcement"));

// recipient_count of websocket_broadcast_latency_seconds, in buckets so it stays bounded.
enum class RecipientCount : std::uint8_t { none, one, up_to_5, up_to_20, up_to_100, more };
WSM_LABEL_VALUES(RecipientCount, std::string_view("0"), std::string_view("1"),
                 std::string_view("2-5"), std::string_view("6-20"), std::string_view("21-100"),
                 std::string_view("101+"));
[[nodiscard]] constexpr RecipientCount recipient_count(std::size_t n) noexcept {
  return n == 0 ? RecipientCount::none
         : n == 1 ? RecipientCount::one
         : n <= 5 ? RecipientCount::up_to_5
         : n <= 20 ? RecipientCount::up_to_20
         : n <= 100 ? RecipientCount::up_to_100
                    : RecipientCount::more;
}

// attempt_number of websocket_reconnection_attempts_total: 1..4, then "5+".
enum class AttemptNumber : std::uint8_t { first, second, third, fourth, fifth_or_later };
WSM_LABEL_VALUES(AttemptNumber, std::string_view("1"), std::string_view("2"), std::string_view("3"),
                 std::string_view("4"), std::string_view("5+"));
[[nodiscard]] constexpr AttemptNumber attempt_number(unsigned attempt) noexcept {
  return attempt <= 1 ? AttemptNumber::first
                      : static_cast<AttemptNumber>(attempt >= 5 ? 4 : attempt - 1);
}

// failure_reason of websocket_failed_messages_total.
enum class FailureReason : std::uint8_t {
  malformed,     // not JSON, or a required field missing or of the wrong type
  unknown_type,  // JSON of a type the protocol does not know
  unauthorized,  // the sender's role may not send this type (or for that patient)
  too_large,     // above the server's message size limit
  queue_full,    // dropped: the recipient's send queue was full
  write_error,   // the socket write failed
};
WSM_LABEL_VALUES(FailureReason, std::string_view("malformed"), std::string_view("unknown_type"),
                 std::string_view("unauthorized"), std::string_view("too_large"),
                 std::string_view("queue_full"), std::string_view("write_error"));

// backpressure_type and severity of websocket_backpressure_events_total.
enum class BackpressureType : std::uint8_t {
  queue_high_watermark,  // a send queue crossed 75% of its bound
  queue_full,            // a send queue was full and a message was dropped
};
WSM_LABEL_VALUES(BackpressureType, std::string_view("queue_high_watermark"),
                 std::string_view("queue_full"));
enum class Severity : std::uint8_t { warning, critical };
WSM_LABEL_VALUES(Severity, std::string_view("warning"), std::string_view("critical"));

// buffer_type of websocket_buffer_utilization_percent.
enum class BufferType : std::uint8_t {
  send_queue,   // queued messages as a percent of the queue bound (the fullest connection)
  read_buffer,  // the read buffer as a percent of the message size limit (the fullest one)
};
WSM_LABEL_VALUES(BufferType, std::string_view("send_queue"), std::string_view("read_buffer"));

// queue_type of websocket_queue_size.
enum class QueueType : std::uint8_t { send };
WSM_LABEL_VALUES(QueueType, std::string_view("send"));

// pool_type of websocket_thread_pool_utilization_percent.
enum class PoolType : std::uint8_t { io };
WSM_LABEL_VALUES(PoolType, std::string_view("io"));

// stale_type of websocket_stale_connections_total.
enum class StaleType : std::uint8_t {
  missed_heartbeat,   // a ping was still unanswered when the next one was due
  heartbeat_timeout,  // too many missed in a row: the connection is closed
};
WSM_LABEL_VALUES(StaleType, std::string_view("missed_heartbeat"),
                 std::string_view("heartbeat_timeout"));

// subscription_type: which stream of a patient a subscription is for.
enum class SubscriptionType : std::uint8_t { ecg, vitals, alerts };
WSM_LABEL_VALUES(SubscriptionType, std::string_view("ecg"), std::string_view("vitals"),
                 std::string_view("alerts"));
// match_type of websocket_subscription_matches_total: subscribed to that patient or to "*".
enum class MatchType : std::uint8_t { exact, wildcard };
WSM_LABEL_VALUES(MatchType, std::string_view("exact"), std::string_view("wildcard"));
// failure_type of websocket_subscription_failures_total.
enum class SubscriptionFailure : std::uint8_t {
  invalid_request,  // no patient, or an unknown stream
  not_authorized,   // the role may not subscribe (or not to "*")
  limit_exceeded,   // the connection holds the most subscriptions allowed
  not_subscribed,   // unsubscribe from something not subscribed
};
WSM_LABEL_VALUES(SubscriptionFailure, std::string_view("invalid_request"),
                 std::string_view("not_authorized"), std::string_view("limit_exceeded"),
                 std::string_view("not_subscribed"));

#undef WSM_LABEL_VALUES

template <class E>
inline constexpr std::size_t kValueCount = LabelValues<E>::names.size();

template <class E>
[[nodiscard]] constexpr std::string_view label_value(E e) noexcept {
  return LabelValues<E>::names[static_cast<std::size_t>(e)];
}

template <class E>
[[nodiscard]] constexpr std::optional<E> parse_label_value(std::string_view text) noexcept {
  for (std::size_t i = 0; i < kValueCount<E>; ++i) {
    if (LabelValues<E>::names[i] == text) return static_cast<E>(i);
  }
  return std::nullopt;
}

// ---- Metric families ---------------------------------------------------------------------------

enum class Source : std::uint8_t { recorded, exporter_derived, connection_table };

inline constexpr std::size_t kMaxLabels = 4;

// The metrics, in the order of kMetrics.
enum class Metric : std::uint8_t {
  // connection
  connections_active, connections_total, disconnections_total, connection_duration_seconds,
  reconnection_attempts_total,
  // message
  messages_sent_total, messages_received_total, message_size_bytes, message_latency_seconds,
  broadcast_latency_seconds, failed_messages_total,
  // performance
  throughput_messages_per_second, bandwidth_bytes_per_second, compression_ratio_percent,
  backpressure_events_total, buffer_utilization_percent, queue_size,
  // resource
  cpu_usage_percent, memory_usage_bytes, file_descriptors_count, thread_pool_utilization_percent,
  // health
  health_score, heartbeat_success_rate_percent, stale_connections_total,
  // subscription
  subscriptions_active, subscription_matches_total, subscription_failures_total,
  // source counters the exporter derives rates from
  transferred_bytes_total, heartbeats_sent_total, heartbeats_acked_total,
};

struct MetricSpec {
  Metric id;
  std::string_view name;
  shm::MetricType type;
  std::array<std::string_view, kMaxLabels> labels;  // the first label_count are used
  std::size_t label_count;
  shm::Unit unit;
  std::string_view help;
  Source source;
  shm::GaugeMode gauge_mode;   // how a gauge combines across worker processes
  std::string_view derived_from;  // exporter_derived: what it is computed from
};


// How many connections websocket_health_score is exposed for: the lowest scores.
inline constexpr std::size_t kHealthScoreWorstConnections = 10;

namespace detail {
using shm::GaugeMode;
using shm::MetricType;
using shm::Unit;
using Names = std::array<std::string_view, kMaxLabels>;
// The unit by the Prometheus naming convention (as shm::unit_from_name), so a name and its unit
// never disagree.
constexpr Unit unit_by_name(std::string_view name) {
  if (name.ends_with("_total")) name.remove_suffix(6);
  if (name.ends_with("_seconds")) return Unit::seconds;
  if (name.ends_with("_bytes")) return Unit::bytes;
  if (name.ends_with("_percent")) return Unit::percent;
  return Unit::none;
}
constexpr MetricSpec counter(Metric id, std::string_view name, Names labels, std::size_t n,
                             std::string_view help) {
  return {id, name, MetricType::counter, labels, n, unit_by_name(name), help, Source::recorded,
          GaugeMode::sum, {}};
}
constexpr MetricSpec histogram(Metric id, std::string_view name, Names labels, std::size_t n,
                               std::string_view help) {
  return {id, name, MetricType::histogram, labels, n, unit_by_name(name), help, Source::recorded,
          GaugeMode::sum, {}};
}
constexpr MetricSpec gauge(Metric id, std::string_view name, Names labels, std::size_t n,
                           std::string_view help, GaugeMode mode, Source source = Source::recorded,
                           std::string_view derived_from = {}) {
  return {id, name, MetricType::gauge, labels, n, unit_by_name(name), help, source, mode, derived_from};
}
}  // namespace detail

inline constexpr std::array<MetricSpec, 30> kMetrics = {{
    // connection
    detail::gauge(Metric::connections_active, "websocket_connections_active",
                  {"role", "user_id", "patient_id"}, 3, "Open WebSocket connections",
                  shm::GaugeMode::sum),
    detail::counter(Metric::connections_total, "websocket_connections_total", {"role", "status"}, 2,
                    "WebSocket upgrade attempts by outcome"),
    detail::counter(Metric::disconnections_total, "websocket_disconnections_total",
                    {"role", "reason", "status"}, 3,
                    "Closed WebSocket connections by reason (status normal or abnormal)"),
    detail::histogram(Metric::connection_duration_seconds, "websocket_connection_duration_seconds",
                      {"role", "termination_reason"}, 2, "Lifetime of closed WebSocket connections"),
    detail::counter(Metric::reconnection_attempts_total, "websocket_reconnection_attempts_total",
                    {"role", "attempt_number"}, 2,
                    "Connections their clients declared a reconnection, by attempt number"),
    // message
    detail::counter(Metric::messages_sent_total, "websocket_messages_sent_total",
                    {"message_type", "priority", "role", "target_type"}, 4,
                    "Messages written to clients (role: the recipient's)"),
    detail::counter(Metric::messages_received_total, "websocket_messages_received_total",
                    {"message_type", "source_type", "role"}, 3,
                    "Messages received from clients, malformed ones included (type unknown)"),
    detail::histogram(Metric::message_size_bytes, "websocket_message_size_bytes",
                      {"message_type", "direction", "compression"}, 3,
                      "Payload size of messages, before compression"),
    detail::histogram(Metric::message_latency_seconds, "websocket_message_latency_seconds",
                      {"message_type", "processing_stage"}, 2,
                      "Time a message spends in each server processing stage"),
    detail::histogram(Metric::broadcast_latency_seconds, "websocket_broadcast_latency_seconds",
                      {"target_type", "broadcast_type", "recipient_count"}, 3,
                      "Time from reading a message to queueing it for every recipient"),
    detail::counter(Metric::failed_messages_total, "websocket_failed_messages_total",
                    {"message_type", "failure_reason", "role"}, 3,
                    "Messages rejected or dropped, by reason"),
    // performance
    detail::gauge(Metric::throughput_messages_per_second, "websocket_throughput_messages_per_second",
                  {"direction", "message_type", "role"}, 3,
                  "Messages per second over the last exporter interval", shm::GaugeMode::sum,
                  Source::exporter_derived,
                  "rate of websocket_messages_received_total (in), websocket_messages_sent_total (out)"),
    detail::gauge(Metric::bandwidth_bytes_per_second, "websocket_bandwidth_bytes_per_second",
                  {"direction", "protocol", "role"}, 3,
                  "Bytes per second on the wire over the last exporter interval", shm::GaugeMode::sum,
                  Source::exporter_derived, "rate of websocket_transferred_bytes_total"),
    detail::histogram(Metric::compression_ratio_percent, "websocket_compression_ratio_percent",
                      {"compression_type", "message_type"}, 2,
                      "Compressed frame size as a percent of the payload size (sent messages)"),
    detail::counter(Metric::backpressure_events_total, "websocket_backpressure_events_total",
                    {"backpressure_type", "severity", "role"}, 3,
                    "Send queues crossing their high watermark or dropping messages"),
    detail::gauge(Metric::buffer_utilization_percent, "websocket_buffer_utilization_percent",
                  {"buffer_type", "role"}, 2,
                  "Fullest buffer among connections of this role, percent of its bound",
                  shm::GaugeMode::max),
    detail::gauge(Metric::queue_size, "websocket_queue_size", {"queue_type", "role"}, 2,
                  "Messages waiting in send queues", shm::GaugeMode::sum),
    // resource
    detail::gauge(Metric::cpu_usage_percent, "websocket_cpu_usage_percent", {"process_type", "role"}, 2,
                  "CPU use of a process, percent of one core", shm::GaugeMode::sum,
                  Source::exporter_derived, "/proc/<pid>/stat of each live writer and the exporter"),
    detail::gauge(Metric::memory_usage_bytes, "websocket_memory_usage_bytes", {"memory_type", "role"}, 2,
                  "Memory of a process (rss, virtual)", shm::GaugeMode::sum, Source::exporter_derived,
                  "/proc/<pid>/status of each live writer and the exporter"),
    detail::gauge(Metric::file_descriptors_count, "websocket_file_descriptors_count", {"type"}, 1,
                  "Open file descriptors", shm::GaugeMode::sum, Source::exporter_derived,
                  "/proc/<pid>/fd of each live writer and the exporter"),
    detail::gauge(Metric::thread_pool_utilization_percent, "websocket_thread_pool_utilization_percent",
                  {"pool_type", "role"}, 2,
                  "Busiest worker's thread pool: CPU time of its threads, percent of wall time",
                  shm::GaugeMode::max),
    // health
    detail::gauge(Metric::health_score, "websocket_health_score", {"connection_id", "role"}, 2,
                  "Health of a connection from 0 (worst) to 100, for the worst connections only",
                  shm::GaugeMode::min, Source::connection_table,
                  "health_score of the connection table's records"),
    detail::gauge(Metric::heartbeat_success_rate_percent, "websocket_heartbeat_success_rate_percent",
                  {"role"}, 1, "Pings answered, percent of pings sent over the last exporter interval",
                  shm::GaugeMode::sum, Source::exporter_derived,
                  "websocket_heartbeats_acked_total / websocket_heartbeats_sent_total"),
    detail::counter(Metric::stale_connections_total, "websocket_stale_connections_total",
                    {"stale_type", "role"}, 2, "Connections found stale (unanswered pings)"),
    // subscription
    detail::gauge(Metric::subscriptions_active, "websocket_subscriptions_active",
                  {"subscription_type", "role"}, 2, "Active subscriptions", shm::GaugeMode::sum),
    detail::counter(Metric::subscription_matches_total, "websocket_subscription_matches_total",
                    {"subscription_type", "match_type", "role"}, 3,
                    "Published messages matched to a subscription"),
    detail::counter(Metric::subscription_failures_total, "websocket_subscription_failures_total",
                    {"failure_type", "role"}, 2, "Subscribe and unsubscribe requests refused"),
    // source counters of derived metrics
    detail::counter(Metric::transferred_bytes_total, "websocket_transferred_bytes_total",
                    {"direction", "protocol", "role"}, 3,
                    "Bytes on the wire, frame headers included, after compression"),
    detail::counter(Metric::heartbeats_sent_total, "websocket_heartbeats_sent_total", {"role"}, 1,
                    "Pings sent to clients"),
    detail::counter(Metric::heartbeats_acked_total, "websocket_heartbeats_acked_total", {"role"}, 1,
                    "Pongs received from clients"),
}};

[[nodiscard]] constexpr const MetricSpec& spec(Metric m) noexcept {
  return kMetrics[static_cast<std::size_t>(m)];
}

// ---- Categories --------------------------------------------------------------------------------
// The groups WEBSOCKET_METRICS_CATEGORIES switches on and off (websocket_categories.hpp). A source
// counter belongs to the category of what is derived from it.
enum class Category : std::uint8_t { connection, message, performance, resource, health, subscription };
template <>
struct LabelValues<Category> {
  static constexpr std::array names = {std::string_view("connection"), std::string_view("message"),
                                       std::string_view("performance"), std::string_view("resource"),
                                       std::string_view("health"), std::string_view("subscription")};
};

[[nodiscard]] constexpr Category category_of(Metric m) noexcept {
  switch (m) {
    case Metric::transferred_bytes_total: return Category::performance;  // bandwidth
    case Metric::heartbeats_sent_total:
    case Metric::heartbeats_acked_total: return Category::health;         // heartbeat success
    default: break;
  }
  // The rest of kMetrics is in category order; each category starts at its first metric.
  if (m < Metric::messages_sent_total) return Category::connection;
  if (m < Metric::throughput_messages_per_second) return Category::message;
  if (m < Metric::cpu_usage_percent) return Category::performance;
  if (m < Metric::health_score) return Category::resource;
  if (m < Metric::subscriptions_active) return Category::health;
  return Category::subscription;
}

namespace detail {
constexpr bool catalogue_is_consistent() {
  for (std::size_t i = 0; i < kMetrics.size(); ++i) {
    const MetricSpec& m = kMetrics[i];
    if (static_cast<std::size_t>(m.id) != i || !m.name.starts_with("websocket_") ||
        m.label_count == 0 || m.label_count > kMaxLabels ||
        (m.type == MetricType::counter) != m.name.ends_with("_total") ||
        (m.source != Source::recorded && m.type != MetricType::gauge)) {
      return false;
    }
  }
  return true;
}
}  // namespace detail
static_assert(detail::catalogue_is_consistent(), "kMetrics is out of order or breaks a convention");

}  // namespace wsm::ws

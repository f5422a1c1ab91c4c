// Every metric the exporter derives each interval, and every catalogue metric it reads to do so.
// Workers only count; rates, ratios and resource levels are computed here (docs/design.md,
// "Data flow").
// Derived families take precedence over a segment family of the same name in /metrics.
#include "wsm/exporter/derived_rules.hpp"

namespace wsm::exporter {

const DerivedRules& derived_rules() {
  static const DerivedRules rules{
      .rates =
          {
              {.category = ws::Category::performance,
               .output = "websocket_throughput_messages_per_second",
               .help = "Messages per second over the last exporter interval, by direction "
                       "(out: sent, in: received)",
               .inputs = {{"websocket_messages_sent_total", "direction", "out"},
                          {"websocket_messages_received_total", "direction", "in"}},
               .by = {"message_type", "role"}},
              {.category = ws::Category::performance,
               .output = "websocket_bandwidth_bytes_per_second",
               .help = "Bytes per second transferred over the last exporter interval",
               .inputs = {{"websocket_transferred_bytes_total", "", ""}},
               .by = {"direction", "protocol", "role"}},
          },
      .ratios =
          {
              {.category = ws::Category::health,
               .output = "websocket_heartbeat_success_rate_percent",
               .help = "Heartbeats acknowledged per heartbeat sent over the last exporter "
                       "interval, in percent",
               .numerator = "websocket_heartbeats_acked_total",
               .denominator = "websocket_heartbeats_sent_total",
               .by = {"role"},
               .scale = 100},
          },
      .resources =
          {
              .cpu = "websocket_cpu_usage_percent",
              .cpu_help = "CPU used over the last exporter interval (100 = one core), by "
                          "process type (worker: live writer processes, exporter) and role",
              .memory = "websocket_memory_usage_bytes",
              .memory_help = "Memory of live writer processes and the exporter (rss, virtual)",
              .fds = "websocket_file_descriptors_count",
              .fds_help = "Open file descriptors of live writer processes, by kind "
                          "(socket, pipe, file, other)",
          },
      // The catalogue's name, help and worst-N (<wsm/websocket_catalogue.hpp>).
      .health =
          {
              .output = ws::spec(ws::Metric::health_score).name,
              .help = ws::spec(ws::Metric::health_score).help,
              .worst_connections = ws::kHealthScoreWorstConnections,
          },
      .summary =
          {
              .connections_active = "websocket_connections_active",
              .messages_sent = "websocket_messages_sent_total",
              .messages_received = "websocket_messages_received_total",
              .messages_failed = "websocket_failed_messages_total",
              .message_latency = "websocket_message_latency_seconds",
              .disconnections = "websocket_disconnections_total",
              .message_rate = "websocket_throughput_messages_per_second",
              .byte_rate = "websocket_bandwidth_bytes_per_second",
              .heartbeat_success = "websocket_heartbeat_success_rate_percent",
          },
      .breakdown =
          {
              .buffer_utilization = "websocket_buffer_utilization_percent",
              .queue_size = "websocket_queue_size",
              .subscriptions = "websocket_subscriptions_active",
              .message_latency = "websocket_message_latency_seconds",
              .compression_ratio = "websocket_compression_ratio_percent",
          },
  };
  return rules;
}

DerivedRules derived_rules(ws::Categories categories) {
  DerivedRules rules = derived_rules();
  std::erase_if(rules.rates, [&](const RateRule& r) { return !categories.enabled(r.category); });
  std::erase_if(rules.ratios, [&](const RatioRule& r) { return !categories.enabled(r.category); });
  return rules;
}

}  // namespace wsm::exporter

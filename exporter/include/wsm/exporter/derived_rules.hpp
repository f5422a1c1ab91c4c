// The shape of the exporter's derivation rules; the rules themselves are one table in
// derived_rules.cpp.
#pragma once

#include <cstddef>
#include <string_view>
#include <vector>

#include "wsm/websocket_categories.hpp"

namespace wsm::exporter {

// A counter feeding a rate, optionally tagged with a fixed label (direction="out").
struct RateInput {
  std::string_view counter;
  std::string_view label;  // empty: none added
  std::string_view value;
};

// gauge{by...} = sum over inputs of delta(counter) / interval, summed by the `by` labels.
struct RateRule {
  ws::Category category;  // of the output
  std::string_view output;
  std::string_view help;
  std::vector<RateInput> inputs;
  std::vector<std::string_view> by;  // labels kept from the input series (a missing one is "")
};

// gauge{by...} = scale * delta(numerator) / delta(denominator); absent while the denominator
// did not move.
struct RatioRule {
  ws::Category category;  // of the output
  std::string_view output;
  std::string_view help;
  std::string_view numerator;
  std::string_view denominator;
  std::vector<std::string_view> by;
  double scale = 1;
};

// Resource gauges read from /proc.
struct ResourceRule {
  std::string_view cpu, cpu_help;        // {process_type, role}
  std::string_view memory, memory_help;  // {memory_type, role}
  std::string_view fds, fds_help;        // {type}
};

// websocket_health_score, computed at each scrape from the connection tables (health_scores.hpp).
struct HealthRule {
  std::string_view output, help;
  std::size_t worst_connections = 0;  // per-connection series at most (wsm::ws::kHealthScoreWorstConnections)
};

// Catalogue metrics the summary and the interval snapshots read.
struct SummaryInputs {
  std::string_view connections_active;  // gauge, by role
  std::string_view messages_sent;       // counter
  std::string_view messages_received;   // counter
  std::string_view messages_failed;     // counter
  std::string_view message_latency;     // histogram (seconds)
  std::string_view disconnections;      // counter
  std::string_view message_rate;        // a rate rule's output, by direction
  std::string_view byte_rate;           // a rate rule's output, by direction
  std::string_view heartbeat_success;   // a ratio rule's output, by role
};

// Catalogue metrics /api/v1/breakdown reads fresh from the segment at each request.
struct BreakdownInputs {
  std::string_view buffer_utilization;  // gauge {buffer_type, role}
  std::string_view queue_size;          // gauge {queue_type, role}
  std::string_view subscriptions;       // gauge {subscription_type, role}
  std::string_view message_latency;     // histogram {message_type, processing_stage}
  std::string_view compression_ratio;   // histogram {compression_type, message_type}
};

struct DerivedRules {
  std::vector<RateRule> rates;
  std::vector<RatioRule> ratios;
  ResourceRule resources;
  HealthRule health;
  SummaryInputs summary;
  BreakdownInputs breakdown;
};

[[nodiscard]] const DerivedRules& derived_rules();
// The rules without the rates and ratios of categories that are off.
[[nodiscard]] DerivedRules derived_rules(ws::Categories categories);

}  // namespace wsm::exporter

#include "wsm/alerts/catalogue_json.hpp"

#include <algorithm>
#include <nlohmann/json.hpp>
#include <string_view>

#include "thresholds_json.hpp"
#include "wsm/websocket_catalogue.hpp"

namespace wsm::alerts {
namespace {

using nlohmann::ordered_json;
using namespace wsm::ws;

template <class E>
ordered_json names_of() {
  ordered_json out = ordered_json::array();
  for (const std::string_view name : LabelValues<E>::names) out.push_back(name);
  return out;
}

// status means two things: the outcome of an upgrade, and whether a close was orderly.
ordered_json disconnect_statuses() {
  ordered_json out = ordered_json::array();
  for (std::size_t i = 0; i < kValueCount<DisconnectReason>; ++i) {
    const std::string_view s = disconnect_status(static_cast<DisconnectReason>(i));
    if (std::find(out.begin(), out.end(), s) == out.end()) out.push_back(s);
  }
  return out;
}

// The values a label of `family` takes, by the enum the facade records it from (label_set in
// websocket_metrics.hpp); null for identifiers and for labels the exporter fills itself.
ordered_json values_of(Metric family, std::string_view label) {
  if (label == "role") {
    // Resources carry the writer process role (worker, exporter), not a connection's.
    if (category_of(family) == Category::resource) return nullptr;
    return names_of<Role>();
  }
  if (label == "status") {
    return family == Metric::disconnections_total ? disconnect_statuses() : names_of<ConnectionStatus>();
  }
  if (label == "protocol") return ordered_json{protocol_of(Compression::none), protocol_of(Compression::deflate)};
  if (label == "reason" || label == "termination_reason") return names_of<DisconnectReason>();
  if (label == "message_type") return names_of<MessageType>();
  if (label == "priority") return names_of<Priority>();
  if (label == "target_type") return names_of<TargetType>();
  if (label == "source_type") return names_of<SourceType>();
  if (label == "direction") return names_of<Direction>();
  if (label == "compression" || label == "compression_type") return names_of<Compression>();
  if (label == "processing_stage") return names_of<ProcessingStage>();
  if (label == "broadcast_type") return names_of<BroadcastType>();
  if (label == "recipient_count") return names_of<RecipientCount>();
  if (label == "attempt_number") return names_of<AttemptNumber>();
  if (label == "failure_reason") return names_of<FailureReason>();
  if (label == "backpressure_type") return names_of<BackpressureType>();
  if (label == "severity") return names_of<Severity>();
  if (label == "buffer_type") return names_of<BufferType>();
  if (label == "queue_type") return names_of<QueueType>();
  if (label == "pool_type") return names_of<PoolType>();
  if (label == "stale_type") return names_of<StaleType>();
  if (label == "subscription_type") return names_of<SubscriptionType>();
  if (label == "match_type") return names_of<MatchType>();
  if (label == "failure_type") return names_of<SubscriptionFailure>();
  return nullptr;
}

const char* unit_name(shm::Unit u) {
  switch (u) {
    case shm::Unit::seconds: return "seconds";
    case shm::Unit::bytes: return "bytes";
    case shm::Unit::percent: return "percent";
    case shm::Unit::none: break;
  }
  return "none";
}

const char* source_name(Source s) {
  switch (s) {
    case Source::exporter_derived: return "exporter_derived";
    case Source::connection_table: return "connection_table";
    case Source::recorded: break;
  }
  return "recorded";
}

}  // namespace

std::string catalogue_json(const Thresholds& t) {
  ordered_json families = ordered_json::object();
  for (const MetricSpec& m : kMetrics) {
    ordered_json labels = ordered_json::object();
    for (std::size_t i = 0; i < m.label_count; ++i) labels[std::string(m.labels[i])] = values_of(m.id, m.labels[i]);
    families[std::string(m.name)] = {
        {"type", shm::metric_type_name(m.type)},
        {"unit", unit_name(m.unit)},
        {"category", label_value(category_of(m.id))},
        {"source", source_name(m.source)},
        {"help", m.help},
        {"labels", std::move(labels)},
    };
  }
  const ordered_json out = {{"families", std::move(families)}, {"thresholds", thresholds_json(t)}};
  return out.dump(2) + "\n";
}

}  // namespace wsm::alerts

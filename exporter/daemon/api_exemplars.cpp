// GET /api/v1/exemplars?window=300&top=10: the slowest recent exemplars of the message latency
// histogram per message type (exemplar_log.hpp), so a person can go from "latency is up" to the
// traces that were slow.
#include "wsm/exporter/api.hpp"

namespace wsm::exporter {

using nlohmann::json;

ApiResult api_exemplars(Monitor& monitor, std::string_view query) {
  const auto params = parse_query(query);
  if (!params) return api_error(400, "malformed query string: a %-escape is incomplete");
  std::size_t window = 300, top = 10;
  for (const auto& [name, value] : *params) {
    if (name != "window" && name != "top") {
      return api_error(400, "unknown parameter '" + name + "'; expected window or top");
    }
    const auto max = name == "window" ? static_cast<std::size_t>(std::chrono::seconds(kExemplarWindowMax).count()) : 100;
    const auto v = count_parameter(name, value, max);
    if (!v) return v.error();
    (name == "window" ? window : top) = *v;
  }
  const auto slowest = monitor.slowest_exemplars(std::chrono::seconds(window), top);
  if (!slowest) return api_error(503, monitor.status().reason);
  json by_type = json::object();
  for (const auto& [type, list] : *slowest) {
    json entries = json::array();
    for (const LoggedExemplar& e : list) {
      json labels = json::object();
      for (const auto& [k, v] : e.labels) labels[k] = v;
      entries.push_back({{"trace_id", shm::to_hex(e.data.trace_id)},
                         {"span_id", shm::to_hex(e.data.span_id)},
                         {"value_seconds", static_cast<double>(e.data.value) / 1e9},
                         {"time", static_cast<double>(e.data.unix_ns) / 1e9},
                         {"labels", labels}});
    }
    by_type[type] = entries;
  }
  return {200,
          {{"metric", derived_rules().breakdown.message_latency},
           {"window_seconds", window},
           {"top", top},
           {"by_message_type", by_type}}};
}

}  // namespace wsm::exporter

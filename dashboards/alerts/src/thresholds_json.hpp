// The thresholds as one JSON object, the same in `wsm-alerts thresholds` and in the catalogue.
#pragma once

#include <nlohmann/json.hpp>

#include "wsm/websocket_thresholds.hpp"

namespace wsm::alerts {

[[nodiscard]] inline nlohmann::ordered_json thresholds_json(const ws::Thresholds& t) {
  return {
      {"latency_seconds", t.latency_seconds},
      {"cpu_percent", t.cpu_percent},
      {"memory_bytes", t.memory_bytes},
      {"failure_ratio", t.failure_ratio},
      {"health_score", t.health_score},
      {"compression_ratio_percent", t.compression_ratio_percent},
      {"disconnections_per_second", t.disconnections_per_second},
      {"buffer_utilization_percent", t.buffer_utilization_percent},
  };
}

}  // namespace wsm::alerts

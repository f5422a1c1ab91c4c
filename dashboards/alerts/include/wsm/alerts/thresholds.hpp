// The alert thresholds: defaults, the environment variables that override them, their ranges.
#pragma once

#include <cstdint>
#include <functional>
#include <string_view>

#include "wsm/shm/error.hpp"

namespace wsm::alerts {

struct Thresholds {
  // Set from the environment (WEBSOCKET_*_THRESHOLD, see thresholds_from_env).
  double latency_seconds = 0.5;                  // HighWebSocketLatency: P95 above this
  double cpu_percent = 80;                       // HighCPU
  std::uint64_t memory_bytes = 1073741824;       // HighMemory: RSS above this (1 GiB)
  double failure_ratio = 0.05;                   // HighFailureRate: failed / sent above this
  double health_score = 70;                      // LowHealthScore: worst connection below this
  // Fixed by the issue; kept here so the rules and the dashboard read them from one place.
  double compression_ratio_percent = 50;         // LowCompressionRatio: mean below this
  double disconnections_per_second = 10;         // ConnectionDrops
  double buffer_utilization_percent = 80;        // Backpressure
};

// Looks up one environment variable; nullptr when unset. std::getenv fits.
using EnvLookup = std::function<const char*(const char*)>;

// The defaults overridden by the environment. Unset or empty variables keep their default. A bad
// value fails with one line naming the variable, the value and the allowed range.
[[nodiscard]] Result<Thresholds> thresholds_from_env(const EnvLookup& lookup);

}  // namespace wsm::alerts

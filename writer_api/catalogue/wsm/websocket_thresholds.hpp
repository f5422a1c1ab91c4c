// What counts as breached: the one definition of every threshold, read by the exporter (its
// summary's "breached" list and the live page) and by `wsm alerts` (the Prometheus rules), so the
// live page and Prometheus agree. Each threshold has one environment variable, one config key, one
// range and one meaning in both; the exporter adds a flag per key (--latency-threshold).
#pragma once

#include <array>
#include <charconv>
#include <cmath>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>

#include "wsm/shm/error.hpp"

namespace wsm::ws {

struct Thresholds {
  // Set from the environment (thresholds_from_env), the exporter's flags and its config file.
  double latency_seconds = 0.5;             // p95 message latency above this
  double cpu_percent = 80;                  // CPU of any one worker process (100 = one core)
  std::uint64_t memory_bytes = 1073741824;  // resident memory of any one worker process (1 GiB)
  double failure_ratio = 0.05;              // failed messages / sent messages above this (5%)
  double health_score = 70;                 // the worst connection's health score below this
  // Fixed; kept here so the rules and the dashboard read them from one place.
  double compression_ratio_percent = 50;    // LowCompressionRatio: mean saving below this
  double disconnections_per_second = 10;    // ConnectionDrops
  double buffer_utilization_percent = 80;   // Backpressure

  // The one comparison of each settable threshold, for everything that judges a figure (the
  // summary's "breached" list, the agent check).
  [[nodiscard]] bool latency_breached(double p95_seconds) const { return p95_seconds > latency_seconds; }
  [[nodiscard]] bool cpu_breached(double worker_percent) const { return worker_percent > cpu_percent; }
  [[nodiscard]] bool memory_breached(double worker_rss) const { return worker_rss > static_cast<double>(memory_bytes); }
  [[nodiscard]] bool failure_breached(double ratio) const { return ratio > failure_ratio; }
  [[nodiscard]] bool health_breached(double score) const { return score < health_score; }
};

// One settable threshold. Bounds are open or closed as `allowed` shows.
struct ThresholdSpec {
  const char* key;      // config-file key; the flag is "--" + key with '-' for '_'
  const char* flag;
  const char* env;
  const char* unit;     // the value's name in --help
  const char* meaning;  // when it is breached, for --help
  double low;
  bool low_inclusive;
  double high;
  bool high_inclusive;
  bool integer;
  const char* allowed;  // the range as error messages show it
  double (*get)(const Thresholds&);
  void (*set)(Thresholds&, double);
};

inline constexpr std::array<ThresholdSpec, 5> kThresholdSpecs = {{
    {"latency_threshold", "--latency-threshold", "WEBSOCKET_LATENCY_THRESHOLD", "SECONDS",
     "breached when the p95 message latency is above", 0, false, 60, true, false, "(0, 60] seconds",
     [](const Thresholds& t) { return t.latency_seconds; },
     [](Thresholds& t, double v) { t.latency_seconds = v; }},
    {"cpu_threshold", "--cpu-threshold", "WEBSOCKET_CPU_THRESHOLD", "PERCENT",
     "breached when one worker process uses more CPU (100 = one core)", 0, false, 10000, true, false,
     "(0, 10000] percent", [](const Thresholds& t) { return t.cpu_percent; },
     [](Thresholds& t, double v) { t.cpu_percent = v; }},
    {"memory_threshold", "--memory-threshold", "WEBSOCKET_MEMORY_THRESHOLD", "BYTES",
     "breached when one worker process's resident memory is above", 1048576, true, 1099511627776,
     true, true, "[1048576, 1099511627776] (1 MiB to 1 TiB)",
     [](const Thresholds& t) { return static_cast<double>(t.memory_bytes); },
     [](Thresholds& t, double v) { t.memory_bytes = static_cast<std::uint64_t>(v); }},
    {"failure_rate_threshold", "--failure-rate-threshold", "WEBSOCKET_FAILURE_RATE_THRESHOLD",
     "FRACTION", "breached when failed messages are above this fraction of sent messages (0.05 = 5%)",
     0, false, 1, false, false, "(0, 1) (a fraction of sent messages)",
     [](const Thresholds& t) { return t.failure_ratio; },
     [](Thresholds& t, double v) { t.failure_ratio = v; }},
    {"health_score_threshold", "--health-score-threshold", "WEBSOCKET_HEALTH_SCORE_THRESHOLD",
     "SCORE", "breached when a connection's health score is below", 0, false, 100, true, false,
     "(0, 100]", [](const Thresholds& t) { return t.health_score; },
     [](Thresholds& t, double v) { t.health_score = v; }},
}};

// Sets `spec`'s threshold from `text` (one whole finite number inside its range); false, leaving
// `t` as it was, when the text is not.
[[nodiscard]] inline bool set_threshold(const ThresholdSpec& spec, std::string_view text, Thresholds& t) {
  double v = 0;
  const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), v);
  if (ec != std::errc{} || end != text.data() + text.size() || !std::isfinite(v)) return false;
  if (spec.integer && v != std::floor(v)) return false;
  if (spec.low_inclusive ? v < spec.low : v <= spec.low) return false;
  if (spec.high_inclusive ? v > spec.high : v >= spec.high) return false;
  spec.set(t, v);
  return true;
}

// Looks up one environment variable; nullptr when unset. std::getenv fits.
using EnvLookup = std::function<const char*(const char*)>;

// The defaults overridden by the environment. Unset or empty variables keep their default. A bad
// value fails with one line naming the variable, the value and the allowed range.
[[nodiscard]] inline Result<Thresholds> thresholds_from_env(const EnvLookup& lookup) {
  Thresholds t;
  for (const ThresholdSpec& spec : kThresholdSpecs) {
    const char* raw = lookup(spec.env);
    if (raw == nullptr || *raw == '\0') continue;
    if (!set_threshold(spec, raw, t)) {
      return fail(Errc::invalid_argument, std::string(spec.env) + "=\"" + raw + "\" is not " +
                                              (spec.integer ? "a whole number" : "a number") + " in " +
                                              spec.allowed);
    }
  }
  return t;
}

}  // namespace wsm::ws

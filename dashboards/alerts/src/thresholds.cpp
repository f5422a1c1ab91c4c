// Parses WEBSOCKET_*_THRESHOLD: a whole string must be one finite number inside the range.
#include "wsm/alerts/thresholds.hpp"

#include <charconv>
#include <cmath>
#include <string>
#include <type_traits>

namespace wsm::alerts {
namespace {

// An open or closed bound on each side; `range` is the text the error message shows.
struct Range {
  double low;
  bool low_inclusive;
  double high;
  bool high_inclusive;
  std::string_view text;

  [[nodiscard]] bool contains(double v) const {
    return (low_inclusive ? v >= low : v > low) && (high_inclusive ? v <= high : v < high);
  }
};

// Overwrites `out` when the variable is set and non-empty; `what` names the kind of number.
template <class T>
[[nodiscard]] Result<void> read_env(const EnvLookup& lookup, std::string_view name, std::string_view what,
                                    const Range& range, T& out) {
  const char* raw = lookup(std::string(name).c_str());
  if (raw == nullptr || *raw == '\0') return {};
  const std::string_view text(raw);
  T value{};
  const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  bool ok = ec == std::errc{} && end == text.data() + text.size();
  if constexpr (std::is_floating_point_v<T>) ok = ok && std::isfinite(value);
  if (!ok || !range.contains(static_cast<double>(value))) {
    return fail(Errc::invalid_argument, std::string(name) + "=\"" + std::string(text) + "\" is not " +
                                            std::string(what) + " in " + std::string(range.text));
  }
  out = value;
  return {};
}

}  // namespace

Result<Thresholds> thresholds_from_env(const EnvLookup& lookup) {
  Thresholds t;
  constexpr std::string_view number = "a number";
  Result<void> r = read_env(lookup, "WEBSOCKET_LATENCY_THRESHOLD", number,
                            {0, false, 60, true, "(0, 60] seconds"}, t.latency_seconds);
  if (r) {
    r = read_env(lookup, "WEBSOCKET_CPU_THRESHOLD", number, {0, false, 100, true, "(0, 100] percent"},
                 t.cpu_percent);
  }
  if (r) {
    r = read_env(lookup, "WEBSOCKET_MEMORY_THRESHOLD", "a whole number of bytes",
                 {1048576, true, 1099511627776, true, "[1048576, 1099511627776] (1 MiB to 1 TiB)"},
                 t.memory_bytes);
  }
  if (r) {
    r = read_env(lookup, "WEBSOCKET_FAILURE_RATE_THRESHOLD", number,
                 {0, false, 1, false, "(0, 1) (a fraction of sent messages)"}, t.failure_ratio);
  }
  if (r) {
    r = read_env(lookup, "WEBSOCKET_HEALTH_SCORE_THRESHOLD", number, {0, false, 100, true, "(0, 100]"},
                 t.health_score);
  }
  if (!r) return std::unexpected(r.error());
  return t;
}

}  // namespace wsm::alerts

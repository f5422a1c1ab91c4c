// Fills the placeholders of kRuleTemplate. Placeholders are @UPPER_CASE@, which no PromQL or
// Prometheus template text contains, so a plain search-and-replace is exact.
#include "wsm/alerts/render.hpp"

#include <algorithm>
#include <array>
#include <cassert>
#include <charconv>
#include <regex>
#include <utility>

#include "rule_templates.hpp"

namespace wsm::alerts {

std::string format_number(double value) {
  std::array<char, 32> buf{};
  const auto [end, ec] = std::to_chars(buf.data(), buf.data() + buf.size(), value);
  assert(ec == std::errc{});
  return std::string(buf.data(), end);
}

namespace {

// For descriptions: "1 GiB", "512 MiB", else the byte count.
[[nodiscard]] std::string format_bytes(std::uint64_t bytes) {
  constexpr std::uint64_t kMiB = 1024 * 1024, kGiB = kMiB * 1024;
  if (bytes % kGiB == 0) return std::to_string(bytes / kGiB) + " GiB";
  if (bytes % kMiB == 0) return std::to_string(bytes / kMiB) + " MiB";
  return std::to_string(bytes) + " bytes";
}

// A fraction as a percentage for people: 0.05 -> "5", without 5.000000000000001 noise.
[[nodiscard]] std::string format_percent(double fraction) {
  std::array<char, 32> buf{};
  const auto [end, ec] = std::to_chars(buf.data(), buf.data() + buf.size(), fraction * 100,
                                       std::chars_format::general, 6);
  assert(ec == std::errc{});
  return std::string(buf.data(), end);
}

void replace_all(std::string& text, std::string_view mark, std::string_view value) {
  for (std::size_t at = text.find(mark); at != std::string::npos; at = text.find(mark, at + value.size())) {
    text.replace(at, mark.size(), value);
  }
}

// `for:` appears only on alerting rules, always as an indented line of its own.
void replace_for(std::string& text, std::string_view duration) {
  constexpr std::string_view kKey = "for: ";
  for (std::size_t line = 0; line < text.size();) {
    const std::size_t end = std::min(text.find('\n', line), text.size());
    const std::size_t key = text.find_first_not_of(' ', line);
    if (key < end && text.compare(key, kKey.size(), kKey) == 0) {
      text.replace(key + kKey.size(), end - key - kKey.size(), duration);
    }
    line = text.find('\n', line);
    line = line == std::string::npos ? text.size() : line + 1;
  }
}

}  // namespace

bool is_prometheus_duration(std::string_view text) {
  static const std::regex kDuration(R"((?:\d+y)?(?:\d+w)?(?:\d+d)?(?:\d+h)?(?:\d+m)?(?:\d+s)?(?:\d+ms)?)");
  return !text.empty() && std::regex_match(text.begin(), text.end(), kDuration);
}

std::string render_alert_rules(const ws::Thresholds& t, std::string_view runbook_base,
                               std::string_view for_override) {
  const std::array<std::pair<std::string_view, std::string>, 11> values{{
      {"@LATENCY_SECONDS@", format_number(t.latency_seconds)},
      {"@CPU_PERCENT@", format_number(t.cpu_percent)},
      {"@MEMORY_BYTES@", std::to_string(t.memory_bytes)},
      {"@MEMORY_TEXT@", format_bytes(t.memory_bytes)},
      {"@FAILURE_RATIO@", format_number(t.failure_ratio)},
      {"@FAILURE_PERCENT@", format_percent(t.failure_ratio)},
      {"@HEALTH_SCORE@", format_number(t.health_score)},
      {"@COMPRESSION_PERCENT@", format_number(t.compression_ratio_percent)},
      {"@DISCONNECTIONS_PER_SECOND@", format_number(t.disconnections_per_second)},
      {"@BUFFER_PERCENT@", format_number(t.buffer_utilization_percent)},
      {"@RUNBOOK@", std::string(runbook_base)},
  }};
  std::string text(kRuleTemplate);
  for (const auto& [mark, value] : values) replace_all(text, mark, value);
  if (!for_override.empty()) replace_for(text, for_override);
  return text;
}

}  // namespace wsm::alerts

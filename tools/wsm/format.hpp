// Numbers for people: sizes, durations, rates, percentages, times, and fitting text to columns.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "wsm/shm/layout.hpp"

namespace wsm::cli {

[[nodiscard]] std::string human_bytes(double bytes);          // "512B", "4.0KiB", "27.1MiB"
[[nodiscard]] std::string human_duration_ns(double ns);       // "850ns", "152us", "1.52ms", "2.10s"
[[nodiscard]] std::string human_count(double v);              // "950", "12.3k", "4.56M"
// A value in a family's integer unit (ns for seconds, bytes, percent): "152us", "4.0KiB", "95".
[[nodiscard]] std::string human_value(shm::Unit unit, double integer_units);
[[nodiscard]] std::string percent(std::uint64_t used, std::uint64_t capacity);  // "81.3%"
[[nodiscard]] double percent_of(std::uint64_t used, std::uint64_t capacity) noexcept;
[[nodiscard]] std::string local_time(std::uint64_t unix_ns);  // "2024-05-01 14:03:22"
[[nodiscard]] std::string hex64(std::uint64_t v);             // 16 hex digits

// `text` cut to `width` columns (with a trailing '~' when cut), or padded with spaces to it.
[[nodiscard]] std::string fit(std::string_view text, std::size_t width);
[[nodiscard]] std::string right(std::string_view text, std::size_t width);

}  // namespace wsm::cli

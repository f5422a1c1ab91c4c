#include "format.hpp"

#include <cstdio>
#include <ctime>

namespace wsm::cli {

namespace {

std::string printf_string(const char* format, double v, const char* suffix) {
  char buf[64];
  std::snprintf(buf, sizeof buf, format, v, suffix);
  return buf;
}

// Scales v by `step` until it is below it: "%.<n>f<suffix>" with 3 significant digits.
std::string scaled(double v, double step, const char* const* suffixes, int count) {
  int i = 0;
  while (i + 1 < count && (v >= step || v <= -step)) {
    v /= step;
    ++i;
  }
  if (i == 0) return printf_string("%.0f%s", v, suffixes[0]);
  const double a = v < 0 ? -v : v;
  return printf_string(a >= 100 ? "%.0f%s" : a >= 10 ? "%.1f%s" : "%.2f%s", v, suffixes[i]);
}

}  // namespace

std::string human_bytes(double bytes) {
  static const char* const units[] = {"B", "KiB", "MiB", "GiB", "TiB"};
  return scaled(bytes, 1024, units, 5);
}

std::string human_duration_ns(double ns) {
  static const char* const units[] = {"ns", "us", "ms", "s"};
  return scaled(ns, 1000, units, 4);
}

std::string human_count(double v) {
  if (v < 1000 && v > -1000 && v != static_cast<double>(static_cast<long long>(v))) {
    return printf_string(v < 10 && v > -10 ? "%.2f%s" : "%.1f%s", v, "");
  }
  static const char* const units[] = {"", "k", "M", "G", "T"};
  return scaled(v, 1000, units, 5);
}

std::string human_value(shm::Unit unit, double integer_units) {
  switch (unit) {
    case shm::Unit::seconds: return human_duration_ns(integer_units);
    case shm::Unit::bytes: return human_bytes(integer_units);
    case shm::Unit::percent:
    case shm::Unit::none: break;
  }
  return human_count(integer_units);
}

double percent_of(std::uint64_t used, std::uint64_t capacity) noexcept {
  return capacity == 0 ? 0 : 100.0 * static_cast<double>(used) / static_cast<double>(capacity);
}

std::string percent(std::uint64_t used, std::uint64_t capacity) {
  return printf_string("%.1f%s", percent_of(used, capacity), "%");
}

std::string local_time(std::uint64_t unix_ns) {
  const std::time_t t = static_cast<std::time_t>(unix_ns / 1'000'000'000u);
  std::tm tm{};
  ::localtime_r(&t, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%d %H:%M:%S", &tm);
  return buf;
}

std::string hex64(std::uint64_t v) {
  char buf[17];
  std::snprintf(buf, sizeof buf, "%016llx", static_cast<unsigned long long>(v));
  return buf;
}

std::string fit(std::string_view text, std::size_t width) {
  if (text.size() > width) {
    if (width == 0) return {};
    return std::string(text.substr(0, width - 1)) + "~";
  }
  return std::string(text) + std::string(width - text.size(), ' ');
}

std::string right(std::string_view text, std::size_t width) {
  if (text.size() >= width) return std::string(text);  // a number is never cut: it would lie
  return std::string(width - text.size(), ' ') + std::string(text);
}

}  // namespace wsm::cli

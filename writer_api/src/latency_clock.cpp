// LatencyClock's choice of source and its measurement of the TSC's rate (latency_clock.hpp).
#include "wsm/latency_clock.hpp"

#include <time.h>

#include <cstdio>
#include <cstdlib>
#include <string>

#include "wsm/shm/proc_stats.hpp"
#include "wsm/shm/segment.hpp"

namespace wsm::detail {

constinit std::atomic<std::uint64_t> tsc_scale{0};

LatencySourceChoice choose_latency_source(bool has_tsc, std::string_view kernel_clocksource,
                                          const char* setting) noexcept {
  const std::string_view asked = setting == nullptr ? "auto" : setting;
  if (asked == "clock_gettime") return {LatencySource::clock_gettime, {}};
  const std::string_view warning = asked == "auto" || asked.empty()
                                       ? std::string_view{}
                                       : "WSM_LATENCY_CLOCK is neither auto nor clock_gettime; using auto";
  // The kernel keeps time with the TSC only once it has found it invariant and in step across CPUs.
  const bool tsc = has_tsc && kernel_clocksource == "tsc";
  return {tsc ? LatencySource::tsc : LatencySource::clock_gettime, warning};
}

namespace {

constexpr const char* kClocksourcePath = "/sys/devices/system/clocksource/clocksource0/current_clocksource";

// The kernel's clocksource ("tsc", "kvm-clock", "hpet", ...), empty where /sys cannot be read.
std::string kernel_clocksource() {
  std::string name = shm::read_small_file(kClocksourcePath).value_or(std::string{});
  while (!name.empty() && (name.back() == '\n' || name.back() == ' ')) name.pop_back();
  return name;
}

// A TSC reading and CLOCK_MONOTONIC at the same moment: the read between two TSC readings, the
// closest bracket of a few (a preemption inside one only widens that one).
struct ClockPair {
  std::uint64_t ticks, ns;
};
ClockPair clock_pair() noexcept {
  ClockPair best{0, 0};
  std::uint64_t best_window = ~std::uint64_t{0};
  for (int i = 0; i < 5; ++i) {
    const std::uint64_t before = tsc_ticks();
    const std::uint64_t ns = shm::monotonic_ns();
    const std::uint64_t after = tsc_ticks();
    if (after - before < best_window) {
      best_window = after - before;
      best = {before + (after - before) / 2, ns};
    }
  }
  return best;
}

// Nanoseconds per tick (32.32) over a millisecond of CLOCK_MONOTONIC; 0 if the rate is not one of
// a TSC (100 MHz .. 20 GHz), which leaves the clock on clock_gettime.
std::uint64_t measure_tsc_scale() noexcept {
  const ClockPair a = clock_pair();
  const timespec pause{0, 1'000'000};
  ::nanosleep(&pause, nullptr);
  const ClockPair b = clock_pair();
  if (b.ticks <= a.ticks || b.ns <= a.ns) return 0;
  const double ns_per_tick = static_cast<double>(b.ns - a.ns) / static_cast<double>(b.ticks - a.ticks);
  if (ns_per_tick < 0.05 || ns_per_tick > 10.0) return 0;
  return static_cast<std::uint64_t>(ns_per_tick * 4294967296.0);
}

// Chooses the source once per process (a fork's child keeps its parent's choice: the TSC and its
// rate are the machine's); the TSC's scale is published before the first TSC time point.
bool uses_tsc() noexcept {
  static const bool tsc = [] {
    std::string clocksource;
    try {
      clocksource = kernel_clocksource();
    } catch (...) {  // allocation failure: the clock the kernel itself offers
    }
    const LatencySourceChoice choice = choose_latency_source(kHasTsc, clocksource, std::getenv("WSM_LATENCY_CLOCK"));
    if (!choice.warning.empty()) {
      std::fprintf(stderr, "wsmetrics: %.*s\n", static_cast<int>(choice.warning.size()), choice.warning.data());
    }
    if (choice.source != LatencySource::tsc) return false;
    const std::uint64_t scale = measure_tsc_scale();
    tsc_scale.store(scale, std::memory_order_relaxed);
    return scale != 0;
  }();
  return tsc;
}

}  // namespace

std::int64_t latency_now_slow() noexcept {
  if (uses_tsc()) return tsc_to_ns(tsc_ticks(), tsc_scale.load(std::memory_order_relaxed));
  return static_cast<std::int64_t>(shm::monotonic_ns());
}

}  // namespace wsm::detail

namespace wsm {

std::string_view LatencyClock::source() noexcept { return detail::uses_tsc() ? "tsc" : "clock_gettime"; }

}  // namespace wsm

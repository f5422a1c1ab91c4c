// wsm::LatencyClock: the clock to time latency stages with, on a server's per-message path.
//
//   const auto start = wsm::LatencyClock::now();
//   handle(message);
//   latency.record(wsm::LatencyClock::now() - start);   // a std::chrono::nanoseconds
//
// A steady nanosecond clock, cheaper than std::chrono::steady_clock where it can be: on x86-64,
// when the kernel itself keeps time with the TSC (its clocksource is "tsc", so it has found the
// counter invariant and in step across CPUs), now() is one rdtsc and one multiply: ~8 instructions
// against ~20 for clock_gettime through the vDSO (callgrind). Elsewhere, or with
// WSM_LATENCY_CLOCK=clock_gettime in the environment, it is clock_gettime(CLOCK_MONOTONIC).
//
// The TSC's rate is measured against CLOCK_MONOTONIC by the process's first now() (about 1 ms,
// once; call now() at start-up to take that off the first message). The measurement is good to
// ~1e-4, far inside a histogram bucket (12.5% wide), but the clock drifts from CLOCK_MONOTONIC by
// that much: its time points are for differences within one process, and its own type keeps them
// from being compared with another clock's.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <string_view>

#if defined(__x86_64__)
#include <x86intrin.h>
#endif

namespace wsm {

struct LatencyClock {
  using rep = std::int64_t;
  using period = std::nano;
  using duration = std::chrono::nanoseconds;
  using time_point = std::chrono::time_point<LatencyClock>;
  static constexpr bool is_steady = true;

  // Inline always: a call costs as much as the TSC read, and spills the caller's registers.
  [[nodiscard, gnu::always_inline]] static time_point now() noexcept;
  // What now() reads: "tsc" or "clock_gettime" (measures the TSC first if no now() has yet).
  [[nodiscard]] static std::string_view source() noexcept;
};

namespace detail {

// Nanoseconds per TSC tick in 32.32 fixed point: 0 until the first now() has chosen the source,
// and for good when it chose clock_gettime. Written once, by the magic static that chooses the
// source (latency_clock.cpp), before that choice is returned; a thread that reads 0 takes the slow
// path and waits there, so every time point of a process comes from one source. Relaxed loads
// suffice: the word is the only thing read.
extern constinit std::atomic<std::uint64_t> tsc_scale;
// The first now() of the process (it chooses the source) and every now() on clock_gettime.
[[nodiscard]] std::int64_t latency_now_slow() noexcept;

#if defined(__x86_64__)
inline constexpr bool kHasTsc = true;
[[nodiscard, gnu::always_inline]] inline std::uint64_t tsc_ticks() noexcept { return __rdtsc(); }
#else
inline constexpr bool kHasTsc = false;
[[nodiscard]] inline std::uint64_t tsc_ticks() noexcept { return 0; }  // never read: kHasTsc
#endif
[[nodiscard, gnu::always_inline]] inline std::int64_t tsc_to_ns(std::uint64_t ticks, std::uint64_t scale) noexcept {
  return static_cast<std::int64_t>((static_cast<unsigned __int128>(ticks) * scale) >> 32);
}

// Which clock LatencyClock reads, from what the machine offers and the setting: one decision, here.
enum class LatencySource : std::uint8_t { clock_gettime, tsc };
struct LatencySourceChoice {
  LatencySource source;
  std::string_view warning;  // for stderr, when the setting is not one we know; else empty
};
// `setting` is WSM_LATENCY_CLOCK (null when unset): "auto" (the default) or "clock_gettime".
// `kernel_clocksource`: /sys/devices/system/clocksource/clocksource0/current_clocksource, trimmed.
[[nodiscard]] LatencySourceChoice choose_latency_source(bool has_tsc, std::string_view kernel_clocksource,
                                                        const char* setting) noexcept;

}  // namespace detail

inline LatencyClock::time_point LatencyClock::now() noexcept {
  if constexpr (detail::kHasTsc) {
    if (const std::uint64_t scale = detail::tsc_scale.load(std::memory_order_relaxed); scale != 0) [[likely]] {
      return time_point(duration(detail::tsc_to_ns(detail::tsc_ticks(), scale)));
    }
  }
  return time_point(duration(detail::latency_now_slow()));
}

}  // namespace wsm

// Segment limits for bench/scrape.cpp's shape (90% counters, 9% gauges, 1% histograms) at `series`
// series x `writers` writers, each writer recording every series. Shared by bench/scrape.cpp and
// bench/python_segment.cpp, so the C++ and the Python scrape benchmarks size their segments alike:
// the defaults (16384 series, 256 KiB arenas) hold neither 100k series nor a writer of all of them.
#pragma once

#include <cstddef>
#include <cstdint>

#include "wsm/shm/limits.hpp"

namespace wsm::bench {

inline shm::Limits scrape_limits(std::size_t series, int writers) {
  const std::size_t hist = series / 100, gauges = series * 9 / 100, counters = series - hist - gauges;
  shm::Limits limits;
  limits.max_writers = static_cast<std::uint32_t>(2 * writers);
  limits.max_series = static_cast<std::uint32_t>(series + series / 4 + 1024);
  limits.series_cap_per_family = limits.max_series;
  limits.string_bytes = 64 * series + (1 << 20);
  // Per thread: a 16-byte cell per counter, 8 + 346 * 8 bytes per histogram; 30% slack.
  limits.arena_bytes = ((counters * 16 + hist * 2776) * 13 / 10 / 64 + 1) * 64 + (1 << 16);
  return limits;
}

}  // namespace wsm::bench

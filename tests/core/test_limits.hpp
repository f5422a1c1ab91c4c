// Segment limits for tests: a segment of a few hundred KiB instead of the 27 MiB default, which
// every test then narrows to what it is about (one writer slot, a full catalog, ...).
#pragma once

#include "wsm/shm/limits.hpp"

namespace wsm::test {

[[nodiscard]] inline shm::Limits small_limits() {
  shm::Limits l;
  l.max_writers = 8;
  l.max_families = 16;
  l.max_series = 64;
  l.series_cap_per_family = 64;
  l.arena_bytes = 8192;
  l.string_bytes = 16384;
  l.retired_bytes = 8192;
  return l;
}

}  // namespace wsm::test

// Everything a reader, a reaper and a writer do to a segment, run on one that may be corrupt:
// the fuzz targets call it, so none of it may crash, hang or read outside the segment.
#pragma once

#include "wsm/shm/segment.hpp"

namespace wsm::fuzz {

void exercise(const shm::Segment& segment);

// Tiny limits (a ~17 KiB segment) so fuzzed inputs cover every region.
[[nodiscard]] shm::Limits tiny_limits();

}  // namespace wsm::fuzz

// The exporter's own metrics (wsm_ prefix): segment usage and drops from the header, writers by
// state, scrape and snapshot durations, build info. The drop and reap counters live in the
// segment header, so they never decrease across exporter restarts either.
#pragma once

#include <vector>

#include "wsm/exposition/format.hpp"
#include "wsm/shm/segment.hpp"
#include "wsm/shm/snapshot.hpp"

namespace wsm::exporter {

struct SelfFigures {
  const shm::Segment* segment = nullptr;    // nullptr: not attached
  const shm::Snapshot* snapshot = nullptr;  // this scrape's
  double last_scrape_seconds = 0;
  double last_snapshot_seconds = 0;  // the interval's snapshot + aggregation
};

void append_self_metrics(const SelfFigures& figures, std::vector<exposition::ComputedFamily>& out);

}  // namespace wsm::exporter

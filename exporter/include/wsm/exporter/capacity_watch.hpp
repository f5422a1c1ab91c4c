// Warnings for the exporter's log when a family nears its series cap or a region of the segment
// nears full: one line when a cap reaches 80% (shm::kNearFullPercent), one more when it is reached,
// and nothing on the intervals in between, so a log read days later still shows the two moments.
// A level that falls well back (below 70%, e.g. dead writers' slots freed) is forgotten, so a
// later rise is reported again; the 10-point gap keeps a value that wobbles around 80% quiet.
#pragma once

#include <map>
#include <string>
#include <vector>

#include "wsm/shm/capacity.hpp"

namespace wsm::exporter {

class CapacityWatch {
 public:
  // The lines to log for this interval's fill (empty on most intervals).
  [[nodiscard]] std::vector<std::string> update(const shm::SegmentFill& fill);
  // Another segment (or generation): forget what was reported.
  void reset() { reported_.clear(); }

 private:
  enum Level { below = 0, near_full = 1, full = 2 };
  std::map<std::string, Level> reported_;  // "family NAME" / "segment REGION" -> level logged
};

}  // namespace wsm::exporter

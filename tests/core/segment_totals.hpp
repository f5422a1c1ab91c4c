// The aggregated view of a segment as the tests read it: Tally (or Snapshot::take + Aggregation::of), keyed
// by `name{canonical labels}` so a test names a series the way it registered it.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <string_view>
#include <sys/types.h>
#include <vector>

#include "wsm/shm/aggregation.hpp"
#include <chrono>
#include "wsm/shm/labels.hpp"
#include "wsm/shm/segment.hpp"

namespace wsm::test {

struct SeriesTotal {
  shm::MetricType type = shm::MetricType::counter;
  shm::Unit unit = shm::Unit::none;
  std::uint8_t max_octave = 0;
  std::uint64_t counter = 0;
  double gauge = 0;
  std::uint64_t sum = 0;    // histograms: integer units (ns, bytes)
  std::uint64_t count = 0;
  std::vector<std::uint64_t> buckets;  // histograms: non-cumulative count per HDR bucket
  bool recorded = false;
  friend bool operator==(const SeriesTotal&, const SeriesTotal&) = default;
};
using Totals = std::map<std::string, SeriesTotal>;

// `name{k="v",...}` with the catalog's canonical labels; per_writer gauges add `@<pid>`.
[[nodiscard]] std::string series_key(std::string_view name, std::span<const Label> labels, pid_t worker = -1);
[[nodiscard]] inline std::string series_key(std::string_view name, Labels labels = {}, pid_t worker = -1) {
  return series_key(name, std::span<const Label>(labels.begin(), labels.size()), worker);
}

// Which reader sums the segment: the exporter's scrape path (Tally, straight from the mapping) or
// a Snapshot copy + Aggregation::of (`wsm dump`, the API).
enum class Reader { tally, snapshot };

[[nodiscard]] Result<Totals> totals_of(const shm::Segment& segment,
                                       std::chrono::milliseconds wait = std::chrono::seconds(5),
                                       Reader reader = Reader::tally, unsigned threads = 1);
// Opens the segment read-only, as the exporter and `wsm dump` do.
[[nodiscard]] Result<Totals> totals_of(const std::string& segment_name);

// A counter's cells summed per writer process (live writers and dead ones not yet reaped;
// retired cells under pid 0).
[[nodiscard]] Result<std::map<pid_t, std::uint64_t>> counter_by_pid(const shm::Segment& segment,
                                                                   const std::string& key);

}  // namespace wsm::test

// Which catalog entries are exposed as one series. A family name and a canonical label set name
// exactly one series in /metrics: Prometheus rejects a whole scrape that has a sample twice.
//
// Two READY entries can carry the same key: a damaged catalog, and also, by design, a registrant
// that finds another process's half-finished (BUSY) entry and registers beside it rather than
// wait. Their counts are all real, so they are merged, never dropped: counters and histogram
// buckets add up, gauges combine by the family's mode (Aggregation::of does the adding, this says
// what goes with what). Families of one name: the one a registrant of the name finds first (the
// nearest to the name's home entry in the catalog's probe order) is the one exposed; another of
// the same type and bucket scheme is merged into it, one of another type or scheme is left out
// (its series are not exposed) and named in `left_out`.
#pragma once

#include <cstdint>
#include <limits>
#include <string>
#include <string_view>
#include <vector>

#include "wsm/shm/catalog_view.hpp"

namespace wsm::shm {

struct SeriesMerge {
  static constexpr std::uint32_t kLeftOut = std::numeric_limits<std::uint32_t>::max();

  // By family id: the family its series are exposed under, or kLeftOut.
  std::vector<std::uint32_t> family_into;
  // By series id: the position in `order` of the series whose point its cells add to (the first
  // entry of its key in exposition order; itself when the key is unique), or kLeftOut. Positions,
  // not ids: a reader's accumulators are then dense and in exposition order, so one that writes
  // the points out a part at a time can give back their pages behind it (Tally::next_part).
  std::vector<std::uint32_t> series_into;
  // The series that are exposed, one per key, in exposition order (family name, labels).
  std::vector<std::uint32_t> order;
  // For order[i], at index i: whether it is its family's overflow series. The labels are the
  // catalog view's (SeriesInfo::labels): a copy in exposition order here saved the serialiser a
  // cache miss per series but cost ~3 MB at 100k series beside the view's own (the serialiser
  // prefetches them instead, format.cpp).
  std::vector<bool> order_overflow;

  std::uint32_t merged = 0;           // entries added into another entry of the same key
  std::vector<std::string> left_out;  // families not exposed, and why
};

[[nodiscard]] SeriesMerge merge_series(const CatalogView& catalog);

}  // namespace wsm::shm

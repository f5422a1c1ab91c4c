// Sums a Snapshot by series, the one aggregation the exporter, `wsm dump` and the tests share.
//
//  - counters and histograms: every cell of every writer (live, dead-not-yet-reaped) plus the
//    retired arena, so a writer's counts survive its death and its reaping alike;
//  - gauges: only the process gauge cells of live processes, combined per the family's mode
//    (sum, max, min, last = latest set, per_writer = one point per pid with a `worker` label);
//  - one point per family name + labels, however many catalog entries carry them
//    (series_merge.hpp): no sample is ever exposed twice;
//  - exemplars: per counter or histogram point, the most recent one of any live or dead-not-yet-
//    reaped writer (exemplars are never folded).
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "wsm/shm/catalog_view.hpp"
#include "wsm/shm/scratch.hpp"
#include "wsm/shm/snapshot.hpp"

namespace wsm::shm {

struct Point {
  const FamilyInfo* family = nullptr;
  const SeriesInfo* series = nullptr;
  std::string_view labels;   // series->labels (the catalog view's text), or a rewrite's (id_labels.hpp)
  std::uint64_t counter = 0;
  double gauge = 0;
  std::uint64_t sum = 0;    // histograms: in integer units (ns, bytes, percent)
  std::uint64_t count = 0;  // histograms: the sum of the buckets, so it equals +Inf
  // per_writer gauges: the writer's pid (a pid_t), -1 otherwise. 32 bits and beside the other
  // small fields: a Point is 80 bytes, not 88, and a scrape of 100k series keeps 100k of them.
  std::int32_t worker = -1;
  std::uint32_t buckets_at = 0;  // histograms: family->bucket_count counts in Aggregation::buckets
  bool recorded = false;    // some cell holds this series
  // Counters and histograms: the most recent exemplar across writers, an index into
  // Aggregation::exemplars, or kNoExemplar.
  std::uint32_t exemplar = kNoExemplar;
  static constexpr std::uint32_t kNoExemplar = ~std::uint32_t{0};
};
static_assert(sizeof(Point) <= 80, "a Point is kept per exposed series: keep it small");

struct AggregationView;

class Aggregation {
 public:
  [[nodiscard]] static Aggregation of(const CatalogView& catalog, const Snapshot& snapshot);

  // Exposition order: family name, labels, worker. Overflow series appear only once recorded.
  // Scratch memory (scratch.hpp): rebuilt by every read, so a reader may give its pages back.
  ScratchVector<Point> points;
  // Non-cumulative bucket counts of the histogram points, at their buckets_at (from a Tally or
  // Aggregation::of, the accumulators lent whole: other words lie between and before them).
  ScratchVector<std::uint64_t> buckets;
  std::vector<ExemplarData> exemplars;  // those of the points that have one (sparse)
  // Catalog entries of one family name + labels are one point (series_merge.hpp): how many were
  // added into another, and the families left out for clashing with another of their name.
  std::uint32_t merged_entries = 0;
  std::vector<std::string> left_out;

  // Empties it and gives back the pages of its points and buckets (scratch.hpp): what a reader
  // does between reads, since every read builds its aggregation anew.
  void release_pages() noexcept {
    points.clear();
    buckets.clear();
    exemplars.clear();
    shm::release_pages(points);
    shm::release_pages(buckets);
  }

  [[nodiscard]] std::span<const std::uint64_t> buckets_of(const Point& p) const;
  [[nodiscard]] AggregationView view() const noexcept;
};

// What a reader of the points needs, without the Aggregation that holds them: the views stay
// readable while that Aggregation is refilled, as long as its holder keeps the memory (Tally keeps
// the part handed out before the last one, so a scrape writes one part while it emits the next).
struct AggregationView {
  std::span<const Point> points;
  std::span<const std::uint64_t> buckets;
  std::span<const ExemplarData> exemplars;

  [[nodiscard]] std::span<const std::uint64_t> buckets_of(const Point& p) const {
    return {buckets.data() + p.buckets_at, p.family->bucket_count};
  }
};

inline AggregationView Aggregation::view() const noexcept { return {points, buckets, exemplars}; }
inline std::span<const std::uint64_t> Aggregation::buckets_of(const Point& p) const { return view().buckets_of(p); }

// Value of a histogram sum or bucket edge in the family's base unit (seconds for ns).
[[nodiscard]] double to_base_unit(Unit unit, std::uint64_t integer_value) noexcept;

}  // namespace wsm::shm

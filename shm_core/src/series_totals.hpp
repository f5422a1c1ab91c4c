// The running totals of every exposed series while cells are read, one dense accumulator per
// series, and the Aggregation they become. Shared by Aggregation::of (cells of a Snapshot) and
// Tally (cells read straight from the mapping), so both sum, combine gauges and lay out points
// the same way.
//
// Laid out once per catalog state (lay_out): a series' counter value or histogram sum is one u64
// in a dense array indexed by its position in exposition order (its accumulator), every exposed
// histogram has its bucket range reserved after them, every gauge its slot; a pass then zeroes
// them (clear) and adds into them without allocating.
// Holds ids only, so it stays valid for every view of the same catalog state.
#pragma once

#include <cstdint>
#include <map>
#include <sys/types.h>
#include <unordered_map>
#include <vector>

#include "wsm/shm/aggregation.hpp"
#include "wsm/shm/catalog_view.hpp"
#include "wsm/shm/exemplar_cell.hpp"
#include "wsm/shm/series_merge.hpp"

namespace wsm::shm {

class SeriesTotals {
 public:
  // Sizes the accumulators for `merge` (the catalog's current state).
  void lay_out(const CatalogView& catalog, const SeriesMerge& merge);
  // Sizes counter and histogram accumulators only, sharing `full`'s lay-out (which bucket range
  // is whose) instead of a copy of it: Tally's helper thread, which never meets a gauge and whose
  // totals only ever go into `full` (add_counts_of). `full` must stay laid out as it is while this
  // is used. Saves the per-series lay-out array and the gauge slots.
  void lay_out_counts_like(const SeriesTotals& full);
  // Zero for a new pass.
  void clear();
  // Gives back the pages of the counter and histogram accumulators (scratch.hpp) until the next
  // clear(), which must come before the next add and which then need not zero them again. The
  // lay-out stays.
  void release_pages() noexcept;

  // The accumulator a cell of series `id` adds to, or SeriesMerge::kLeftOut.
  [[nodiscard]] std::uint32_t target_of(std::uint32_t id) const noexcept {
    return id < into_->size() ? (*into_)[id] : SeriesMerge::kLeftOut;
  }
  // Where target_of(id) looks, for a prefetch (an unknown id gives the first entry).
  [[nodiscard]] const void* target_address(std::uint32_t id) const noexcept {
    return into_->data() + (id < into_->size() ? id : 0);
  }
  // Where the accumulator of `target` lives, for a prefetch.
  [[nodiscard]] const void* address_of(std::uint32_t target) const noexcept { return &counts_[target]; }

  // A counter cell's value.
  void add_counter(std::uint32_t target, std::uint64_t value) noexcept {
    counts_[target] += value;
    recorded_[target] = 1;
  }
  // A histogram cell: word(k) is payload word k (0: sum, 1..n: buckets), read as the caller must.
  template <class WordAt>
  void add_histogram(std::uint32_t target, std::uint32_t bucket_count, WordAt word) noexcept {
    counts_[target] += word(0);
    std::uint64_t* b = counts_.data() + slot_of_[target];
    for (std::uint32_t k = 0; k < bucket_count; ++k) b[k] += word(k + 1);
    recorded_[target] = 1;
  }
  // An exemplar read whole from an exemplar cell: the series keeps the most recent of them.
  void add_exemplar(std::uint32_t target, const ExemplarData& e);
  // A live process's gauge cell (value bits, set stamp), combined by its exposed family's mode.
  void add_gauge(std::uint32_t target, std::uint64_t value_bits, std::uint64_t stamp, pid_t pid);
  // Takes back payload word k of a counter or histogram cell already added (a fold's move seen
  // half done: Tally's repair).
  void subtract_word(std::uint32_t target, std::uint32_t k, std::uint64_t value) noexcept;
  // Adds another pass's counter and histogram totals and exemplars (same lay-out; its gauges must
  // be empty).
  void add_counts_of(const SeriesTotals& other);

  // The points in exposition order; families for which `copied` is false are left out (the caller
  // reserves out.points for what it expects). The
  // counts (bucket totals and values) move into out.buckets (no copy): reclaim() takes them back
  // before the next clear().
  template <class Copied>
  void emit(const CatalogView& catalog, Copied copied, Aggregation& out);
  // The same a part at a time, so that a reader never holds every point at once: lend() moves the
  // counts into `out` once, then each emit_part() replaces out's points (and exemplars)
  // with those of whole exposed families from order position `from` on, at least `points` of them
  // unless the families run out, and returns where the next part starts (the end: order_size()).
  void lend(Aggregation& out);
  template <class Copied>
  std::size_t emit_part(const CatalogView& catalog, Copied copied, std::size_t from, std::size_t points,
                        Aggregation& out) const;
  // Exposed series, one accumulator each: also the counts' leading words, the series' values (by
  // accumulator), which the bucket totals follow.
  [[nodiscard]] std::size_t order_size() const noexcept { return merge_->order.size(); }
  void reclaim(Aggregation& out) noexcept {
    if (counts_.empty()) counts_.swap(out.buckets);
  }

 private:
  struct GaugeTotal {
    GaugeMode mode = GaugeMode::sum;  // the exposed family's
    double value = 0;
    double sum = 0;  // mode last falls back to the sum when nobody ever set it
    std::uint64_t last_stamp = 0;
    bool recorded = false;
  };
  // The point of order[position], `series`, exposed under `family`.
  void emit_point(const FamilyInfo& family, const SeriesInfo& series, std::size_t position, Aggregation& out) const;

  const SeriesMerge* merge_ = nullptr;
  const std::vector<std::uint32_t>* into_ = nullptr;
  // The accumulators: scratch memory (scratch.hpp), zeroed by clear() before every pass.
  // By accumulator (a position in exposition order, SeriesMerge::series_into): its counter value
  // or histogram sum (the first merge_->order.size() words), then the bucket totals of every
  // histogram, also in exposition order. One array, lent whole to the Aggregation as its buckets (a
  // point's buckets_at is then simply its slot): in huge pages (scratch.hpp) the values (~1 MB at
  // 100k series) and buckets (~2.8 MB) took a 2 MiB and a 4 MiB mapping, together 4 MiB, and a
  // read holds two sets of them (tally.hpp).
  ScratchVector<std::uint64_t> counts_;
  ScratchVector<std::uint8_t> recorded_;   // by accumulator
  // By accumulator: a histogram's first bucket in counts_, a gauge's index in gauges_ (a series is
  // one or the other: one array, not two of ~0.5 MB each at 100k series).
  std::vector<std::uint32_t> slot_at_;
  const std::uint32_t* slot_of_ = nullptr;  // slot_at_'s data, or that of the full lay-out shared
  std::size_t count_words_ = 0;  // counts_'s size when laid out (emit() lends counts_ away)
  // Per accumulator array: its pages were dropped since it was last zeroed, so it reads as zero
  // and clear() skips its fill (a 100k-series scrape's ~4 MB of memset).
  bool counts_dropped_ = false, recorded_dropped_ = false;
  std::vector<GaugeTotal> gauges_;
  std::map<std::uint32_t, std::map<pid_t, double>> per_writer_;  // accumulator -> pid -> value
  // By accumulator, sparse: only series given an exemplar have one (most series never are).
  std::unordered_map<std::uint32_t, ExemplarData> exemplars_;

  // The family series `id` is exposed under: from the view's compact family array and the merge,
  // not an array of its own. Ids, not pointers: a lay-out stays valid for any view of the same
  // catalog state (same generation, same entries), also a re-read one.
  [[nodiscard]] std::uint32_t exposed_family(const CatalogView& catalog, std::uint32_t id) const noexcept {
    return merge_->family_into[catalog.family_of(id)];
  }
};

template <class Copied>
void SeriesTotals::emit(const CatalogView& catalog, Copied copied, Aggregation& out) {
  lend(out);
  emit_part(catalog, copied, 0, merge_->order.size(), out);
}

template <class Copied>
std::size_t SeriesTotals::emit_part(const CatalogView& catalog, Copied copied, std::size_t from,
                                    std::size_t points, Aggregation& out) const {
  out.points.clear();
  out.exemplars.clear();
  // Exposition order visits series ids at random: the catalog entry each point reads (its family
  // too, so no second array is visited at random) is prefetched a few ahead, by address (its
  // accumulators and overflow flag are in order); so is the label text of an entry prefetched
  // before, which the serialiser reads next (on another core, from the shared cache then: the
  // writing thread was the scrape's slower stage).
  constexpr std::size_t kAhead = 48, kTextAhead = 16;
  const auto& order = merge_->order;
  std::size_t i = from;
  std::uint32_t exposed_before = 0;
  for (; i < order.size(); ++i) {
    const SeriesInfo& series = catalog.known_series(order[i]);
    const std::uint32_t family = series.family_id;
    const std::uint32_t exposed = merge_->family_into[family];
    // A part ends between two exposed families only: the identifier-label policy merges series
    // within a family.
    if (i > from && out.points.size() >= points && exposed != exposed_before) break;
    exposed_before = exposed;
    if (i + kAhead < order.size()) {
      const auto* ahead = reinterpret_cast<const char*>(&catalog.known_series(order[i + kAhead]));
      __builtin_prefetch(ahead);
      __builtin_prefetch(ahead + sizeof(SeriesInfo) - 1);
    }
    if (i + kTextAhead < order.size()) __builtin_prefetch(catalog.known_series(order[i + kTextAhead]).labels.data());
    if (copied(family)) emit_point(*catalog.family(exposed), series, i, out);
  }
  return i;
}

}  // namespace wsm::shm

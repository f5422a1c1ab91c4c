// Sums a segment's cells by series straight from the mapping: the exporter's scrape path.
//
// The result is the Aggregation that Aggregation::of(catalog, Snapshot::take(...)) gives
// (tests/core/tally_test.cpp holds the two to it on random segments with folds and dead writers),
// without copying the cells: each writer's published cells are read once, under the fold bracket
// (every word acquire-loaded, the pass run again if a fold made progress meanwhile), and added
// into one dense accumulator per series that lives as long as the Tally. So a scrape costs one
// read of the cells and no allocation once the accumulators are laid out for the catalog.
//
// The guarantees are the snapshot's (snapshot.hpp): a fold is never counted twice or missed (the
// pass is repeated, and a move left half done by a stopped or dead reaper is repaired from the
// journal), counters never go back, a histogram's _count is the sum of its buckets, entries of one
// name and label set are merged (series_merge.hpp), every cell is checked against the catalog.
//
// The accumulators' pages (scratch.hpp) are given back as soon as their totals are in the points;
// release_pages() gives back the points' too, once the caller is done with them. A reader that
// goes through the points once (the exporter's scrape) takes them in parts instead
// (TallyOptions::part_points, next_part()): it then holds two parts' points (the one it emits and
// the one it writes out meanwhile), and the accumulators of the parts before them are given back
// as it goes (they are laid out in exposition order).
//
// With options.threads == 2 (and enough cells to read) the writer arenas are split between the calling thread and one
// helper thread of the Tally's own, each with accumulators of its own that are then added up:
// only reads of the mapping, so writers are never delayed. A Tally is used by one thread at a time.
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "wsm/shm/aggregation.hpp"
#include "wsm/shm/catalog_view.hpp"
#include "wsm/shm/error.hpp"
#include "wsm/shm/mapping_guard.hpp"
#include "wsm/shm/segment.hpp"
#include "wsm/shm/snapshot.hpp"

namespace wsm::shm {

struct TallyOptions {
  std::chrono::milliseconds wait{1000};  // for a fold under way to finish
  unsigned threads = 1;                  // 1 or 2: threads that read the writer arenas
  // With threads == 2, the published cell bytes from which the second thread is used: below it,
  // its start and its accumulators (memory, adding them up) cost more than it saves. 100k series
  // x 8 writers publish 28 MB, x 32 writers 112 MB.
  std::uint64_t split_bytes = 16ull << 20;
  // The helper thread's reads run under a MappingGuard of their own, which marks this damage.
  MappingDamage* damage = nullptr;
  // How take() refreshes the catalog (catalog_view.hpp). With when_counted a pass that meets a
  // cell of a series the catalog does not know is run again after a scan of every entry, so a
  // skipped scan never leaves a cell unread; a series with no cell yet may wait for the next
  // every_entry take.
  CatalogScan catalog_scan = CatalogScan::every_entry;
  // The families whose points take() emits, by name (empty: every family). The cells of every
  // family are read all the same; a reader that needs a few families (the exporter's interval
  // work) skips laying out the points of the rest.
  std::vector<std::string> only_families{};
  // 0: take() emits every point into aggregation(). Otherwise it emits none, and next_part() hands
  // them out a part at a time, whole families of at least this many points each, so that a reader
  // that goes through them once (a scrape's serialisation) never holds them all: 8 MB at 100k
  // series.
  std::size_t part_points = 0;
};

class Tally {
 public:
  Tally();
  ~Tally();
  Tally(Tally&&) noexcept;
  Tally& operator=(Tally&&) noexcept;

  // Refreshes `catalog` (options.catalog_scan) and sums every published cell. The result stays valid until the next
  // take(), or until `catalog` is refreshed or destroyed. Fails (Errc::timeout) only if a running
  // reaper made progress during every pass for options.wait.
  [[nodiscard]] Result<void> take(const Segment& segment, CatalogView& catalog, const TallyOptions& options = {});

  // Gives back the pages of what take() rebuilds: the accumulators and the aggregation's points
  // and buckets (scratch.hpp). aggregation() is empty until the next take(); the lay-out and
  // meta() stay.
  void release_pages() noexcept;

  // After a take() with options.part_points: aggregation() becomes the next part of the points
  // (exposition order; whole families, so the identifier-label policy may merge within one) with
  // all the bucket totals. False, and aggregation() without points, once every part was handed
  // out; release_pages() then gives back what is left. The part handed out before stays readable
  // through its view (Aggregation::view()) until the call after this one: a caller may write a
  // part out on another thread while this emits the next. The pages of the parts before it go.
  [[nodiscard]] bool next_part();

  [[nodiscard]] const Aggregation& aggregation() const noexcept;
  // The header figures, writer slots and problems of the last take(); it holds no cells
  // (copied() is false for every family).
  [[nodiscard]] const Snapshot& meta() const noexcept;

 private:
  struct State;
  std::unique_ptr<State> state_;
};

}  // namespace wsm::shm

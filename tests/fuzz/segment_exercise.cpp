#include "segment_exercise.hpp"

#include <bit>

#include "wsm/shm/aggregation.hpp"
#include "wsm/shm/catalog.hpp"
#include "wsm/shm/reaper.hpp"
#include "wsm/shm/tally.hpp"
#include "wsm/shm/writer_arena.hpp"

namespace wsm::fuzz {

shm::Limits tiny_limits() {
  shm::Limits l;
  l.max_writers = 2;
  l.max_families = 4;
  l.max_series = 8;
  l.series_cap_per_family = 8;
  l.arena_bytes = 4096;
  l.string_bytes = 4096;
  l.retired_bytes = 4096;
  l.max_connections = 2;
  return l;
}

namespace {

// Every count of an aggregation folded into one number, in point order.
double total_of(const shm::Aggregation& aggregation) {
  double total = 0;
  for (const shm::Point& p : aggregation.points) {
    total += static_cast<double>(p.counter) + p.gauge + static_cast<double>(p.count);
    if (p.family->type == shm::MetricType::histogram) {
      for (std::uint64_t b : aggregation.buckets_of(p)) total += static_cast<double>(b);
    }
  }
  return total;
}

bool same_bits(double a, double b) { return std::bit_cast<std::uint64_t>(a) == std::bit_cast<std::uint64_t>(b); }

}  // namespace

void exercise(const shm::Segment& segment) {
  shm::CatalogView catalog;
  shm::SnapshotOptions no_wait;
  no_wait.wait = std::chrono::milliseconds(0);
  if (auto snap = shm::Snapshot::take(segment, catalog, no_wait)) {
    const auto aggregation = shm::Aggregation::of(catalog, *snap);
    const double total = total_of(aggregation);
    // The scrape path's reader on the same bytes, with one thread and with two. Nothing writes
    // meanwhile, so with one thread and no fold move in flight (whose repair a damaged journal can
    // aim anywhere) it must sum exactly what the copy does. (With two, a gauge cell that damage put
    // in a thread's slot is added in another order: a sum of doubles may differ in its last bit.)
    for (unsigned threads : {1u, 2u}) {
      shm::Tally tally;
      shm::CatalogView own;
      if (!tally.take(segment, own, {std::chrono::milliseconds(0), threads, 0})) continue;
      if (threads == 1 && segment.header().journal_state.load(std::memory_order_relaxed) == 0 &&
          tally.aggregation().points.size() == aggregation.points.size() &&
          !same_bits(total_of(tally.aggregation()), total)) {
        __builtin_trap();  // the two readers disagree on a segment nobody writes
      }
    }
  }
  // No waiting for a reap lock: fail fast, as a timeout would.
  (void)shm::Reaper(segment, std::chrono::milliseconds(0)).reap();
  const shm::Catalog registry(segment);
  if (auto family = registry.family({"fuzz_events_total", shm::MetricType::counter, "help"})) {
    if (auto series = registry.series(*family, "k=\"v\"")) {
      if (auto arena = shm::WriterArena::claim(segment, 1, "fuzz")) {
        if (auto* cell = arena->append(*series, shm::MetricType::counter, shm::kCounterWords)) {
          cell->store(cell->load() + 1);
        }
        arena->detach();
      }
    }
  }
  shm::CatalogView again;
  (void)shm::Snapshot::take(segment, again, no_wait);
}

}  // namespace wsm::fuzz

#include "wsm/shm/aggregation.hpp"

#include "series_totals.hpp"
#include "wsm/shm/series_merge.hpp"

namespace wsm::shm {

double to_base_unit(Unit unit, std::uint64_t v) noexcept {
  return unit == Unit::seconds ? static_cast<double>(v) / 1e9 : static_cast<double>(v);
}

Aggregation Aggregation::of(const CatalogView& catalog, const Snapshot& snapshot) {
  Aggregation out;
  // Entries of one family name + labels add into one accumulator, that of the first of them.
  SeriesMerge merge = merge_series(catalog);
  SeriesTotals totals;
  totals.lay_out(catalog, merge);

  // Series ids of consecutive cells are scattered (catalog ids are hash positions), so the
  // accumulator of a cell a few cells ahead is prefetched: with 100k series the loop is otherwise
  // one cache miss per cell.
  constexpr std::size_t kAhead = 16;
  const auto& cells = snapshot.cells;
  for (std::size_t i = 0; i < cells.size(); ++i) {
    if (i + kAhead < cells.size()) {
      if (const std::uint32_t ahead = totals.target_of(cells[i + kAhead].series_id); ahead != SeriesMerge::kLeftOut) {
        __builtin_prefetch(totals.address_of(ahead), 1);
      }
    }
    const CellView& cell = cells[i];
    // The compact shape array, not the SeriesInfo: this loop runs once per cell of every writer.
    const std::uint32_t shape = catalog.cell_shape(cell.series_id);
    const std::uint32_t target = totals.target_of(cell.series_id);
    if (shape == 0 || target == SeriesMerge::kLeftOut) continue;
    const std::uint64_t* w = snapshot.words.data() + cell.first_word;
    switch (static_cast<MetricType>(shape >> 16)) {
      case MetricType::counter: totals.add_counter(target, w[0]); break;
      case MetricType::histogram:
        totals.add_histogram(target, (shape & 0xffff) - 1, [w](std::uint32_t k) { return w[k]; });
        break;
      case MetricType::gauge: {
        if (cell.writer == kRetiredWriter) break;
        const WriterInfo& writer = snapshot.writers[static_cast<std::size_t>(cell.writer)];
        // A dead process's levels are meaningless: dropped, never folded.
        if (writer.alive && writer.state == SlotState::active) totals.add_gauge(target, w[0], w[1], writer.pid);
        break;
      }
    }
  }
  for (const ExemplarView& e : snapshot.exemplars) {
    if (const std::uint32_t target = totals.target_of(e.series_id); target != SeriesMerge::kLeftOut) {
      totals.add_exemplar(target, e.data);
    }
  }
  out.points.reserve(merge.order.size());
  totals.emit(catalog, [&](std::uint32_t family) { return snapshot.copied(family); }, out);
  return out;
}

}  // namespace wsm::shm

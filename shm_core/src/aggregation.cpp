#include "wsm/shm/aggregation.hpp"

#include "wsm/shm/series_merge.hpp"

#include <algorithm>
#include <bit>
#include <limits>
#include <map>

namespace wsm::shm {

namespace {

// Running totals of one series while the cells are walked.
struct Accumulator {
  std::uint64_t counter = 0;
  std::uint64_t sum = 0;
  double gauge = 0;
  double gauge_sum = 0;          // mode last falls back to the sum when nobody ever set it
  std::uint64_t last_stamp = 0;
  std::uint32_t buckets_at = 0;  // +1; 0: no bucket range yet
  bool recorded = false;
};

void fold_gauge(Accumulator& a, GaugeMode mode, double value, std::uint64_t stamp) {
  switch (mode) {
    case GaugeMode::sum: a.gauge += value; break;
    case GaugeMode::max: a.gauge = a.recorded ? std::max(a.gauge, value) : value; break;
    case GaugeMode::min: a.gauge = a.recorded ? std::min(a.gauge, value) : value; break;
    case GaugeMode::last:
      a.gauge_sum += value;
      if (stamp >= a.last_stamp) {
        a.last_stamp = stamp;
        a.gauge = value;
      }
      break;
    case GaugeMode::per_writer: break;  // kept per pid by the caller
  }
  a.recorded = true;
}

}  // namespace

double to_base_unit(Unit unit, std::uint64_t v) noexcept {
  return unit == Unit::seconds ? static_cast<double>(v) / 1e9 : static_cast<double>(v);
}

Aggregation Aggregation::of(const CatalogView& catalog, const Snapshot& snapshot) {
  Aggregation out;
  // Entries of one family name + labels add into one accumulator, that of the first of them.
  const SeriesMerge merge = merge_series(catalog);
  out.left_out = merge.left_out;
  out.merged_entries = merge.merged;
  const auto& order = merge.order;
  const auto& into = merge.series_into;
  std::vector<Accumulator> acc(into.size());
  std::map<std::uint32_t, std::map<pid_t, double>> per_writer;  // series -> pid -> value

  // Series ids of consecutive cells are scattered (catalog ids are hash positions), so the
  // accumulator of a cell a few cells ahead is prefetched: with 100k series the loop is otherwise
  // one cache miss per cell.
  constexpr std::size_t kAhead = 16;
  const auto& cells = snapshot.cells;
  for (std::size_t i = 0; i < cells.size(); ++i) {
    if (i + kAhead < cells.size() && cells[i + kAhead].series_id < into.size() &&
        into[cells[i + kAhead].series_id] != SeriesMerge::kLeftOut) {
      __builtin_prefetch(&acc[into[cells[i + kAhead].series_id]], 1);
    }
    const CellView& cell = cells[i];
    // The compact shape array, not the SeriesInfo: this loop runs once per cell of every writer.
    const std::uint32_t shape = catalog.cell_shape(cell.series_id);
    if (shape == 0 || cell.series_id >= into.size() || into[cell.series_id] == SeriesMerge::kLeftOut) continue;
    const std::uint32_t target = into[cell.series_id];
    Accumulator& a = acc[target];
    const std::uint64_t* w = snapshot.words.data() + cell.first_word;
    switch (static_cast<MetricType>(shape >> 16)) {
      case MetricType::counter:
        a.counter += w[0];
        a.recorded = true;
        break;
      case MetricType::histogram: {
        const std::uint32_t bucket_count = (shape & 0xffff) - 1;
        if (a.buckets_at == 0) {
          a.buckets_at = static_cast<std::uint32_t>(out.buckets.size()) + 1;
          out.buckets.resize(out.buckets.size() + bucket_count, 0);
        }
        a.sum += w[0];
        std::uint64_t* b = out.buckets.data() + (a.buckets_at - 1);
        for (std::uint32_t k = 0; k < bucket_count; ++k) b[k] += w[1 + k];
        a.recorded = true;
        break;
      }
      case MetricType::gauge: {
        if (cell.writer == kRetiredWriter) break;
        const WriterInfo& writer = snapshot.writers[static_cast<std::size_t>(cell.writer)];
        // A dead process's levels are meaningless: dropped, never folded.
        if (!writer.alive || writer.state != SlotState::active) break;
        // The exposed family's mode: merged entries combine as one series.
        const FamilyInfo& family = *catalog.family(merge.family_into[catalog.series(cell.series_id)->family_id]);
        const double value = std::bit_cast<double>(w[0]);
        if (family.gauge_mode == GaugeMode::per_writer) per_writer[target][writer.pid] += value;
        fold_gauge(a, family.gauge_mode, value, w[1]);
        break;
      }
    }
  }

  out.points.reserve(order.size());
  for (std::size_t i = 0; i < order.size(); ++i) {
    if (i + kAhead < order.size()) {
      __builtin_prefetch(&acc[order[i + kAhead]]);
      __builtin_prefetch(catalog.series(order[i + kAhead]));
    }
    const std::uint32_t id = order[i];
    const SeriesInfo& series = *catalog.series(id);
    if (!snapshot.copied(series.family_id)) continue;
    const FamilyInfo& family = *catalog.family(merge.family_into[series.family_id]);
    const Accumulator& a = acc[id];
    if (series.overflow && !a.recorded) continue;
    Point p{&family, &series};
    p.recorded = a.recorded;
    switch (family.type) {
      case MetricType::counter: p.counter = a.counter; break;
      case MetricType::gauge:
        p.gauge = family.gauge_mode == GaugeMode::last && a.last_stamp == 0 ? a.gauge_sum : a.gauge;
        break;
      case MetricType::histogram: {
        std::uint32_t at = a.buckets_at;
        if (at == 0) {  // registered, never recorded: all-zero buckets
          at = static_cast<std::uint32_t>(out.buckets.size()) + 1;
          out.buckets.resize(out.buckets.size() + family.bucket_count, 0);
        }
        p.buckets_at = at - 1;
        p.sum = a.sum;
        for (std::uint64_t c : out.buckets_of(p)) p.count += c;
        break;
      }
    }
    if (family.type == MetricType::gauge && family.gauge_mode == GaugeMode::per_writer) {
      if (auto it = per_writer.find(id); it != per_writer.end()) {
        for (const auto& [pid, value] : it->second) {
          Point w = p;
          w.worker = pid;
          w.gauge = value;
          out.points.push_back(w);
        }
      }
      continue;
    }
    out.points.push_back(p);
  }
  return out;
}

}  // namespace wsm::shm

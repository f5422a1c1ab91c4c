#include "series_totals.hpp"

#include <algorithm>
#include <bit>

namespace wsm::shm {

void SeriesTotals::lay_out(const CatalogView& catalog, const SeriesMerge& merge) {
  merge_ = &merge;
  into_ = &merge.series_into;
  const std::size_t n = merge.order.size();
  counts_dropped_ = recorded_dropped_ = false;
  recorded_.assign(n, 0);
  slot_at_.assign(n, 0);
  gauges_.clear();
  // One walk hands out the slots; the bucket totals are then sized once, where growing them per
  // histogram copied them over and over.
  std::size_t count_words = n;  // the values first
  for (std::size_t position = 0; position < n; ++position) {
    const FamilyInfo* family = catalog.family(exposed_family(catalog, merge.order[position]));
    if (family->type == MetricType::histogram) {
      slot_at_[position] = static_cast<std::uint32_t>(count_words);
      count_words += family->bucket_count;
    } else if (family->type == MetricType::gauge) {
      slot_at_[position] = static_cast<std::uint32_t>(gauges_.size());
      gauges_.push_back({family->gauge_mode});
    }
  }
  counts_.assign(count_words, 0);
  // Grown by doubling, the gauge slots kept up to twice their room (~0.3 MB at 100k series) for as
  // long as the lay-out lives.
  gauges_.shrink_to_fit();
  slot_of_ = slot_at_.data();
  count_words_ = count_words;
}

void SeriesTotals::lay_out_counts_like(const SeriesTotals& full) {
  merge_ = full.merge_;
  into_ = full.into_;
  counts_dropped_ = recorded_dropped_ = false;
  recorded_.assign(full.recorded_.size(), 0);
  counts_.assign(full.count_words_, 0);
  count_words_ = full.count_words_;
  slot_of_ = full.slot_of_;
  // Nothing of a full lay-out: no gauge may be added here, nor may this emit().
  slot_at_ = {};
  gauges_ = {};
}

namespace {
// Zeroes v unless its pages were dropped since (they read as zero then); either way it is in use.
template <class T>
void zero(ScratchVector<T>& v, bool& dropped) {
  if (!dropped) std::fill(v.begin(), v.end(), T{0});
  dropped = false;
}
}  // namespace

void SeriesTotals::clear() {
  zero(counts_, counts_dropped_);
  zero(recorded_, recorded_dropped_);
  for (GaugeTotal& g : gauges_) g = GaugeTotal{g.mode};
  per_writer_.clear();
  exemplars_.clear();
}

void SeriesTotals::release_pages() noexcept {
  counts_dropped_ |= shm::release_pages(counts_);
  recorded_dropped_ |= shm::release_pages(recorded_);
}

void SeriesTotals::lend(Aggregation& out) {
  out.points.clear();
  out.exemplars.clear();
  out.buckets.swap(counts_);
  counts_.clear();  // empty until reclaim() or lay_out(): never a stale size
  out.left_out = merge_->left_out;
  out.merged_entries = merge_->merged;
}

void SeriesTotals::add_exemplar(std::uint32_t target, const ExemplarData& e) {
  // The most recent, whichever order the writers were read in (Tally's helper thread, slot order).
  auto [it, added] = exemplars_.try_emplace(target, e);
  if (!added && more_recent(e, it->second)) it->second = e;
}

void SeriesTotals::add_gauge(std::uint32_t target, std::uint64_t value_bits, std::uint64_t stamp,
                             pid_t pid) {
  GaugeTotal& g = gauges_[slot_at_[target]];
  const double value = std::bit_cast<double>(value_bits);
  // The exposed family's mode: merged entries combine as one series.
  switch (g.mode) {
    case GaugeMode::sum: g.value += value; break;
    case GaugeMode::max: g.value = g.recorded ? std::max(g.value, value) : value; break;
    case GaugeMode::min: g.value = g.recorded ? std::min(g.value, value) : value; break;
    case GaugeMode::last:
      g.sum += value;
      if (stamp >= g.last_stamp) {
        g.last_stamp = stamp;
        g.value = value;
      }
      break;
    case GaugeMode::per_writer: per_writer_[target][pid] += value; break;
  }
  g.recorded = true;
  recorded_[target] = 1;
}

void SeriesTotals::subtract_word(std::uint32_t target, std::uint32_t k, std::uint64_t value) noexcept {
  counts_[k == 0 ? target : slot_of_[target] + k - 1] -= value;
}

void SeriesTotals::add_counts_of(const SeriesTotals& other) {
  for (std::size_t i = 0; i < counts_.size(); ++i) counts_[i] += other.counts_[i];
  for (std::size_t i = 0; i < recorded_.size(); ++i) recorded_[i] |= other.recorded_[i];
  for (const auto& [target, e] : other.exemplars_) add_exemplar(target, e);
}

void SeriesTotals::emit_point(const FamilyInfo& family, const SeriesInfo& series, std::size_t position,
                              Aggregation& out) const {
  const bool recorded = recorded_[position] != 0;
  // An overflow series appears once something lands in it.
  if (merge_->order_overflow[position] && !recorded) return;
  std::uint32_t exemplar = Point::kNoExemplar;
  // Most scrapes carry no exemplar at all: then no hash and bucket division per point.
  if (auto it = exemplars_.empty() ? exemplars_.end() : exemplars_.find(static_cast<std::uint32_t>(position));
      it != exemplars_.end()) {
    exemplar = static_cast<std::uint32_t>(out.exemplars.size());
    out.exemplars.push_back(it->second);
  }
  // Each point is filled where it lies in the part: a Point built aside and pushed was stored field
  // by field and read back in 16-byte words, a store-forwarding stall per word (emit_point went
  // from 15.5% to 7.8% of a 100k-series text scrape's perf samples).
  const auto place = [&]() -> Point& {
    Point& p = out.points.emplace_back(&family, &series, series.labels);
    p.recorded = recorded;
    p.exemplar = exemplar;
    return p;
  };
  if (family.type == MetricType::gauge && family.gauge_mode == GaugeMode::per_writer) {
    if (auto it = per_writer_.find(static_cast<std::uint32_t>(position)); it != per_writer_.end()) {
      for (const auto& [pid, value] : it->second) {
        Point& w = place();
        w.worker = pid;
        w.gauge = value;
      }
    }
    return;
  }
  Point& p = place();
  switch (family.type) {
    case MetricType::counter: p.counter = out.buckets[position]; break;  // the lent counts: its value
    case MetricType::gauge: {
      const GaugeTotal& g = gauges_[slot_at_[position]];
      p.gauge = family.gauge_mode == GaugeMode::last && g.last_stamp == 0 ? g.sum : g.value;
      break;
    }
    case MetricType::histogram: {
      p.buckets_at = slot_at_[position];
      p.sum = out.buckets[position];
      std::uint64_t count = 0;  // in a register: p may alias the buckets for all the compiler knows
      for (const std::uint64_t c : out.buckets_of(p)) count += c;
      p.count = count;
      break;
    }
  }
}

}  // namespace wsm::shm
